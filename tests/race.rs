//! The race every peer loses: keep-alive connections busy with back-to-back
//! requests when SIGTERM arrives. Every request that was written must get a
//! full response or a clean 503; a connection may only close before a
//! request is written on it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use graceful_load::load::{Repeat, Tally, hammer};
use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, PATIENCE, get};

const CONNECTIONS: usize = 32;
const SLOW_REQUESTS: usize = 8;
/// Requests answered before the signal, so that it lands mid-load.
const WARM_UP: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_is_lost_across_sigterm_under_keep_alive_load() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;

    let slow: Vec<_> = (0..SLOW_REQUESTS)
        .map(|_| tokio::spawn(async move { get(addr, "/slow?ms=1000").await }))
        .collect();
    app.wait_for_started("slow", SLOW_REQUESTS).await;

    // Back-to-back POSTs, one keep-alive connection at a time per client,
    // until a new connection is refused.
    let tally = Arc::new(Tally::with_milestone(WARM_UP));
    let warmed_up = tally.reached.notified();
    let never = Arc::new(AtomicBool::new(false));
    let repeat = Repeat {
        method: "POST",
        path: "/echo",
        body: b"payload",
        expect: "7",
    };
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (tally, never) = (Arc::clone(&tally), Arc::clone(&never));
            tokio::spawn(async move { hammer(addr, repeat, &tally, false, &never, PATIENCE).await })
        })
        .collect();
    tokio::time::timeout(PATIENCE, warmed_up)
        .await
        .expect("the load warms up");
    let before = tally.ok.load(Relaxed);
    app.signal(SIGTERM);

    for slow in slow {
        let answer = slow.await.unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.text(), "slow done");
    }
    for client in clients {
        client.await.unwrap();
    }
    let (code, _) = app.exit().await;
    let lost = tally.dirty();
    eprintln!(
        "{} ok ({before} before the signal), {} refused cleanly, {} failed dirty",
        tally.ok.load(Relaxed),
        tally.refused.load(Relaxed),
        lost.len()
    );
    assert!(lost.is_empty(), "requests lost: {lost:#?}\n{}", app.log());
    assert_eq!(code, 0, "{}", app.log());
    app.assert_report("api", &[("cut_off", 0)]);
}
