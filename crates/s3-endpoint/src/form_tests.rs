//! Unit tests of the form parser: well-formed forms in any chunking, and the malformed, huge
//! and out-of-order forms a hostile client can send.

use std::convert::Infallible;

use futures_util::stream;

use super::*;

const BOUNDARY: &str = "----vettedBoundary7MA4YWxkTrZu0gW";

fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

fn field(name: &str, value: &str) -> Vec<u8> {
    format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
        .into_bytes()
}

fn file(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut part = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    part.extend_from_slice(bytes);
    part.extend_from_slice(b"\r\n");
    part
}

fn end() -> Vec<u8> {
    format!("--{BOUNDARY}--\r\n").into_bytes()
}

fn body(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The body as a stream of `chunk`-byte pieces.
fn chunked(
    body: Vec<u8>,
    chunk: usize,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + Unpin + 'static {
    let pieces: Vec<Result<Bytes, Infallible>> = body
        .chunks(chunk.max(1))
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    stream::iter(pieces)
}

async fn parse(body: Vec<u8>, chunk: usize) -> Result<(FormFields, FilePart), S3Error> {
    read_until_file(
        chunked(body, chunk),
        Some(&content_type()),
        FormLimits::default(),
    )
    .await
}

async fn parse_and_copy(
    body: Vec<u8>,
    chunk: usize,
    max: u64,
) -> Result<(FormFields, Vec<u8>), S3Error> {
    let (fields, file) = parse(body, chunk).await?;
    let mut sink = Vec::new();
    let copied = file.copy_to(&mut sink, max).await?;
    assert_eq!(copied.size, sink.len() as u64);
    Ok((fields, sink))
}

fn png_bytes() -> Vec<u8> {
    // Contains CR LF and dashes, so the parser must not stop at a near-boundary.
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(format!("\r\n--{}", &BOUNDARY[..10]).as_bytes());
    bytes.extend((0..=255u8).cycle().take(5000));
    bytes
}

#[tokio::test]
async fn parses_fields_then_streams_the_file_whatever_the_chunking() {
    let form = body(&[
        field("key", "incoming/owner-1/x"),
        field("Content-Type", "image/png"),
        field("X-Amz-Signature", "abc"),
        file("file", &png_bytes()),
        end(),
    ]);
    for chunk in [1, 2, 7, 64, 1000, form.len()] {
        let (fields, bytes) = parse_and_copy(form.clone(), chunk, 1 << 20).await.unwrap();
        assert_eq!(fields.get("KEY"), Some("incoming/owner-1/x"));
        assert_eq!(fields.get("content-type"), Some("image/png"));
        assert_eq!(
            fields.names().collect::<Vec<_>>(),
            ["key", "content-type", "x-amz-signature"]
        );
        assert_eq!(bytes, png_bytes(), "chunk size {chunk}");
    }
}

#[tokio::test]
async fn the_file_part_reports_its_filename_and_type_as_metadata() {
    let (_, part) = parse(body(&[field("key", "k"), file("FILE", b"x"), end()]), 13)
        .await
        .unwrap();
    assert_eq!(part.filename.as_deref(), Some("logo.png"));
    assert_eq!(part.content_type.as_deref(), Some("image/png"));
}

#[tokio::test]
async fn fields_after_the_file_are_ignored() {
    let form = body(&[
        field("key", "k"),
        file("file", b"hello"),
        field("Content-Type", "text/html"),
        field("key", "other"),
        end(),
    ]);
    let (fields, bytes) = parse_and_copy(form, 5, 100).await.unwrap();
    assert_eq!(fields.get("content-type"), None);
    assert_eq!(fields.get("key"), Some("k"));
    assert_eq!(bytes, b"hello");
}

#[tokio::test]
async fn duplicate_fields_are_refused_whatever_their_case() {
    let form = body(&[
        field("key", "a"),
        field("Key", "b"),
        file("file", b"x"),
        end(),
    ]);
    let error = parse(form, 100).await.unwrap_err();
    assert_eq!(error.code, S3ErrorCode::InvalidArgument);
    assert!(error.message.contains("'key'"));
}

#[tokio::test]
async fn a_form_without_a_file_is_refused() {
    let form = body(&[field("key", "a"), end()]);
    let error = parse(form, 100).await.unwrap_err();
    assert_eq!(error.code, S3ErrorCode::InvalidArgument);
    assert!(error.message.contains("exactly one file"));
    let error = parse(end(), 100).await.unwrap_err();
    assert_eq!(error.code, S3ErrorCode::InvalidArgument);
}

#[tokio::test]
async fn a_huge_field_is_refused_before_it_is_buffered() {
    let huge = "a".repeat(70 * 1024);
    let form = body(&[field("x-amz-meta-big", &huge), file("file", b"x"), end()]);
    let error = parse(form, 4096).await.unwrap_err();
    assert_eq!(error.code, S3ErrorCode::MaxPostPreDataLengthExceeded);
}

#[tokio::test]
async fn many_small_fields_are_refused() {
    let mut parts: Vec<Vec<u8>> = (0..150)
        .map(|i| field(&format!("x-ignore-{i}"), ""))
        .collect();
    parts.push(file("file", b"x"));
    parts.push(end());
    let error = parse(body(&parts), 4096).await.unwrap_err();
    assert_eq!(error.code, S3ErrorCode::MaxPostPreDataLengthExceeded);
}

#[tokio::test]
async fn an_endless_preamble_or_part_header_is_cut_off() {
    let preamble = vec![b'z'; 3 * 1024 * 1024];
    let error = parse(preamble, 64 * 1024).await.unwrap_err();
    assert_eq!(error.code, S3ErrorCode::MaxPostPreDataLengthExceeded);

    let mut header =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ")
            .into_bytes();
    header.extend(std::iter::repeat_n(b'p', 3 * 1024 * 1024));
    let error = parse(header, 64 * 1024).await.unwrap_err();
    assert_eq!(error.code, S3ErrorCode::MaxPostPreDataLengthExceeded);
}

#[tokio::test]
async fn an_oversized_file_stops_at_the_cap() {
    let form = body(&[field("key", "k"), file("file", &[7u8; 10_000]), end()]);
    let (_, part) = parse(form, 1000).await.unwrap();
    let mut sink = Vec::new();
    let error = part.copy_to(&mut sink, 4096).await.unwrap_err();
    assert_eq!(error.code, S3ErrorCode::EntityTooLarge);
    assert_eq!(error.detail("MaxSizeAllowed"), Some("4096"));
    assert!(sink.len() <= 4096);
    // Exactly at the cap is allowed.
    let form = body(&[field("key", "k"), file("file", &[7u8; 4096]), end()]);
    let (_, bytes) = parse_and_copy(form, 1000, 4096).await.unwrap();
    assert_eq!(bytes.len(), 4096);
}

#[tokio::test]
async fn a_truncated_file_is_an_incomplete_body() {
    let mut form = body(&[field("key", "k"), file("file", &[1u8; 1000])]);
    form.truncate(form.len() - 500);
    let (_, part) = parse(form, 100).await.unwrap();
    let error = part.copy_to(&mut Vec::new(), 1 << 20).await.unwrap_err();
    assert_eq!(error.code, S3ErrorCode::IncompleteBody);
}

#[tokio::test]
async fn a_failing_connection_is_an_incomplete_body() {
    let mut pieces: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(Bytes::from(body(&[field("key", "k")])))];
    pieces.push(Err(std::io::Error::other("connection reset")));
    let error = read_until_file(
        stream::iter(pieces),
        Some(&content_type()),
        FormLimits::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, S3ErrorCode::IncompleteBody);
}

