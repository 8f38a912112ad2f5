//! Requests lost while draining under load.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use graceful_bench::client::{self, Outcome};
use graceful_bench::endpoints;
use graceful_bench::load::{self, Repeat, Tally};

use crate::plan::*;
use crate::server::*;

pub(crate) async fn drain_under_load(binary: &Path, plan: &Plan, m: &mut Measured) {
    let mut server = Server::start(binary).await;
    let addr = server.addr;
    let slow: Vec<_> = (0..plan.slow_requests)
        .map(|_| {
            tokio::spawn(async move {
                let mut sender = client::connect(addr).await.ok()?;
                match client::send(&mut sender, "GET", "/slow?ms=1000", b"").await {
                    Outcome::Answered(a) => Some(a.status == 200 && a.text() == endpoints::SLOW),
                    _ => Some(false),
                }
            })
        })
        .collect();
    let tally = Arc::new(Tally::with_milestone(plan.warm_up_requests));
    let exited = Arc::new(AtomicBool::new(false));
    let warmed_up = tally.reached.notified();
    let repeat = Repeat {
        method: "GET",
        path: "/",
        body: b"",
        expect: endpoints::HELLO,
    };
    let clients: Vec<_> = (0..plan.drain_connections)
        .map(|_| {
            let (tally, exited) = (Arc::clone(&tally), Arc::clone(&exited));
            // Keep opening connections until the process has exited.
            tokio::spawn(async move {
                load::hammer(addr, repeat, &tally, true, &exited, Duration::from_secs(30)).await;
            })
        })
        .collect();
    // Mid-load: after the warm-up requests, with the slow ones in flight.
    let _ = tokio::time::timeout(Duration::from_secs(5), warmed_up).await;
    server.signal();
    let (code, took) = server.exit(Duration::from_secs(20)).await;
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
    let dirty = tally.dirty();
    m.drain = Some(Drain {
        ok: tally.ok.load(Relaxed),
        refused: tally.refused.load(Relaxed),
        dirty: dirty.len() as u64,
        dirty_examples: dirty.into_iter().take(3).collect(),
        slow_ok,
        slow_total: plan.slow_requests,
        signal_to_exit_ms: took.as_secs_f64() * 1e3,
        exit_code: code,
    });
}
