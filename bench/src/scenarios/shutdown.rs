//! Shutdown latency: idle, and at a second signal.

use std::path::Path;
use std::time::Duration;

use graceful_bench::client::{self};

use crate::plan::*;
use crate::server::*;

pub(crate) async fn idle_exit(binary: &Path, m: &mut Measured) {
    for _ in 0..3 {
        let mut server = Server::start(binary).await;
        server.signal();
        let (_, took) = server.exit(Duration::from_secs(15)).await;
        m.idle_exit_ms.push(took.as_secs_f64() * 1e3);
    }
}

pub(crate) async fn second_signal(binary: &Path, m: &mut Measured) {
    let mut server = Server::start(binary).await;
    let addr = server.addr;
    tokio::spawn(async move {
        if let Ok(mut sender) = client::connect(addr).await {
            let _ = client::send(&mut sender, "GET", "/slow?ms=10000", b"").await;
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.signal();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.signal();
    let (code, took) = server.exit(Duration::from_secs(15)).await;
    m.second_signal = Some(SecondSignal {
        exit_ms: took.as_secs_f64() * 1e3,
        exit_code: code,
    });
}