#[tokio::test]
async fn only_multipart_form_data_is_accepted() {
    for header in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
        Some("multipart/mixed; boundary=abc"),
    ] {
        let error = read_until_file(chunked(end(), 10), header, FormLimits::default())
            .await
            .unwrap_err();
        assert_eq!(error.code, S3ErrorCode::PreconditionFailed, "{header:?}");
    }
}

#[tokio::test]
async fn bad_fields_are_refused() {
    let invalid_utf8 = {
        let mut part =
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n")
                .into_bytes();
        part.extend_from_slice(b"\xff\xfe\r\n");
        part
    };
    let error = parse(body(&[invalid_utf8, file("file", b"x"), end()]), 100)
        .await
        .unwrap_err();
    assert_eq!(error.code, S3ErrorCode::InvalidArgument);

    let unnamed =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nv\r\n").into_bytes();
    let error = parse(body(&[unnamed, file("file", b"x"), end()]), 100)
        .await
        .unwrap_err();
    assert_eq!(error.code, S3ErrorCode::InvalidArgument);

    let garbage = format!("--{BOUNDARY}\r\nno colon here\r\n\r\nv\r\n").into_bytes();
    let error = parse(body(&[garbage, file("file", b"x"), end()]), 100)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.code,
            S3ErrorCode::MalformedPOSTRequest | S3ErrorCode::InvalidArgument
        ),
        "{error}"
    );
}
