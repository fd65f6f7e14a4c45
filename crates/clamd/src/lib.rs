//! [`ClamdScanner`]: the `Scanner` port over clamd's socket protocol, written by hand.
//!
//! One scan is one connection: `zINSTREAM\0`, then the file in chunks, each preceded by its
//! length as 4 bytes big-endian, then a zero length; clamd answers one NUL-terminated line:
//! `stream: OK`, `stream: NAME FOUND`, or `... ERROR`. The whole exchange, connect included,
//! runs under one timeout: past it, or on any I/O failure or unreadable answer, the outcome is
//! `Error`, never `Clean`. clamd refuses a stream longer than its `StreamMaxLength` with
//! `INSTREAM size limit exceeded. ERROR`; that is the file's size, not a broken scanner, so it
//! is `Unsupported`.

mod protocol;
pub mod test_daemon;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use vetted_core::ports::{ScanOutcome, Scanner};
use vetted_core::review::scan::ClamdAddress;

pub use protocol::{CHUNK_BYTES, parse_reply};

/// clamd at a Unix socket or a TCP address.
#[derive(Debug, Clone)]
pub struct ClamdScanner {
    address: ClamdAddress,
    timeout: Duration,
}

impl ClamdScanner {
    pub fn new(address: ClamdAddress, timeout: Duration) -> Self {
        Self { address, timeout }
    }

    /// `PING`: whether clamd answers `PONG` within the timeout.
    pub async fn ping(&self) -> Result<(), String> {
        let exchange = async {
            match &self.address {
                ClamdAddress::Unix(path) => protocol::ping(UnixStream::connect(path).await?).await,
                ClamdAddress::Tcp(addr) => protocol::ping(TcpStream::connect(addr).await?).await,
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(reply)) if reply == "PONG" => Ok(()),
            Ok(Ok(reply)) => Err(format!("clamd answered {reply:?} to PING")),
            Ok(Err(e)) => Err(format!("clamd at {}: {e}", self.address)),
            Err(_) => Err(format!(
                "clamd at {} did not answer PING in time",
                self.address
            )),
        }
    }

    async fn instream(&self, bytes: &[u8]) -> std::io::Result<String> {
        match &self.address {
            ClamdAddress::Unix(path) => run(UnixStream::connect(path).await?, bytes).await,
            ClamdAddress::Tcp(addr) => run(TcpStream::connect(addr).await?, bytes).await,
        }
    }
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    bytes: &[u8],
) -> std::io::Result<String> {
    protocol::instream(stream, bytes).await
}

#[async_trait]
impl Scanner for ClamdScanner {
    fn describe(&self) -> String {
        format!("clamd {}", self.address)
    }

    async fn scan(&self, bytes: Bytes) -> ScanOutcome {
        match tokio::time::timeout(self.timeout, self.instream(&bytes)).await {
            Ok(Ok(reply)) => parse_reply(&reply),
            Ok(Err(e)) => ScanOutcome::Error {
                why: format!("clamd at {}: {e}", self.address),
            },
            Err(_) => ScanOutcome::Error {
                why: format!(
                    "clamd at {} did not answer within {} s",
                    self.address,
                    self.timeout.as_secs_f64()
                ),
            },
        }
    }
}
