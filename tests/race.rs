//! The race every peer loses: keep-alive connections busy with back-to-back
//! requests when SIGTERM arrives. Every request that was written must get a
//! full response or a clean 503; a connection may only close before a
//! request is written on it.

mod support;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, Outcome, PATIENCE, connect, get, send};
use tokio::sync::Notify;

const CONNECTIONS: usize = 32;
const SLOW_REQUESTS: usize = 8;
/// Requests answered before the signal, so that it lands mid-load.
const WARM_UP: u64 = 2_000;

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    refused: AtomicU64,
    not_sent: AtomicU64,
    failed: Mutex<Vec<String>>,
    warmed_up: Notify,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_is_lost_across_sigterm_under_keep_alive_load() {
    let mut app = Fixture::spawn(&[], &[]);
    let addr = app.addr("api").await;
    let tally = Arc::new(Tally::default());

    let slow: Vec<_> = (0..SLOW_REQUESTS)
        .map(|_| tokio::spawn(async move { get(addr, "/slow?ms=1000").await }))
        .collect();
    app.wait_for_lines("slow request started", SLOW_REQUESTS)
        .await;

    let warmed_up = tally.warmed_up.notified();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| tokio::spawn(hammer(addr, Arc::clone(&tally))))
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
    let failed = tally.failed.lock().unwrap().clone();
    eprintln!(
        "{} ok ({} before the signal), {} refused with 503, {} closed before sending, {} failed dirty",
        tally.ok.load(Relaxed),
        before,
        tally.refused.load(Relaxed),
        tally.not_sent.load(Relaxed),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "requests lost: {failed:#?}\n{}",
        app.log()
    );
    assert_eq!(code, 0, "{}", app.log());
    assert!(app.log().contains("cut_off=0"), "{}", app.log());
}

/// Back-to-back POSTs on one keep-alive connection at a time, reconnecting
/// when the server closes it, until connections are refused.
async fn hammer(addr: std::net::SocketAddr, tally: Arc<Tally>) {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let mut sender = match connect(addr).await {
            Ok(sender) => sender,
            // Refused, or reset during the handshake by a listener that was
            // closing: no byte of a request was written, so nothing was lost.
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                return;
            }
            Err(err) => {
                tally.failed.lock().unwrap().push(format!("connect: {err}"));
                return;
            }
        };
        loop {
            match send(&mut sender, "POST", "/echo", b"payload").await {
                Outcome::Answered(a) if a.status == 200 && a.text() == "7" => {
                    if tally.ok.fetch_add(1, Relaxed) + 1 == WARM_UP {
                        tally.warmed_up.notify_one();
                    }
                    if a.closes() {
                        break;
                    }
                }
                Outcome::Answered(a) if a.status == 503 => {
                    tally.refused.fetch_add(1, Relaxed);
                    break;
                }
                Outcome::NotSent => {
                    tally.not_sent.fetch_add(1, Relaxed);
                    break;
                }
                Outcome::Answered(a) => {
                    tally
                        .failed
                        .lock()
                        .unwrap()
                        .push(format!("unexpected answer: {a:?}"));
                    break;
                }
                Outcome::Failed(err) => {
                    tally.failed.lock().unwrap().push(err);
                    break;
                }
            }
        }
    }
}
