//! `ClamdScanner` against a real clamd (Debian's `clamav-daemon`) with a test-written
//! signature: every outcome the adapter can give, and the timeout that makes a silent
//! scanner an `error`.

use std::time::Duration;

use bytes::Bytes;
use tokio::net::UnixListener;
use vetted_clamd::ClamdScanner;
use vetted_clamd::test_daemon::{TEST_MARKER, TEST_SIGNATURE, TEST_STREAM_MAX_BYTES, TestClamd};
use vetted_core::ports::{ScanOutcome, Scanner};
use vetted_core::review::scan::ClamdAddress;

const GENEROUS: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_real_clamd_says_clean_infected_and_unsupported() {
    let clamd = TestClamd::start().await;
    let scanner = clamd.scanner(GENEROUS);

    let clean = Bytes::from_static(b"just some bytes, nothing to see");
    assert_eq!(scanner.scan(clean).await, ScanOutcome::Clean);

    // The marker across a chunk boundary: the signature must match the stream, not a chunk.
    let mut body = vec![b'a'; vetted_clamd::CHUNK_BYTES - 5];
    body.extend_from_slice(TEST_MARKER);
    body.extend_from_slice(b"tail");
    assert_eq!(
        scanner.scan(body.into()).await,
        ScanOutcome::Infected {
            signature: TEST_SIGNATURE.to_owned()
        }
    );

    let too_long = vec![0u8; TEST_STREAM_MAX_BYTES + 1024];
    let outcome = scanner.scan(too_long.into()).await;
    assert_eq!(outcome.kind(), "unsupported", "{outcome}");
}

#[tokio::test]
async fn a_scanner_that_never_answers_is_an_error_not_clean() {
    // Accepts and holds every connection: never reads, never replies.
    let (_dir, address) = socket_server(|listener| async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let scanner = ClamdScanner::new(address, Duration::from_millis(300));
    let outcome = scanner.scan(Bytes::from_static(b"anything")).await;
    assert!(
        matches!(&outcome, ScanOutcome::Error { why } if why.contains("did not answer")),
        "{outcome}"
    );
}

#[tokio::test]
async fn no_clamd_at_the_address_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let scanner = ClamdScanner::new(
        ClamdAddress::Unix(dir.path().join("nobody-here.sock")),
        GENEROUS,
    );
    assert_eq!(scanner.scan(Bytes::from_static(b"x")).await.kind(), "error");
    let tcp = ClamdScanner::new(ClamdAddress::Tcp("127.0.0.1:1".to_owned()), GENEROUS);
    assert_eq!(tcp.scan(Bytes::from_static(b"x")).await.kind(), "error");
}

/// What clamd does with an oversized stream, made deterministic: answer, then close with the
/// client's bytes still unread. Linux reports that close as a reset on the next read, so a
/// client that reads past the answer's NUL loses it (as one CI run did against the real clamd).
#[tokio::test]
async fn an_answer_followed_by_a_close_over_unread_input_is_still_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (_dir, address) = socket_server(|listener| async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut command_length_and_one_byte = [0u8; 10 + 4 + 1];
        stream
            .read_exact(&mut command_length_and_one_byte)
            .await
            .unwrap();
        stream
            .write_all(b"INSTREAM size limit exceeded. ERROR\0")
            .await
            .unwrap();
        // Dropped with the rest of the first chunk unread.
    });
    let scanner = ClamdScanner::new(address, GENEROUS);
    let outcome = scanner
        .scan(vec![0u8; 4 * vetted_clamd::CHUNK_BYTES].into())
        .await;
    assert_eq!(outcome.kind(), "unsupported", "{outcome}");
}

/// A stand-in for clamd: `serve` runs on a Unix socket in a fresh directory, which lasts as
/// long as the returned guard.
fn socket_server<F, Serving>(serve: F) -> (tempfile::TempDir, ClamdAddress)
where
    F: FnOnce(UnixListener) -> Serving,
    Serving: std::future::Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("clamd.sock");
    let listener = UnixListener::bind(&path).expect("a Unix socket in a fresh directory");
    tokio::spawn(serve(listener));
    (dir, ClamdAddress::Unix(path))
}
