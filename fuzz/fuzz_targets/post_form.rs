//! Fuzz target `post_form`: the S3 endpoint's POST form parser and policy evaluation on
//! arbitrary bodies with arbitrary boundaries, delivered in arbitrary chunk sizes.
//!
//! Input layout (the seeds in `fuzz/seeds/post_form/` follow it): byte 0 modulo 71 is the
//! boundary's length, byte 1 the chunk size the body arrives in (1 to 256), then the boundary,
//! then the body. Checked: no panic; the fields kept never exceed the cap; the file written
//! never exceeds its cap; a policy is only accepted if it decodes and every field it lets
//! through is named by a condition or exempt.

#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vetted_core::Timestamp;
use vetted_s3_endpoint::form::{FormLimits, read_until_file};
use vetted_s3_endpoint::post_policy::{Condition, PostPolicy, is_exempt};

const FILE_CAP: u64 = 64 * 1024;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fn limits() -> FormLimits {
    // Smaller than production, so that the fuzzer reaches the limits often.
    FormLimits {
        max_field_bytes: 4096,
        max_fields: 16,
        max_wire_bytes_before_file: 16 * 1024,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let boundary_len = usize::from(data[0] % 71).min(data.len() - 2);
    let chunk = usize::from(data[1]) + 1;
    let (boundary, body) = data[2..].split_at(boundary_len);
    let content_type = format!(
        "multipart/form-data; boundary={}",
        String::from_utf8_lossy(boundary)
    );
    let pieces: Vec<Result<Bytes, Infallible>> = body
        .chunks(chunk)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    runtime().block_on(async move {
        let limits = limits();
        let Ok((fields, file)) = read_until_file(
            futures_util::stream::iter(pieces),
            Some(&content_type),
            limits,
        )
        .await
        else {
            return;
        };
        let kept: usize = fields
            .names()
            .map(|name| name.len() + fields.get(name).map_or(0, str::len))
            .sum();
        assert!(
            kept <= limits.max_field_bytes,
            "kept {kept} bytes of fields"
        );
        assert!(fields.names().count() <= limits.max_fields);

        if let Some(encoded) = fields.get("policy")
            && let Ok(policy) = PostPolicy::decode(encoded)
        {
            let now = Timestamp::from_unix_millis(1_800_000_000_000);
            if let Ok(range) = policy.evaluate(&fields, "vetted-uploads", now) {
                assert!(now <= policy.expiration);
                for name in fields.names() {
                    let named = policy.conditions.iter().any(|c| match c {
                        Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => {
                            field == name
                        }
                        Condition::ContentLengthRange { .. } => false,
                    });
                    assert!(named || is_exempt(name), "field {name} slipped through");
                }
                if let Some(max) = range.max {
                    assert!(range.min <= max || policy.conditions.len() > 1);
                }
            }
        }

        let mut sink = Vec::new();
        if let Ok(copied) = file.copy_to(&mut sink, FILE_CAP).await {
            assert_eq!(copied.size, sink.len() as u64);
        }
        assert!(sink.len() as u64 <= FILE_CAP);
    });
});
