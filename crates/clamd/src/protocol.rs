//! clamd's wire protocol: the `z`-prefixed (NUL-terminated) commands `PING` and `INSTREAM`,
//! and the reading of its one-line answer.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use vetted_core::ports::ScanOutcome;

/// The size of each INSTREAM chunk; clamd's default `StreamMaxLength` (25 MiB) counts the sum.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// The most of an answer read; clamd's are one short line.
const MAX_REPLY: usize = 4096;

pub(crate) async fn ping<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
) -> std::io::Result<String> {
    stream.write_all(b"zPING\0").await?;
    read_reply(&mut stream).await
}

/// Sends `bytes` with INSTREAM and returns clamd's answer, without its NUL.
pub(crate) async fn instream<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    bytes: &[u8],
) -> std::io::Result<String> {
    if let Err(e) = send_instream(&mut stream, bytes).await {
        // clamd closes the connection once the stream passes its StreamMaxLength, after
        // writing its refusal, so any write can fail: read that answer rather than report the
        // broken pipe or the reset.
        return match read_reply(&mut stream).await {
            Ok(reply) if !reply.is_empty() => Ok(reply),
            _ => Err(e),
        };
    }
    read_reply(&mut stream).await
}

async fn send_instream<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(b"zINSTREAM\0").await?;
    for chunk in bytes.chunks(CHUNK_BYTES) {
        let len = u32::try_from(chunk.len()).map_err(std::io::Error::other)?;
        stream.write_all(&len.to_be_bytes()).await?;
        stream.write_all(chunk).await?;
    }
    stream.write_all(&0u32.to_be_bytes()).await?;
    stream.flush().await
}

/// Reads one answer: up to its NUL, the end of the stream or [`MAX_REPLY`] bytes.
///
/// It stops at the NUL rather than reading to the end: when clamd closes a connection whose
/// input it left unread (a refused oversized stream), the kernel reports the close as a reset
/// on the read after the answer, and that must not cost the answer itself. A read that fails
/// before the NUL is an error, whatever part of an answer came before it.
async fn read_reply<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<String> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    while reply.len() < MAX_REPLY && !reply.contains(&0) {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) => return Err(e),
        }
    }
    reply.truncate(MAX_REPLY);
    let end = reply.iter().position(|&b| b == 0).unwrap_or(reply.len());
    Ok(String::from_utf8_lossy(&reply[..end]).trim().to_owned())
}

/// Reads clamd's answer to INSTREAM. Only exactly `stream: OK` is clean.
pub fn parse_reply(reply: &str) -> ScanOutcome {
    if reply.is_empty() {
        return ScanOutcome::Error {
            why: "clamd closed the connection without an answer".to_owned(),
        };
    }
    if reply.contains("size limit exceeded") {
        return ScanOutcome::Unsupported {
            why: format!("larger than the scanner accepts ({reply})"),
        };
    }
    let Some(result) = reply.strip_prefix("stream: ") else {
        return ScanOutcome::Error {
            why: format!("unexpected answer {reply:?}"),
        };
    };
    if result == "OK" {
        return ScanOutcome::Clean;
    }
    if let Some(signature) = result.strip_suffix(" FOUND") {
        return ScanOutcome::Infected {
            signature: signature.to_owned(),
        };
    }
    ScanOutcome::Error {
        why: format!("clamd: {reply}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ok_is_clean() {
        assert_eq!(parse_reply("stream: OK"), ScanOutcome::Clean);
        assert_eq!(
            parse_reply("stream: Eicar-Test-Signature FOUND"),
            ScanOutcome::Infected {
                signature: "Eicar-Test-Signature".to_owned()
            }
        );
        assert_eq!(
            parse_reply("INSTREAM size limit exceeded. ERROR").kind(),
            "unsupported"
        );
        for bad in [
            "",
            "OK",
            "stream: OKAY",
            "stream: Can't allocate memory ERROR",
            "PONG",
        ] {
            assert_eq!(parse_reply(bad).kind(), "error", "{bad:?}");
        }
    }

    #[tokio::test]
    async fn instream_frames_chunks_with_big_endian_lengths_and_a_zero_end() {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let body = vec![7u8; CHUNK_BYTES + 10];
        let sent = body.clone();
        let server_side = tokio::spawn(async move {
            let mut command = [0u8; 10];
            server.read_exact(&mut command).await.unwrap();
            assert_eq!(&command, b"zINSTREAM\0");
            let mut got = Vec::new();
            loop {
                let mut len = [0u8; 4];
                server.read_exact(&mut len).await.unwrap();
                let len = u32::from_be_bytes(len) as usize;
                if len == 0 {
                    break;
                }
                let mut chunk = vec![0u8; len];
                server.read_exact(&mut chunk).await.unwrap();
                got.push(chunk);
            }
            server.write_all(b"stream: OK\0").await.unwrap();
            got
        });
        let reply = instream(client, &body).await.unwrap();
        assert_eq!(reply, "stream: OK");
        let chunks = server_side.await.unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks.concat(), sent);
    }
}
