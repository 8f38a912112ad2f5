//! The keep-alive race over TLS: connections busy with back-to-back
//! requests when SIGTERM arrives. Every request written gets a full
//! response or a clean refusal: the check for bytes on their way peeks the
//! kernel's socket, where over TLS they wait as records.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use graceful_load::client::Dial;
use graceful_load::load::{Repeat, Tally, hammer};

use super::*;

const CONNECTIONS: usize = 32;
const SLOW_REQUESTS: usize = 8;
/// Requests answered before the signal, so that it lands mid-load.
const WARM_UP: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_is_lost_across_sigterm_under_keep_alive_load_over_tls() {
    let dir = test_dir("tls-race");
    let (cert, key) = rustls_certificate(&dir);
    let mut app = tls_fixture(&cert, &key, &[]);
    let addr = app.addr("api").await;
    let dial = Dial::Tls {
        addr,
        connector: tokio_rustls::TlsConnector::from(rustls_client(&cert, &[b"http/1.1"])),
        name: rustls::pki_types::ServerName::try_from("localhost").expect("a name"),
    };

    // Slow requests keep the drain open while the load meets it.
    let slow: Vec<_> = (0..SLOW_REQUESTS)
        .map(|_| {
            let dial = dial.clone();
            tokio::spawn(async move {
                let mut sender = dial.connect().await.expect("connect");
                graceful_load::client::send(&mut sender, "GET", "/slow?ms=1000", b"").await
            })
        })
        .collect();
    app.wait_for_started("slow", SLOW_REQUESTS).await;

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
            tokio::spawn(async move {
                hammer(dial, repeat, &tally, false, &never, support::PATIENCE).await
            })
        })
        .collect();
    tokio::time::timeout(support::PATIENCE, warmed_up)
        .await
        .expect("the load warms up");
    let before = tally.ok.load(Relaxed);
    app.signal(SIGTERM);

    for slow in slow {
        match slow.await.expect("a slow request") {
            graceful_load::client::Outcome::Answered(answer) => {
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
