//! Writes the POST policy document: compact JSON, conditions in the order of the form fields.
//!
//! Written by hand rather than through a serializer because it is on the hot path of every
//! upload request and its shape is fixed; every string still goes through [`push_json_string`].

use crate::time::Timestamp;

/// `{"expiration": ..., "conditions": [{"bucket"}, one exact-match condition per form field,
/// with the content-length-range right after Content-Type]}`.
pub(super) fn document(
    expires_at: &Timestamp,
    bucket: &str,
    fields: &[(String, String)],
    min_bytes: u64,
    max_bytes: u64,
) -> String {
    let mut out = String::with_capacity(512 + fields.iter().map(|(_, v)| v.len()).sum::<usize>());
    out.push_str("{\"expiration\":");
    push_json_string(&mut out, &expires_at.to_rfc3339());
    out.push_str(",\"conditions\":[");
    push_exact(&mut out, "bucket", bucket);
    for (name, value) in fields {
        out.push(',');
        push_exact(&mut out, name, value);
        if name == "Content-Type" {
            out.push_str(",[\"content-length-range\",");
            out.push_str(&min_bytes.to_string());
            out.push(',');
            out.push_str(&max_bytes.to_string());
            out.push(']');
        }
    }
    out.push_str("]}");
    out
}

/// `{"name":"value"}`: an exact match, the only kind of condition Vetted issues.
fn push_exact(out: &mut String, name: &str, value: &str) {
    out.push('{');
    push_json_string(out, name);
    out.push(':');
    push_json_string(out, value);
    out.push('}');
}

/// A JSON string literal, escaped per RFC 8259.
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    // Keys, ids, dates and tokens never need escaping: copy them whole.
    if !value.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(value);
        out.push('"');
        return;
    }
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_so_the_document_stays_json() {
        let fields = vec![("x-amz-meta-note".to_owned(), "a\"b\\c\n\u{1}".to_owned())];
        let doc = document(&Timestamp::from_unix_millis(0), "b", &fields, 1, 2);
        let parsed: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(parsed["conditions"][1]["x-amz-meta-note"], "a\"b\\c\n\u{1}");
        assert_eq!(parsed["expiration"], "1970-01-01T00:00:00.000Z");
    }
}
