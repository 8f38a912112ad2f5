//! Restart by listener handoff, with real processes: `SIGUSR2` makes the
//! fixture start its successor with its listener, and shut down once the
//! successor serves. Under load (keep-alive clients and a stream of new
//! connections), no connection is refused and none is reset; a successor
//! that fails to start leaves the parent serving; a restart asked during the
//! shutdown is refused.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal::{SIGTERM, SIGUSR2};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use support::{Fixture, JSON, Outcome, PATIENCE, connect, get, gone, send, successor};

/// What the load saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    /// `503`: a clean refusal, to retry.
    refused_503: AtomicU64,
    /// Anything else: a connection refused or reset, a broken response.
    failed: AtomicU64,
}

/// Keep-alive clients and a stream of new connections against `addr`,
/// until `stop`.
fn load(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
        tasks.push(tokio::spawn(async move {
            let mut sender = None;
            while !stop.load(Ordering::Relaxed) {
                if sender.is_none() {
                    match connect(addr).await {
                        Ok(s) => sender = Some(s),
                        Err(err) => {
                            eprintln!("keep-alive client: connect failed: {err}");
                            tally.failed.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                }
                let Some(conn) = sender.as_mut() else {
                    continue;
                };
                match send(conn, "GET", "/", b"").await {
                    Outcome::Answered(a) if a.status == 200 => {
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                        if a.closes() {
                            sender = None;
                        }
                    }
                    Outcome::Answered(a) if a.status == 503 => {
                        tally.refused_503.fetch_add(1, Ordering::Relaxed);
                        sender = None;
                    }
                    // Closed cleanly before the request was written: connect again.
                    Outcome::NotSent => sender = None,
                    other => {
                        eprintln!("keep-alive client: {other:?}");
                        tally.failed.fetch_add(1, Ordering::Relaxed);
                        sender = None;
                    }
                }
            }
        }));
    }
    let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
    tasks.push(tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let mut conn = match connect(addr).await {
                Ok(conn) => conn,
                Err(err) => {
                    eprintln!("new connection: connect failed: {err}");
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            match send(&mut conn, "GET", "/", b"").await {
                Outcome::Answered(a) if a.status == 200 => {
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Answered(a) if a.status == 503 => {
                    tally.refused_503.fetch_add(1, Ordering::Relaxed);
                }
                other => {
                    eprintln!("new connection: {other:?}");
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }));
    tasks
}

/// Waits until the load has had more than `n` answers.
async fn answered_beyond(tally: &Tally, n: u64) {
    let deadline = Instant::now() + PATIENCE;
    while tally.ok.load(Ordering::Relaxed) <= n {
        assert!(Instant::now() < deadline, "no answer beyond {n}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn a_restart_under_load_refuses_and_resets_nothing_and_ten_in_a_row_neither() {
    // A service manager that follows `MAINPID=` adopts each successor once
    // its parent exits: restarts in a row need one.
    let dir = support::test_dir("restart-in-a-row");
    let mut manager = support::ServiceManager::new(&dir);
    let (var, path) = manager.var();
    // It reads what it is told, as systemd does (a full queue would block
    // the senders).
    let listening =
        tokio::spawn(async move { while manager.next_within(PATIENCE).await.is_some() {} });
    let mut app = Fixture::spawn(&[], &[(var, &path), JSON]);
    let addr = app.addr("api").await;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let tasks = load(addr, Arc::clone(&stop), Arc::clone(&tally));
    answered_beyond(&tally, 1_000).await;

    // One restart: the parent hands over, drains, and exits cleanly.
    app.signal(SIGUSR2);
    let mut current = successor(&app, 1).await;
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    // Its last lines may still be on their way through the pipe, which the
    // successor holds open. (Told from the listener's other events only
    // by its message.)
    app.wait_for_event(&[("listener", "handed-over")]).await;
    assert!(
        app.event_where(&[("trigger", "handover to a successor")])
            .is_some(),
        "{}",
        app.log()
    );
    // The parent is gone: what is answered now, the successor answers.
    answered_beyond(&tally, tally.ok.load(Ordering::Relaxed) + 1_000).await;

    // Ten more in a row, each successor restarting in turn.
    for n in 2..=11 {
        let asked = Instant::now();
        kill(Pid::from_raw(current), SIGUSR2).unwrap();
        let next = successor(&app, n).await;
        let serving = asked.elapsed();
        gone(current).await;
        eprintln!(
            "restart {n}: successor serving after {serving:?}, predecessor gone after {:?}",
            asked.elapsed()
        );
        current = next;
    }
    answered_beyond(&tally, tally.ok.load(Ordering::Relaxed) + 1_000).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    kill(Pid::from_raw(current), SIGTERM).unwrap();
    gone(current).await;

    let (ok, refused_503, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.refused_503.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    eprintln!("11 restarts under load: {ok} answered, {refused_503} clean 503, {failed} failed");
    assert_eq!(failed, 0, "connections refused or reset:\n{}", app.log());
    assert!(ok > 0);
    // Every process's report, the last one's too, once through the pipe.
    app.wait_for_events_with(&["exit_code", "total"], 12).await;
    assert_eq!(
        app.events_where(&[("exit_code", "0")]).len(),
        12,
        "{}",
        app.log()
    );
    listening.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_new_binary_installed_at_the_program_s_path_is_the_upgrade() {
    let dir = support::test_dir("restart-upgrade");
    let installed = dir.join("app");
    std::fs::copy(Fixture::binary(), &installed).unwrap();
    let mut app = Fixture::spawn_program(&installed, &[], &[JSON]);
    let addr = app.addr("api").await;
    // Install version 2 as a package manager does: a new file, renamed
    // over the old one while it runs.
    support::install_script(
        &installed,
        &support::fixture_script("export FIXTURE_VERSION=2\n", ""),
    );
    app.signal(SIGUSR2);
    let upgraded = successor(&app, 1).await;
    assert!(app.log().contains("fixture version 2"), "{}", app.log());
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    assert_eq!(get(addr, "/").await.status, 200);
    kill(Pid::from_raw(upgraded), SIGTERM).unwrap();
    gone(upgraded).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_successor_that_fails_to_start_leaves_the_parent_serving() {
    let mut app = Fixture::spawn(&[], &[("FIXTURE_FAIL_IF_INHERITED", "1"), JSON]);
    let addr = app.addr("api").await;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let tasks = load(addr, Arc::clone(&stop), Arc::clone(&tally));
    app.signal(SIGUSR2);
    let failed = app.wait_for_event(&[("restart", "failed")]).await;
    assert_eq!(
        failed["reason"],
        "the successor exited during its start (exit status: 3)",
        "{}",
        app.log()
    );
    let before = tally.ok.load(Ordering::Relaxed);
    assert_eq!(get(addr, "/").await.status, 200);
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    assert!(tally.ok.load(Ordering::Relaxed) >= before);
    assert_eq!(tally.failed.load(Ordering::Relaxed), 0, "{}", app.log());
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    assert!(
        app.event_where(&[("trigger", "SIGTERM")]).is_some(),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn a_successor_stuck_in_its_start_is_killed_at_the_timeout_and_one_restart_runs_at_a_time() {
    let mut app = Fixture::spawn(
        &[],
        &[
            ("FIXTURE_HANG_IF_INHERITED", "1"),
            ("GRACEFUL_RESTART_TIMEOUT", "500ms"),
            JSON,
        ],
    );
    let addr = app.addr("api").await;
    app.signal(SIGUSR2);
    // The successor's own words, before it could log anything.
    app.wait_for_line("fixture: hanging on purpose").await;
    app.signal(SIGUSR2);
    app.wait_for_event(&[("restart", "refused"), ("reason", "one is under way")])
        .await;
    let failed = app.wait_for_event(&[("restart", "failed")]).await;
    assert_eq!(
        failed["reason"],
        "the successor did not serve within 500ms; it was killed",
        "{}",
        app.log()
    );
    assert_eq!(get(addr, "/").await.status, 200);
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    assert!(
        app.event_where(&[("trigger", "SIGTERM")]).is_some(),
        "{}",
        app.log()
    );
    assert_eq!(
        app.events_where(&[("restart", "starting")]).len(),
        1,
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn a_restart_asked_during_the_shutdown_is_refused() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    let slow = tokio::spawn(async move { get(addr, "/slow?ms=500").await });
    app.wait_for_started("slow", 1).await;
    app.signal(SIGTERM);
    app.wait_for_event_with(&["trigger"]).await;
    app.signal(SIGUSR2);
    app.wait_for_event(&[("restart", "refused"), ("reason", "the shutdown has begun")])
        .await;
    assert_eq!(slow.await.unwrap().status, 200);
    let log = app.exit_clean(&[]).await;
    assert!(
        app.events_where(&[("restart", "starting")]).is_empty(),
        "{log}"
    );
}

#[tokio::test]
async fn the_restart_signals_are_a_setting_and_cannot_also_stop() {
    use nix::sys::signal::Signal::SIGUSR1;
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_RESTART_SIGNALS", "USR1"), JSON]);
    let addr = app.addr("api").await;
    app.signal(SIGUSR1);
    let current = successor(&app, 1).await;
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    assert_eq!(get(addr, "/").await.status, 200);
    kill(Pid::from_raw(current), SIGTERM).unwrap();
    gone(current).await;

    let mut app = Fixture::spawn(&[], &[("GRACEFUL_RESTART_SIGNALS", "TERM")]);
    let (code, _) = app.exit().await;
    assert_eq!(code, 2, "{}", app.log());
    // The start-up error is its message: it has no field.
    assert!(
        app.log().contains(
            "setting restart_signals is invalid: SIGTERM also starts the shutdown (signals): give each signal one job"
        ),
        "{}",
        app.log()
    );
}
