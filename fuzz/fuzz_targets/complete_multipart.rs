//! Fuzz target `complete_multipart`: the upload endpoint's parser of CompleteMultipartUpload
//! bodies on arbitrary bytes. Checked: no panic, and a parse that succeeds never lists more
//! parts than S3 allows, each with an ETag no longer than the body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vetted_s3_endpoint::multipart::{MAX_PART_NUMBER, parse_complete};

fuzz_target!(|body: &[u8]| {
    if let Ok(parts) = parse_complete(body) {
        assert!(parts.len() <= MAX_PART_NUMBER as usize);
        for (_, etag) in &parts {
            assert!(etag.len() <= body.len());
        }
    }
});
