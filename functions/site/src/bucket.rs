//! The site bucket through S3: make it hold exactly the site's objects, or nothing.

use std::collections::BTreeSet;

use anyhow::Context;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::objects::SiteObject;

/// What a pass changed, for the answer to CloudFormation and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Changes {
    pub put: usize,
    pub removed: usize,
}

/// Puts every object, then removes every key that is not one of them (a file gone from
/// `web/`), so the bucket holds exactly this build's site.
pub async fn publish(s3: &Client, bucket: &str, objects: &[SiteObject]) -> anyhow::Result<Changes> {
    for object in objects {
        s3.put_object()
            .bucket(bucket)
            .key(&object.key)
            .content_type(object.content_type)
            .cache_control(object.cache_control)
            .body(ByteStream::from_static(object.body.as_bytes()))
            .send()
            .await
            .with_context(|| format!("put s3://{bucket}/{}", object.key))?;
    }
    let wanted: BTreeSet<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    let stale: Vec<String> = keys(s3, bucket)
        .await?
        .unwrap_or_default()
        .into_iter()
        .filter(|key| !wanted.contains(key.as_str()))
        .collect();
    remove(s3, bucket, &stale).await?;
    Ok(Changes {
        put: objects.len(),
        removed: stale.len(),
    })
}

/// Removes every object. A bucket that no longer exists is already empty.
pub async fn empty(s3: &Client, bucket: &str) -> anyhow::Result<Changes> {
    let Some(all) = keys(s3, bucket).await? else {
        return Ok(Changes::default());
    };
    remove(s3, bucket, &all).await?;
    Ok(Changes {
        put: 0,
        removed: all.len(),
    })
}

async fn remove(s3: &Client, bucket: &str, keys: &[String]) -> anyhow::Result<()> {
    for key in keys {
        s3.delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .with_context(|| format!("delete s3://{bucket}/{key}"))?;
    }
    Ok(())
}

/// Every key in the bucket, or `None` if there is no such bucket.
async fn keys(s3: &Client, bucket: &str) -> anyhow::Result<Option<Vec<String>>> {
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_bucket()) => {
                return Ok(None);
            }
            Err(e) => return Err(e).with_context(|| format!("list s3://{bucket}")),
        };
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(Some(keys))
}
