//! One restart of a server under direct load (no load balancer in front):
//! keep-alive clients and a stream of new connections, for half a second
//! before the restart and half a second after it. Stop-then-start leaves the
//! port closed between the exit and the new bind; a handoff never closes it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use graceful_bench::client::{self, Outcome};
use serde::Serialize;

use crate::scenarios::rolling::{Replica, Restart, free_port};

/// What one restart did to its load.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Restarted {
    pub(crate) how: Option<Restart>,
    /// Requests answered `200`.
    pub(crate) answered: u64,
    /// Requests answered `503` (a clean refusal, to retry).
    pub(crate) refused_503: u64,
    /// Connection attempts refused (the port was closed).
    pub(crate) refused_connections: u64,
    /// Requests written and then lost (a reset, a cut response).
    pub(crate) failed: u64,
}

#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    refused_503: AtomicU64,
    refused_connections: AtomicU64,
    failed: AtomicU64,
}

impl Tally {
    fn count(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Answered(a) if a.status == 200 => {
                self.answered.fetch_add(1, Ordering::Relaxed);
                a.closes()
            }
            Outcome::Answered(_) => {
                self.refused_503.fetch_add(1, Ordering::Relaxed);
                true
            }
            Outcome::NotSent => true,
            Outcome::Failed(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }

    fn connect_failed(&self, err: &std::io::Error) {
        if err.kind() == std::io::ErrorKind::ConnectionRefused {
            self.refused_connections.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Four keep-alive clients and one client connecting for every request.
fn load(
    addr: SocketAddr,
    stop: &Arc<AtomicBool>,
    tally: &Arc<Tally>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for keep_alive in [true, true, true, true, false] {
        let (stop, tally) = (Arc::clone(stop), Arc::clone(tally));
        tasks.push(tokio::spawn(async move {
            let mut sender = None;
            while !stop.load(Ordering::Relaxed) {
                if sender.is_none() {
                    match client::connect(addr).await {
                        Ok(conn) => sender = Some(conn),
                        Err(err) => {
                            tally.connect_failed(&err);
                            // The port is closed: try again a moment later.
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            continue;
                        }
                    }
                }
                let Some(conn) = sender.as_mut() else {
                    continue;
                };
                let done = tally.count(client::send(conn, "GET", "/", b"").await);
                if done || !keep_alive {
                    sender = None;
                }
            }
        }));
    }
    tasks
}

/// Restarts one server of `binary` once, `how`, under load.
pub(crate) async fn restart_once(binary: &Path, how: Restart) -> Restarted {
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut replica = Replica::start(binary, port).await;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let tasks = load(addr, &stop, &tally);
    tokio::time::sleep(Duration::from_millis(500)).await;
    replica.restart(binary, port, how).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    replica.stop().await;
    Restarted {
        how: Some(how),
        answered: tally.answered.load(Ordering::Relaxed),
        refused_503: tally.refused_503.load(Ordering::Relaxed),
        refused_connections: tally.refused_connections.load(Ordering::Relaxed),
        failed: tally.failed.load(Ordering::Relaxed),
    }
}
