//! The restart at its edges: a signal right after the handover, health
//! checks while it runs, a successor that sets a listener blocking or
//! leaves children behind, a release with a server more, a Unix socket's
//! file, and the settings that turn restarts off or bound them. Real
//! processes, real signals, real sockets.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal::{SIGTERM, SIGUSR2};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use support::{
    Fixture, JSON, ServiceManager, fixture_script, get, gone, install_script, successor, test_dir,
};

/// Under systemd's default `KillMode=control-group`, `systemctl stop` after
/// a reload sends SIGTERM to the old and the new process at once. The old
/// one is already shutting down gracefully: it drains, and exits cleanly.
#[tokio::test]
async fn a_signal_right_after_the_handover_drains_instead_of_forcing() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    let slow = tokio::spawn(async move { get(addr, "/slow?ms=1000").await });
    app.wait_for_started("slow", 1).await;
    app.signal(SIGUSR2);
    let next = successor(&app, 1).await;
    app.signal(SIGTERM);
    kill(Pid::from_raw(next), SIGTERM).unwrap();
    assert_eq!(slow.await.unwrap().status, 200, "{}", app.log());
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    gone(next).await;
}

/// After a handover a successor serves: the old process has nothing to
/// announce, so it neither waits its `pre_stop_delay` nor answers its
/// health path `503`.
#[tokio::test]
async fn after_a_handover_health_stays_up_and_the_pre_stop_delay_is_skipped() {
    let mut app = Fixture::spawn(
        &[],
        &[
            ("GRACEFUL_PRE_STOP_DELAY", "5s"),
            ("GRACEFUL_HEALTH_PATH", "/healthz"),
            JSON,
        ],
    );
    let addr = app.addr("api").await;
    let probing = Arc::new(AtomicBool::new(true));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let prober = {
        let (probing, ok, failed) = (Arc::clone(&probing), Arc::clone(&ok), Arc::clone(&failed));
        tokio::spawn(async move {
            // As a load balancer's active check: a new connection each time.
            while probing.load(Ordering::Relaxed) {
                match get(addr, "/healthz").await.status.as_u16() {
                    200 => ok.fetch_add(1, Ordering::Relaxed),
                    status => {
                        eprintln!("health check: {status}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        })
    };
    app.signal(SIGUSR2);
    let handed = Instant::now();
    let next = successor(&app, 1).await;
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    let exited = handed.elapsed();
    probing.store(false, Ordering::Relaxed);
    prober.await.unwrap();
    assert!(
        exited < Duration::from_secs(4),
        "the old process waited its pre-stop delay: {exited:?}"
    );
    assert_eq!(failed.load(Ordering::Relaxed), 0, "{}", app.log());
    assert!(ok.load(Ordering::Relaxed) > 0);
    kill(Pid::from_raw(next), SIGTERM).unwrap();
    gone(next).await;
}

/// The listeners' file status flags are shared with the successor: one
/// that sets a listener blocking (a program that knows nothing of
/// non-blocking sockets) must not leave this process's accepts blocking
/// once it is gone.
#[tokio::test]
async fn a_successor_that_sets_a_listener_blocking_does_not_wedge_its_parent() {
    let mut app = Fixture::spawn(
        &[],
        &[
            ("FIXTURE_BLOCK_IF_INHERITED", "1"),
            ("GRACEFUL_RESTART_TIMEOUT", "500ms"),
            ("GRACEFUL_SHUTDOWN_TIMEOUT", "10s"),
            JSON,
        ],
    );
    let addr = app.addr("api").await;
    app.signal(SIGUSR2);
    // The successor's own words, before it could log anything.
    app.wait_for_line("set the inherited listener blocking")
        .await;
    app.wait_for_event(&[("restart", "failed")]).await;
    for _ in 0..3 {
        assert_eq!(get(addr, "/").await.status, 200);
    }
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

/// Whether a connection to `addr` is refused: nothing holds the listener.
async fn refused(addr: std::net::SocketAddr) -> bool {
    match tokio::net::TcpStream::connect(addr).await {
        Err(err) => err.kind() == std::io::ErrorKind::ConnectionRefused,
        Ok(_) => false,
    }
}

/// The pid in the fixture's `n`th event naming the `helper` it started.
async fn helper(app: &Fixture, n: usize) -> i32 {
    let event = app.wait_for_events_with(&["helper"], n).await;
    event["helper"]
        .as_i64()
        .and_then(|pid| i32::try_from(pid).ok())
        .unwrap_or_else(|| panic!("no helper pid in {event}"))
}

/// A helper the app starts (a sidecar, a shell command), even in its
/// start-up before the listeners are taken, must not hold the listener it
/// inherited: after the service stops, the port refuses connections instead
/// of queueing them for nobody.
#[tokio::test]
async fn a_helper_the_app_starts_does_not_hold_its_inherited_listener() {
    let mut app = Fixture::spawn(&[], &[("FIXTURE_HELPER_AT_START", "1"), JSON]);
    let addr = app.addr("api").await;
    let first = helper(&app, 1).await;
    app.signal(SIGUSR2);
    let next = successor(&app, 1).await;
    let second = helper(&app, 2).await;
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    kill(Pid::from_raw(next), SIGTERM).unwrap();
    gone(next).await;
    let closed = refused(addr).await;
    for helper in [first, second] {
        let _ = kill(Pid::from_raw(helper), nix::sys::signal::Signal::SIGKILL);
    }
    assert!(closed, "a helper holds the listener");
}

/// A successor that fails is killed with its children: a shell script's
/// children would hold the listener after the service stops.
#[tokio::test]
async fn a_failed_successor_is_killed_with_its_children() {
    let dir = test_dir("restart-failed-children");
    let installed = dir.join("app");
    std::fs::copy(Fixture::binary(), &installed).unwrap();
    let mut app = Fixture::spawn_program(
        &installed,
        &[],
        &[("GRACEFUL_RESTART_TIMEOUT", "500ms"), JSON],
    );
    let addr = app.addr("api").await;
    // The new release: a script that starts a child, then a start that hangs.
    install_script(
        &installed,
        &fixture_script("sleep 60 &\nexport FIXTURE_HANG_IF_INHERITED=1\n", ""),
    );
    app.signal(SIGUSR2);
    app.wait_for_event(&[("restart", "failed")]).await;
    assert_eq!(get(addr, "/").await.status, 200);
    app.signal(SIGTERM);
    // Not waiting for its standard error to close: a child left behind
    // would hold that too.
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    assert!(
        refused(addr).await,
        "a child of the failed successor holds the listener"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A release may add a server: the successor binds what it was not handed.
#[tokio::test]
async fn a_release_can_add_a_server() {
    let dir = test_dir("restart-adds-a-server");
    let installed = dir.join("app");
    std::fs::copy(Fixture::binary(), &installed).unwrap();
    let mut app = Fixture::spawn_program(&installed, &["--server", "api=127.0.0.1:0"], &[JSON]);
    let addr = app.addr("api").await;
    install_script(
        &installed,
        &fixture_script("", " --server admin=127.0.0.1:0"),
    );
    app.signal(SIGUSR2);
    let next = successor(&app, 1).await;
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    let admin = app.addr("admin").await;
    assert_eq!(get(addr, "/").await.status, 200);
    assert_eq!(get(admin, "/").await.status, 200);
    kill(Pid::from_raw(next), SIGTERM).unwrap();
    gone(next).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A name a restart cannot hand over (`LISTEN_FDNAMES` separates names
/// with `:`) is refused at the start, not at the first restart.
#[tokio::test]
async fn a_server_name_that_cannot_travel_is_refused_at_the_start() {
    let mut app = Fixture::spawn(&["--server", "api:v2=127.0.0.1:0"], &[JSON]);
    let (code, _) = app.exit().await;
    assert_eq!(code, 2, "{}", app.log());
    // The start-up error is its message: it has no field.
    assert!(app.said("api:v2"), "{}", app.log());
}

#[tokio::test]
async fn after_a_restart_the_final_stop_removes_the_unix_socket_file() {
    let dir = test_dir("restart-unix-file");
    let socket = dir.join("api.sock");
    let addr = format!("unix:{}", socket.display());
    let mut app = Fixture::spawn(&["--server", &format!("api={addr}")], &[JSON]);
    // A listener's first event is the one saying that it listens.
    app.wait_for_event(&[("name", "api"), ("addr", &addr)])
        .await;
    app.signal(SIGUSR2);
    let next = successor(&app, 1).await;
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    assert!(socket.exists(), "the successor serves the socket");
    kill(Pid::from_raw(next), SIGTERM).unwrap();
    gone(next).await;
    assert!(!socket.exists(), "the socket's file was left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GRACEFUL_RESTART_SIGNALS=` (empty) turns restarts off; a zero
/// `GRACEFUL_RESTART_TIMEOUT` is refused at the start, since every restart
/// would fail.
#[tokio::test]
async fn restarts_can_be_turned_off_and_their_timeout_cannot_be_zero() {
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_RESTART_SIGNALS", "")]);
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/").await.status, 200);
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());

    let mut app = Fixture::spawn(&[], &[("GRACEFUL_RESTART_TIMEOUT", "0s")]);
    assert_eq!(app.exit().await.0, 2, "{}", app.log());
    assert!(
        app.log().contains("GRACEFUL_RESTART_TIMEOUT"),
        "{}",
        app.log()
    );
}

/// A restart asked of a process that already handed over is refused, and
/// says so.
#[tokio::test]
async fn a_restart_asked_after_the_handover_is_refused_with_a_log_line() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    let slow = tokio::spawn(async move { get(addr, "/slow?ms=1000").await });
    app.wait_for_started("slow", 1).await;
    app.signal(SIGUSR2);
    let next = successor(&app, 1).await;
    app.signal(SIGUSR2);
    let refusal = app.wait_for_event_with(&["restart", "reason"]).await;
    assert_eq!(refusal["restart"], "refused", "{refusal}");
    assert_eq!(slow.await.unwrap().status, 200);
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    kill(Pid::from_raw(next), SIGTERM).unwrap();
    gone(next).await;
}

/// A watchdog period of zero is no watchdog (systemd's own reading), and a
/// period too short to honour is petted at a floor, not in a busy loop.
#[tokio::test]
async fn a_zero_or_tiny_watchdog_period_neither_panics_nor_floods() {
    for (usec, most) in [("0", 0), ("1", 400)] {
        let dir = test_dir(&format!("watchdog-{usec}"));
        let mut manager = ServiceManager::new(&dir);
        let (var, path) = manager.var();
        let mut app = Fixture::spawn(&[], &[(var, &path), ("WATCHDOG_USEC", usec)]);
        manager.until("READY=1").await;
        let since = Instant::now();
        while since.elapsed() < Duration::from_secs(1) {
            if manager
                .next_within(Duration::from_millis(100))
                .await
                .is_none()
            {
                continue;
            }
        }
        let pets = manager
            .heard
            .iter()
            .filter(|(_, m)| m.contains("WATCHDOG=1"))
            .count();
        assert!(
            pets <= most,
            "WATCHDOG_USEC={usec}: {pets} pets in a second"
        );
        app.signal(SIGTERM);
        assert_eq!(app.exit().await.0, 0, "{}", app.log());
        assert!(!app.log().contains("panicked at"), "{}", app.log());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
