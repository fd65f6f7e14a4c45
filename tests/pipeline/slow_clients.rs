//! A slow or stalled client cannot hold `vetted serve` (`[http]` limits,
//! `app/src/serve/listen.rs`): a connection that sends half a request head, and one that
//! stops in the middle of a body, are both closed within the configured timeouts, and the
//! server answers others throughout.
//!
//! The timeouts are set to 1 s; each wait below is bounded at [`BOUND`] so that a server
//! that never closes fails the test instead of hanging it. The bound is a fail-safe, not a
//! measurement: what each close took is printed.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::client::Api;
use crate::support::server::{ServeSettings, Server};

const BOUND: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_head_and_a_stalled_body_are_closed_while_others_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "[http]\nheader_timeout_seconds = 1\nbody_stall_timeout_seconds = 1\n",
    )
    .unwrap();
    let server = Server::start(ServeSettings {
        config: Some(config),
        ..ServeSettings::unscanned(dir.path().join("data"))
    })
    .await;
    let owner = server.token("owner-slow", "owner");

    // Half a request head, then nothing more.
    let mut dripping = TcpStream::connect(server.addr).await.unwrap();
    dripping
        .write_all(b"GET /api/policy HTTP/1.1\r\nHost: vetted\r\n")
        .await
        .unwrap();
    // A whole head announcing 1000 bytes of body, then 14 of them and nothing more.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/uploads HTTP/1.1\r\nHost: vetted\r\nAuthorization: Bearer {owner}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"restaurant\""
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();

    // The server answers others while both are held.
    let api = Api::new();
    let answered = tokio::spawn({
        let base = server.base.clone();
        let owner = owner.clone();
        async move {
            let mut answered = 0;
            while answered < 5 {
                let response = api
                    .http()
                    .get(format!("{base}/api/policy"))
                    .bearer_auth(&owner)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                answered += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            answered
        }
    });

    let (dripping_answer, dripping_took) = read_until_closed(&mut dripping).await;
    let (stalled_answer, stalled_took) = read_until_closed(&mut stalled).await;
    assert_eq!(answered.await.unwrap(), 5);
    println!(
        "closed after {dripping_took:?} (half a head) and {stalled_took:?} (stalled body); \
         both connected {:?} ago",
        started.elapsed()
    );
    // hyper closes a connection whose head timed out without answering, or with a 408.
    assert!(
        dripping_answer.is_empty() || dripping_answer.starts_with("HTTP/1.1 408"),
        "{dripping_answer}"
    );
    assert!(
        stalled_answer.starts_with("HTTP/1.1 400"),
        "a stalled body is answered 400 incomplete_body: {stalled_answer}"
    );
    assert!(
        stalled_answer.contains("\"reason\":\"incomplete_body\""),
        "{stalled_answer}"
    );
    server.stop().await;
}

/// Everything the server sends until it closes the connection, and how long that took;
/// panics if it has not closed within [`BOUND`].
async fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let closed = tokio::time::timeout(BOUND, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server kept the connection open for {BOUND:?}; it sent: {}",
        String::from_utf8_lossy(&received)
    );
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}
