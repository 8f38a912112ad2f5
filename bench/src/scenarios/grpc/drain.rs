//! The gRPC servers' shutdown: the drain under load, and the exit with one
//! stream open.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use graceful_bench::client;
use graceful_bench::load::Tally;

use super::GrpcPlan;
use super::call::{self, Call};
use crate::server::*;

/// The drain under load.
#[derive(Debug)]
pub(crate) struct Drain {
    pub(crate) ok: u64,
    pub(crate) refused: u64,
    pub(crate) lost: u64,
    pub(crate) slow_ok: usize,
    pub(crate) slow_total: usize,
    pub(crate) exit_ms: f64,
    pub(crate) exit_code: i32,
}

/// The exit from SIGTERM with one server stream open whose client reads
/// nothing more.
#[derive(Debug)]
pub(crate) struct Held {
    /// `None`: still running at the limit, then killed.
    pub(crate) exit_ms: Option<f64>,
    pub(crate) exit_code: i32,
    pub(crate) limit: Duration,
}

impl Held {
    /// The table's cell.
    pub(crate) fn cell(&self) -> String {
        match self.exit_ms {
            Some(ms) => format!("{ms:.0} ({})", self.exit_code),
            None => format!(
                "still running at {} s, killed",
                self.limit.as_secs_f64().round()
            ),
        }
    }
}

/// Unary calls back to back on one HTTP/2 connection at a time,
/// reconnecting whenever the server closes one, until `stop` is set.
async fn hammer(addr: SocketAddr, tally: &Tally, stop: &AtomicBool) {
    let (body, expect) = (call::job(b"hello", 0), call::payload(b"hello"));
    while !stop.load(Relaxed) {
        let mut channel = match call::connect(addr).await {
            Ok(channel) => channel,
            Err(err) => {
                if client::refused(&err) {
                    tally.refused.fetch_add(1, Relaxed);
                } else {
                    tally.lost(format!("connect: {err}"));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        loop {
            match call::unary(&mut channel, body.clone(), &expect).await {
                Call::Answered => tally.answered(),
                Call::Refused => {
                    tally.refused.fetch_add(1, Relaxed);
                    break;
                }
                Call::Lost(what) => {
                    tally.lost(what);
                    break;
                }
            }
        }
    }
}

/// Clients calling back to back, slow calls (1 s) in flight, SIGTERM after
/// the warm-up calls.
pub(crate) async fn under_load(binary: &Path, plan: &GrpcPlan) -> Drain {
    let mut server = Server::start(binary).await;
    let addr = server.addr;
    let slow: Vec<_> = (0..plan.slow_calls)
        .map(|_| {
            tokio::spawn(async move {
                let mut channel = call::connect(addr).await.ok()?;
                let (body, expect) = (call::job(b"slow", 1000), call::payload(b"slow"));
                Some(matches!(
                    call::unary(&mut channel, body, &expect).await,
                    Call::Answered
                ))
            })
        })
        .collect();
    let tally = Arc::new(Tally::with_milestone(plan.warm_up_calls));
    let exited = Arc::new(AtomicBool::new(false));
    let warmed_up = tally.reached.notified();
    let clients: Vec<_> = (0..plan.drain_connections)
        .map(|_| {
            let (tally, exited) = (Arc::clone(&tally), Arc::clone(&exited));
            tokio::spawn(async move { hammer(addr, &tally, &exited).await })
        })
        .collect();
    let _ = tokio::time::timeout(Duration::from_secs(10), warmed_up).await;
    server.signal();
    let (exit_code, took) = server.exit(Duration::from_secs(20)).await;
    exited.store(true, Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let mut slow_ok = 0;
    for s in slow {
        if let Ok(Some(true)) = s.await {
            slow_ok += 1;
        }
    }
    let lost = tally.dirty();
    if let Some(example) = lost.first() {
        eprintln!(
            "{}: {} lost, such as {example}",
            binary.display(),
            lost.len()
        );
    }
    Drain {
        ok: tally.ok.load(Relaxed),
        refused: tally.refused.load(Relaxed),
        lost: lost.len() as u64,
        slow_ok,
        slow_total: plan.slow_calls,
        exit_ms: took.as_secs_f64() * 1e3,
        exit_code,
    }
}

/// One `Stream` call of endless messages whose client stops reading after
/// the first, and SIGTERM.
pub(crate) async fn held_by_a_stream(binary: &Path, plan: &GrpcPlan) -> Held {
    let env: Vec<(&str, &OsStr)> = plan
        .held_drain_timeout
        .map(|t| ("GRACEFUL_DRAIN_TIMEOUT", OsStr::new(t)))
        .into_iter()
        .collect();
    let mut server = Server::start_with_env(binary, &env).await;
    let mut channel = call::connect(server.addr)
        .await
        .expect("an HTTP/2 connection");
    let request = call::request("Stream", call::stream_request(u32::MAX, 1024));
    let response = channel.send_request(request).await.expect("a stream");
    let mut body = response.into_body();
    // The first message arrives: the stream is open and the handler is
    // sending. Then nothing more is read, as a client that is slow, or
    // gone without closing, does.
    let _ = http_body_util::BodyExt::frame(&mut body).await;
    server.signal();
    let (exit_code, took) = server.exit(plan.held_limit).await;
    drop((body, channel));
    Held {
        exit_ms: (exit_code != -1).then_some(took.as_secs_f64() * 1e3),
        exit_code,
        limit: plan.held_limit,
    }
}
