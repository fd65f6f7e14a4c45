//! A loopback TCP proxy that passes what the browser sends at a limited rate (answers go at
//! full speed), so that an upload lasts long enough for its progress bar to be seen. The
//! server is started with `--public-url` pointing here, so its presigned POST URLs do too.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Bytes let through per tick, and the tick: 80 KiB every 50 ms is about 1.6 MiB/s.
const CHUNK: usize = 80 * 1024;
const TICK: Duration = Duration::from_millis(50);
const RECEIVE_BUFFER: u32 = 16 * 1024;

/// A listening proxy; it forwards once [`Throttle::forward_to`] names the server.
pub struct Throttle {
    listener: Option<TcpListener>,
    pub base: String,
    task: Option<JoinHandle<()>>,
}

impl Throttle {
    pub async fn bind() -> Self {
        // A small receive buffer, inherited by accepted sockets, keeps the browser from
        // handing megabytes to the kernel at once (it counts those as sent).
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(RECEIVE_BUFFER).unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let listener = socket.listen(16).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        Self {
            listener: Some(listener),
            base,
            task: None,
        }
    }

    pub fn forward_to(&mut self, upstream: SocketAddr) {
        let listener = self.listener.take().expect("forward_to is called once");
        self.task = Some(tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream));
            }
        }));
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let upload = async move {
        let mut buffer = vec![0; CHUNK];
        while let Ok(n) = from_client.read(&mut buffer).await {
            if n == 0 || to_server.write_all(&buffer[..n]).await.is_err() {
                break;
            }
            tokio::time::sleep(TICK).await;
        }
        let _ = to_server.shutdown().await;
    };
    let download = async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::join!(upload, download);
}
