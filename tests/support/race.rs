//! The race every peer loses, as both the cleartext and the TLS tests run
//! it: keep-alive connections busy with back-to-back requests when SIGTERM
//! arrives. Every request that was written must get a full response or a
//! clean refusal; a connection may only close before a request is written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use graceful_load::client::{Dial, Outcome, send};
use graceful_load::load::{Repeat, Tally, hammer};
use nix::sys::signal::Signal::SIGTERM;

use super::{Fixture, PATIENCE};

const CONNECTIONS: usize = 32;
const SLOW_REQUESTS: usize = 8;
/// Requests answered before the signal, so that it lands mid-load.
const WARM_UP: u64 = 2_000;

/// Runs the race against `app`, reached through `dial`, and asserts that no
/// request was lost, the exit code is 0, and nothing was cut off.
pub async fn no_request_is_lost_across_sigterm(app: &mut Fixture, dial: Dial) {
    // Slow requests keep the drain open while the load meets it.
    let slow: Vec<_> = (0..SLOW_REQUESTS)
        .map(|_| {
            let dial = dial.clone();
            tokio::spawn(async move {
                let mut sender = dial.connect().await.expect("connect");
                send(&mut sender, "GET", "/slow?ms=1000", b"").await
            })
        })
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
            let (tally, never, dial) = (Arc::clone(&tally), Arc::clone(&never), dial.clone());
            tokio::spawn(async move { hammer(dial, repeat, &tally, false, &never, PATIENCE).await })
        })
        .collect();
    tokio::time::timeout(PATIENCE, warmed_up)
        .await
        .expect("the load warms up");
    let before = tally.ok.load(Relaxed);
    app.signal(SIGTERM);

    for slow in slow {
        match slow.await.expect("a slow request") {
            Outcome::Answered(answer) => {
                assert_eq!((answer.status.as_u16(), answer.text()), (200, "slow done"));
            }
            other => panic!("a slow request: {other:?}"),
        }
    }
    for client in clients {
        client.await.expect("a client");
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
