//! The test's end of systemd's notify protocol.

use std::time::{Duration, Instant};

use super::PATIENCE;

/// The test's end of the notify protocol: a datagram socket, as systemd's.
pub struct ServiceManager {
    socket: tokio::net::UnixDatagram,
    path: std::path::PathBuf,
    /// Every message received, with when it came.
    pub heard: Vec<(Instant, String)>,
}

impl ServiceManager {
    pub fn new(dir: &std::path::Path) -> ServiceManager {
        let path = dir.join("notify.sock");
        let socket = tokio::net::UnixDatagram::bind(&path).expect("bind the notify socket");
        ServiceManager {
            socket,
            path,
            heard: Vec::new(),
        }
    }

    pub fn var(&self) -> (&'static str, String) {
        ("NOTIFY_SOCKET", self.path.display().to_string())
    }

    /// The next message, within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<String> {
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(wait, self.socket.recv(&mut buf))
            .await
            .ok()?
            .expect("recv on the notify socket");
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        self.heard.push((Instant::now(), message.clone()));
        Some(message)
    }

    /// Messages until one contains `needle`; returns it.
    pub async fn until(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left).await {
                Some(message) if message.contains(needle) => return message,
                Some(_) => {}
                None => panic!("no message with {needle:?}; heard {:?}", self.heard),
            }
        }
    }

    /// Where the first message containing `needle` is among those heard.
    pub fn position(&self, needle: &str) -> usize {
        self.heard
            .iter()
            .position(|(_, m)| m.contains(needle))
            .unwrap_or_else(|| panic!("no message with {needle:?}; heard {:?}", self.heard))
    }
}
