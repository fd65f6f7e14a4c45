//! POST object: a browser form with a signed policy, the file last.
//!
//! Order: the fields are read (capped), then the key is required, the signature verified,
//! the policy decoded and evaluated (expiry, every condition, no unnamed field), the key
//! checked; only then is the file streamed to a spool file under the policy's
//! `content-length-range` (and the configured ceiling), its pinned SHA-256 (if a field gives
//! one) and its minimum checked, and committed.

use axum::body::Body;
use axum::response::Response;
use http::header::{CONTENT_TYPE, ETAG, LOCATION};
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use super::S3Endpoint;
use super::checksum;
use super::commit::{Commit, quoted_etag};
use super::errors::{S3Error, S3ErrorCode, push_element};
use super::events::CreatedBy;
use super::form::{FormFields, read_until_file};
use super::post_auth::verify_post_signature;
use super::post_policy::PostPolicy;
use super::put::DEFAULT_CONTENT_TYPE;
use super::request::{RequestContext, check_query, writable_key};
use super::sigv4::uri_encode;
use super::spool::Spool;

pub async fn post_object(
    endpoint: &S3Endpoint,
    context: &RequestContext,
    parts: &Parts,
    body: Body,
) -> Result<Response, S3Error> {
    check_query(context, false)?;
    let config = &endpoint.config;
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let (fields, mut file) =
        read_until_file(body.into_data_stream(), content_type, config.form_limits).await?;

    let raw_key = fields.get("key").ok_or_else(|| {
        S3Error::invalid_argument(
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
        )
        .with("ArgumentName", "key")
    })?;
    verify_post_signature(&fields, &config.credentials, &config.region)?;
    let policy = PostPolicy::decode(fields.get("policy").unwrap_or_default())?;
    let range = policy.evaluate(&fields, &config.bucket, endpoint.now())?;
    if raw_key.contains("${filename}") {
        return Err(S3Error::invalid_argument(
            "The ${filename} key substitution is not supported by this endpoint.",
        ));
    }
    let key = writable_key(raw_key)?;
    let pinned = checksum::pinned_in_form(&fields)?;

    let cap = range.max.map_or(config.max_object_bytes, |max| {
        max.min(config.max_object_bytes)
    });
    let mut spool = Spool::create(&config.spool_dir, cap, pinned.is_some()).await?;
    // The spool enforces the cap and hashes as it writes.
    while let Some(chunk) = file.next_chunk().await? {
        spool.write(&chunk).await?;
    }
    let spooled = spool.finish().await?;
    if let Some(pinned) = &pinned {
        checksum::check_pinned(&spooled, pinned)?;
    }
    if spooled.size < range.min {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size",
        )
        .with("ProposedSize", spooled.size.to_string())
        .with("MinSizeAllowed", range.min.to_string()));
    }

    let stored_type = fields
        .get("content-type")
        .unwrap_or(DEFAULT_CONTENT_TYPE)
        .to_owned();
    let meta = endpoint
        .commit(
            Commit {
                key: &key,
                content_type: &stored_type,
                only_if_absent: false,
                created_by: CreatedBy::Post,
            },
            spooled,
            context,
        )
        .await?;
    Ok(success(
        endpoint,
        &fields,
        key.as_str(),
        &quoted_etag(&meta.etag),
    ))
}

/// The response S3 sends after a POST: a 303 to `success_action_redirect` if one was given,
/// else `success_action_status` (200, 201 with a `PostResponse` document, or the default 204).
fn success(endpoint: &S3Endpoint, fields: &FormFields, key: &str, etag: &str) -> Response {
    let config = &endpoint.config;
    let location = format!(
        "{}{}/{}/{}",
        config.public_origin,
        config.mount_path,
        config.bucket,
        uri_encode(key, true)
    );
    let redirect = fields
        .get("success_action_redirect")
        .or_else(|| fields.get("redirect"))
        .filter(|url| url.starts_with("http://") || url.starts_with("https://"));
    let mut response = if let Some(url) = redirect {
        let separator = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{separator}bucket={}&key={}&etag={}",
            uri_encode(&config.bucket, false),
            uri_encode(key, false),
            uri_encode(etag, false)
        );
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(value) = HeaderValue::from_str(&target) {
            response.headers_mut().insert(LOCATION, value);
        }
        response
    } else {
        match fields.get("success_action_status") {
            Some("201") => {
                let mut xml =
                    String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse>");
                push_element(&mut xml, "Location", &location);
                push_element(&mut xml, "Bucket", &config.bucket);
                push_element(&mut xml, "Key", key);
                push_element(&mut xml, "ETag", etag);
                xml.push_str("</PostResponse>");
                let mut response = Response::new(Body::from(xml));
                *response.status_mut() = StatusCode::CREATED;
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
                response
            }
            Some("200") => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::OK;
                response
            }
            _ => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            }
        }
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    if !headers.contains_key(LOCATION)
        && let Ok(value) = HeaderValue::from_str(&location)
    {
        headers.insert(LOCATION, value);
    }
    response
}
