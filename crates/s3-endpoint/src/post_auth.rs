//! Verifying a POST form's SigV4 signature: `x-amz-signature` must be the HMAC of the
//! `policy` field (the base64 text, as sent) under the signing key of `x-amz-credential`.

use super::Credentials;
use super::errors::{S3Error, S3ErrorCode};
use super::form::FormFields;
use super::sigv4::{self, ALGORITHM, CredentialScope};

fn must_contain(field: &str) -> S3Error {
    S3Error::invalid_argument(format!(
        "Bucket POST must contain a field named '{field}'.  If it is specified, please check the order of the fields."
    ))
    .with("ArgumentName", field)
}

/// Checks the form's signature fields; returns the access key id that signed.
pub fn verify_post_signature(
    fields: &FormFields,
    credentials: &Credentials,
    region: &str,
) -> Result<String, S3Error> {
    if fields.get("awsaccesskeyid").is_some() || fields.get("signature").is_some() {
        return Err(S3Error::invalid_argument(
            "Signature Version 2 POST forms are not supported; sign with AWS4-HMAC-SHA256.",
        ));
    }
    let auth_fields = [
        "policy",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-algorithm",
        "x-amz-date",
    ];
    if auth_fields.iter().all(|name| fields.get(name).is_none()) {
        return Err(S3Error::access_denied(
            "Anonymous POST is not allowed: the form must carry a signed policy.",
        ));
    }
    let field = |name: &'static str| fields.get(name).ok_or_else(|| must_contain(name));
    let policy = field("policy")?;
    let algorithm = field("x-amz-algorithm")?;
    let credential = field("x-amz-credential")?;
    let amz_date = field("x-amz-date")?;
    let provided = field("x-amz-signature")?;

    if algorithm != ALGORITHM {
        return Err(S3Error::invalid_argument(
            "x-amz-algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let scope = CredentialScope::parse(credential).map_err(|e| {
        S3Error::invalid_argument(format!("Error parsing the X-Amz-Credential parameter; {e}"))
    })?;
    if scope.region != region {
        return Err(S3Error::invalid_argument(format!(
            "Error parsing the X-Amz-Credential parameter; the region '{}' is wrong; expecting '{region}'",
            scope.region
        ))
        .with("Region", region));
    }
    if sigv4::parse_amz_date(amz_date).is_none() {
        return Err(S3Error::invalid_argument(
            "x-amz-date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        ));
    }
    if !amz_date.starts_with(&scope.date) {
        return Err(S3Error::invalid_argument(
            "The date in x-amz-credential does not match x-amz-date.",
        ));
    }
    if scope.access_key_id != credentials.access_key_id {
        return Err(S3Error::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .with("AWSAccessKeyId", scope.access_key_id));
    }
    let key = sigv4::signing_key(
        &credentials.secret_access_key,
        &scope.date,
        &scope.region,
        &scope.service,
    );
    let expected = sigv4::signature(&key, policy);
    if !sigv4::constant_time_eq(&expected, provided) {
        return Err(S3Error::new(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with("AWSAccessKeyId", scope.access_key_id)
        .with("StringToSign", policy)
        .with("SignatureProvided", provided));
    }
    if fields.get("x-amz-security-token").is_some() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidToken,
            "The provided token is malformed or otherwise invalid: this endpoint has no session credentials.",
        ));
    }
    Ok(scope.access_key_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "secret/key";

    fn credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDPOST".to_owned(),
            secret_access_key: SECRET.to_owned(),
        }
    }

    /// Signs with `aws-sigv4`'s HMAC chain, an implementation independent of ours.
    fn form(policy: &str, secret: &str, extra: &[(&str, &str)]) -> FormFields {
        use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
        use std::time::{Duration, UNIX_EPOCH};
        let at = UNIX_EPOCH + Duration::from_secs(1_893_456_000); // 2030-01-01
        let key = generate_signing_key(secret, at, "us-east-1", "s3");
        let signature = calculate_signature(key, policy.as_bytes());
        let mut fields = FormFields::default();
        for (name, value) in [
            ("policy", policy),
            ("x-amz-algorithm", ALGORITHM),
            (
                "x-amz-credential",
                "AKIDPOST/20300101/us-east-1/s3/aws4_request",
            ),
            ("x-amz-date", "20300101T000000Z"),
            ("x-amz-signature", &signature),
        ] {
            fields.insert(name, value.to_owned()).unwrap();
        }
        for (name, value) in extra {
            fields.insert(name, (*value).to_owned()).unwrap();
        }
        fields
    }

    fn code(fields: &FormFields) -> S3ErrorCode {
        verify_post_signature(fields, &credentials(), "us-east-1")
            .unwrap_err()
            .code
    }

    #[test]
    fn accepts_the_signature_of_the_policy_text() {
        let fields = form("eyJhIjoxfQ==", SECRET, &[]);
        assert_eq!(
            verify_post_signature(&fields, &credentials(), "us-east-1").unwrap(),
            "AKIDPOST"
        );
    }

    #[test]
    fn refuses_wrong_secrets_keys_regions_and_missing_fields() {
        assert_eq!(
            code(&form("eyJhIjoxfQ==", "other", &[])),
            S3ErrorCode::SignatureDoesNotMatch
        );
        let mut tampered = FormFields::default();
        let signed = form("eyJhIjoxfQ==", SECRET, &[]);
        for name in signed.names() {
            let value = if name == "policy" {
                "eyJhIjoyfQ=="
            } else {
                signed.get(name).unwrap()
            };
            tampered.insert(name, value.to_owned()).unwrap();
        }
        assert_eq!(code(&tampered), S3ErrorCode::SignatureDoesNotMatch);
        assert_eq!(code(&FormFields::default()), S3ErrorCode::AccessDenied);
        let mut partial = FormFields::default();
        partial.insert("policy", "x".to_owned()).unwrap();
        let error = verify_post_signature(&partial, &credentials(), "us-east-1").unwrap_err();
        assert_eq!(error.code, S3ErrorCode::InvalidArgument);
        assert_eq!(error.detail("ArgumentName"), Some("x-amz-algorithm"));
        assert_eq!(
            verify_post_signature(&form("p", SECRET, &[]), &credentials(), "eu-west-1")
                .unwrap_err()
                .code,
            S3ErrorCode::InvalidArgument
        );
        let other_key = Credentials {
            access_key_id: "AKIDOTHER".to_owned(),
            secret_access_key: SECRET.to_owned(),
        };
        assert_eq!(
            verify_post_signature(&form("p", SECRET, &[]), &other_key, "us-east-1")
                .unwrap_err()
                .code,
            S3ErrorCode::InvalidAccessKeyId
        );
        assert_eq!(
            code(&form("p", SECRET, &[("AWSAccessKeyId", "AKIDPOST")])),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(&form("p", SECRET, &[("x-amz-security-token", "t")])),
            S3ErrorCode::InvalidToken
        );
    }
}
