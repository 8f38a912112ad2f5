//! Resident memory idle and with many connections, and exit with many idle connections.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use graceful_bench::client::{self, Outcome};
use tokio::sync::Semaphore;

use crate::plan::*;
use crate::server::*;

/// Opens `n` keep-alive connections, each after one request; returns them.
pub(crate) async fn open_idle(addr: SocketAddr, n: usize) -> Vec<client::Connection> {
    let gate = Arc::new(Semaphore::new(128));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                let _permit = gate.acquire().await.ok()?;
                let mut sender = client::connect(addr).await.ok()?;
                match client::send(&mut sender, "GET", "/", b"").await {
                    Outcome::Answered(_) => Some(sender),
                    _ => None,
                }
            })
        })
        .collect();
    let mut open = Vec::with_capacity(n);
    for t in tasks {
        if let Ok(Some(sender)) = t.await {
            open.push(sender);
        }
    }
    open
}

pub(crate) async fn memory(binary: &Path, plan: &Plan, m: &mut Measured) {
    let mut server = Server::start(binary).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_kib = server.rss_kib();
    let open = open_idle(server.addr, plan.memory_connections).await;
    let connections_kib = server.rss_kib();
    server.signal();
    let (exit_code, took) = server.exit(Duration::from_secs(15)).await;
    m.memory = Some(Memory {
        idle_kib,
        connections_kib,
        exit_ms: took.as_secs_f64() * 1e3,
        exit_code,
    });
    drop(open);
}

pub(crate) async fn scale(binary: &Path, plan: &Plan, m: &mut Measured) {
    let mut server = Server::start(binary).await;
    let open = open_idle(server.addr, plan.scale_connections).await;
    server.signal();
    let (code, took) = server.exit(Duration::from_secs(20)).await;
    m.scale = Some(Scale {
        exit_ms: took.as_secs_f64() * 1e3,
        exit_code: code,
    });
    drop(open);
}
