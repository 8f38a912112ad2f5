//! What the kernel knows of the tests' connections.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::PATIENCE;

/// How many bytes a connection's server end holds unread in the kernel:
/// the receive queue of the socket from `server` to `client`, as
/// `/proc/net/tcp` shows it.
pub fn unread_at_server(server: SocketAddr, client: SocketAddr) -> u64 {
    let hex = |addr: SocketAddr| match addr {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => panic!("IPv4 loopback only"),
    };
    let (local, remote) = (hex(server), hex(client));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| {
            fields.get(1) == Some(&local.as_str()) && fields.get(2) == Some(&remote.as_str())
        })
        .and_then(|fields| {
            let rx = fields.get(4)?.split(':').nth(1)?;
            u64::from_str_radix(rx, 16).ok()
        })
        .unwrap_or(0)
}

/// Waits until the server end of a connection holds unread bytes: what the
/// client wrote has arrived, and the server has not read it.
pub async fn until_unread_at_server(server: SocketAddr, client: SocketAddr) {
    let deadline = Instant::now() + PATIENCE;
    while unread_at_server(server, client) == 0 {
        assert!(
            Instant::now() < deadline,
            "nothing arrived unread at {server}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
