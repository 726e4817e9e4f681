//! A simulated wide-area network between a client and a device: every byte the device
//! receives arrives half a round-trip time after it reached the socket, and every byte it
//! sends leaves half a round-trip time after it was written — pure propagation delay, no
//! bandwidth limit, order kept, as a long link behaves (this machine's kernel has no netem).
//!
//! It sits between the accepted TCP connection and the SSH server, at the connection layer:
//! nothing above it knows about it. What it cannot delay is the TCP handshake itself (the
//! kernel completes it before the connection is accepted), so a client's connect costs no
//! round trip here.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Bytes read per chunk in each direction; also the in-memory pipe's buffer.
const CHUNK: usize = 64 * 1024;

/// Puts `rtt` of distance between `socket` and what serves it: returns the stream to serve
/// the connection on. Tasks forward both ways until either side closes.
pub(crate) fn delayed<S>(socket: S, rtt: Duration) -> DuplexStream
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let one_way = rtt / 2;
    let (served, inner) = tokio::io::duplex(CHUNK);
    let (socket_read, socket_write) = tokio::io::split(socket);
    let (inner_read, inner_write) = tokio::io::split(inner);
    tokio::spawn(forward(socket_read, inner_write, one_way));
    tokio::spawn(forward(inner_read, socket_write, one_way));
    served
}

/// Copies `from` to `to`, each chunk delivered `delay` after it was read; the end of `from`
/// is passed on (as a shutdown) `delay` later too.
async fn forward<R, W>(mut from: R, mut to: W, delay: Duration)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Option<Vec<u8>>)>();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf).await {
                Ok(n) if n > 0 => {
                    if tx
                        .send((Instant::now() + delay, Some(buf[..n].to_vec())))
                        .is_err()
                    {
                        return;
                    }
                }
                _ => {
                    let _ = tx.send((Instant::now() + delay, None));
                    return;
                }
            }
        }
    });
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        match chunk {
            Some(bytes) => {
                if to.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            None => break,
        }
    }
    let _ = to.shutdown().await;
    reader.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn each_way_takes_half_the_round_trip_and_order_is_kept() {
        let (client, device_side) = tokio::io::duplex(CHUNK);
        let mut served = delayed(device_side, Duration::from_millis(100));
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let start = Instant::now();
        client_write.write_all(b"ping").await.unwrap();
        client_write.write_all(b"+more").await.unwrap();
        let mut got = vec![0u8; 9];
        served.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping+more");
        assert_eq!(start.elapsed(), Duration::from_millis(50));
        served.write_all(b"pong").await.unwrap();
        let mut back = [0u8; 4];
        client_read.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"pong");
        assert_eq!(start.elapsed(), Duration::from_millis(100));
        // The client's end of the stream reaches the device half a round trip later too.
        client_write.shutdown().await.unwrap();
        let mut rest = Vec::new();
        served.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        assert_eq!(start.elapsed(), Duration::from_millis(150));
    }
}
