//! The service manager's side: the notify protocol heard on a real Unix
//! datagram socket the test owns (every message, in order), the watchdog's
//! silence while the runtime is stalled, and socket activation through
//! Debian's `systemd-socket-activate`, with real listeners passed to a real
//! process.

mod support;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, ServiceManager, free_port, get, read_to_close, test_dir};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

#[tokio::test]
async fn the_service_manager_hears_ready_stopping_progress_and_callbacks_in_order() {
    let dir = test_dir("notify-order");
    let mut manager = ServiceManager::new(&dir);
    let (var, path) = manager.var();
    let mut app = Fixture::spawn(
        &["--callback", "flush:0:sleep=100", "--startup-ms", "200"],
        &[
            (var, &path),
            ("GRACEFUL_PROGRESS_INTERVAL", "50ms"),
            ("GRACEFUL_SHUTDOWN_TIMEOUT", "20s"),
            JSON,
        ],
    );
    let ready = manager.until("READY=1").await;
    // Ready means serving: the start-up hook has run and the listener takes
    // connections now.
    assert!(
        app.event_where(&[("started", "start-up")]).is_some(),
        "{}",
        app.log()
    );
    let addr = app.addr("api").await;
    assert!(
        ready.contains(&format!("STATUS=serving 1 server: api on {addr}")),
        "{ready}"
    );
    assert_eq!(get(addr, "/").await.status, 200);

    let slow = tokio::spawn(async move { get(addr, "/slow?ms=400").await });
    app.wait_for_started("slow", 1).await;
    app.signal(SIGTERM);
    let stopping = manager.until("STOPPING=1").await;
    assert!(stopping.contains("STATUS=stopping (SIGTERM)"), "{stopping}");
    manager
        .until("STATUS=draining: 1 requests in flight, 1 connections open")
        .await;
    manager.until("STATUS=running the shutdown callbacks").await;
    assert_eq!(slow.await.unwrap().status, 200);
    app.exit_clean(&[]).await;
    let flush = app.callback_report("flush");
    assert!(
        support::has(&flush, &[("phase", "0"), ("outcome", "ok")]),
        "{flush}; log:\n{}",
        app.log()
    );

    // In order, and the shutdown asked for time within its own budget.
    assert!(manager.position("READY=1") < manager.position("STOPPING=1"));
    assert!(manager.position("STOPPING=1") < manager.position("STATUS=draining"));
    assert!(manager.position("STATUS=draining") < manager.position("STATUS=running the shutdown"));
    let extensions: Vec<u64> = manager
        .heard
        .iter()
        .filter_map(|(_, m)| m.strip_prefix("EXTEND_TIMEOUT_USEC="))
        .map(|usec| usec.trim().parse().expect("microseconds"))
        .collect();
    assert!(!extensions.is_empty(), "heard {:?}", manager.heard);
    assert!(
        extensions
            .iter()
            .all(|&usec| usec > 0 && usec <= 21_000_000),
        "{extensions:?}"
    );
    assert!(
        manager.position("STOPPING=1") < manager.position("EXTEND_TIMEOUT_USEC="),
        "asked for time before stopping: {:?}",
        manager.heard
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_start_that_fails_never_says_ready() {
    let dir = test_dir("notify-failed-start");
    let mut manager = ServiceManager::new(&dir);
    let (var, path) = manager.var();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut app = Fixture::spawn(&[], &[(var, &path), ("GRACEFUL_ADDR_API", &addr)]);
    let (code, _) = app.exit().await;
    assert_eq!(code, 2, "{}", app.log());
    assert_eq!(
        manager.next_within(Duration::ZERO).await,
        None,
        "{:?}",
        manager.heard
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_watchdog_is_petted_only_while_the_runtime_runs() {
    let dir = test_dir("notify-watchdog");
    let mut manager = ServiceManager::new(&dir);
    let (var, path) = manager.var();
    // Every 100 ms, on a runtime of one worker thread that a request blocks.
    let mut app = Fixture::spawn(
        &[],
        &[
            (var, &path),
            ("WATCHDOG_USEC", "200000"),
            ("TOKIO_WORKER_THREADS", "1"),
            JSON,
        ],
    );
    manager.until("READY=1").await;
    let addr = app.addr("api").await;
    for _ in 0..3 {
        manager.until("WATCHDOG=1").await;
    }
    let blocked = tokio::spawn(async move { get(addr, "/block?ms=1500").await });
    app.wait_for_started("block", 1).await;
    let block_started = Instant::now();
    manager.until("WATCHDOG=1").await;
    let silence = block_started.elapsed();
    assert!(
        silence >= Duration::from_millis(1200),
        "the watchdog was petted {silence:?} into a 1.5 s stall"
    );
    assert_eq!(blocked.await.unwrap().status, 200);
    // Petted again once the runtime runs.
    let resumed = Instant::now();
    manager.until("WATCHDOG=1").await;
    assert!(resumed.elapsed() < Duration::from_secs(1));
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_activated_server_serves_the_listener_named_like_it_from_the_first_connection() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut app = Fixture::socket_activated(&[&listen], &["--fdname=api"], &[], &[JSON]);
    app.activation_listening(1).await;
    // This connection comes before the fixture runs: it starts it, and is
    // served from the inherited listener's queue.
    let first = get(listen.parse().unwrap(), "/").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.text(), "hello world");
    app.wait_for_event(&[
        ("name", "api"),
        ("addr", &listen),
        ("inherited", "api (fd 3)"),
    ])
    .await;
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    assert!(
        app.event_where(&[("listener", "closed")]).is_some(),
        "{}",
        app.log()
    );
    assert!(
        std::net::TcpStream::connect(&listen).is_err(),
        "the inherited listener outlived the process"
    );
}

#[tokio::test]
async fn unnamed_listeners_go_to_the_servers_in_declaration_order_and_named_ones_by_name() {
    let (a, b) = (free_port(), free_port());
    let (first, second) = (format!("127.0.0.1:{a}"), format!("127.0.0.1:{b}"));
    let servers = [
        "--server",
        "api=127.0.0.1:0",
        "--server",
        "admin=127.0.0.1:0",
    ];

    let mut app = Fixture::socket_activated(&[&first, &second], &[], &servers, &[JSON]);
    app.activation_listening(2).await;
    assert_eq!(get(first.parse().unwrap(), "/").await.status, 200);
    app.wait_for_event(&[
        ("name", "api"),
        ("addr", &first),
        ("inherited", "unknown (fd 3)"),
    ])
    .await;
    app.wait_for_event(&[
        ("name", "admin"),
        ("addr", &second),
        ("inherited", "unknown (fd 4)"),
    ])
    .await;
    assert_eq!(get(second.parse().unwrap(), "/").await.status, 200);
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;

    let mut app = Fixture::socket_activated(
        &[&first, &second],
        &["--fdname=admin:api"],
        &servers,
        &[JSON],
    );
    app.activation_listening(2).await;
    assert_eq!(get(first.parse().unwrap(), "/").await.status, 200);
    app.wait_for_event(&[
        ("name", "api"),
        ("addr", &second),
        ("inherited", "api (fd 4)"),
    ])
    .await;
    app.wait_for_event(&[
        ("name", "admin"),
        ("addr", &first),
        ("inherited", "admin (fd 3)"),
    ])
    .await;
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
}

#[tokio::test]
async fn a_listener_the_service_manager_keeps_is_left_listening_for_the_next_process() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut app = Fixture::inheriting(&listener, "api", &[], &[JSON]);
    app.wait_for_event(&[
        ("name", "api"),
        ("addr", &addr.to_string()),
        ("inherited", "api (fd 3)"),
    ])
    .await;
    assert_eq!(get(addr, "/").await.status, 200);
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    assert!(
        app.event_where(&[("listener", "closed")]).is_some(),
        "{}",
        app.log()
    );
    // The process is gone, the listener is not (a socket unit holds it):
    // what connects now waits in its queue for the next process, instead of
    // meeting the filter that closed this one's listener safely.
    let connected = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect(addr),
    )
    .await;
    assert!(
        matches!(connected, Ok(Ok(_))),
        "the kept listener no longer completes handshakes: {connected:?}"
    );
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_ok(), "nothing waits in the queue");
}

/// Starts the fixture through `systemd-socket-activate` with `listen` and
/// `extra`, connects once to start it, and returns its exit code and log.
async fn activation_fails(listen: &[&str], extra: &[&str], args: &[&str]) -> (i32, String) {
    let mut app = Fixture::socket_activated(listen, extra, args, &[]);
    app.activation_listening(listen.len()).await;
    if extra.contains(&"-d") {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.send_to(b"start", listen[0]).unwrap();
    } else if listen[0].starts_with('/') {
        let _ = UnixStream::connect(listen[0]).await;
    } else {
        let _ = tokio::net::TcpStream::connect(listen[0]).await;
    }
    let (code, _) = app.exit().await;
    (code, app.log())
}

#[tokio::test]
async fn inherited_listeners_that_do_not_fit_are_a_clear_startup_error() {
    let (a, b) = (free_port(), free_port());
    let (first, second) = (format!("127.0.0.1:{a}"), format!("127.0.0.1:{b}"));

    let (code, log) = activation_fails(&[&first, &second], &[], &[]).await;
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains(
            "socket activation: 2 inherited listeners (unknown (fd 3), unknown (fd 4)) for 1 servers (api)"
        ),
        "{log}"
    );

    let servers = [
        "--server",
        "api=127.0.0.1:0",
        "--server",
        "admin=127.0.0.1:0",
    ];
    let (code, log) = activation_fails(&[&first], &[], &servers).await;
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("2 servers (api, admin) but 1 inherited listeners (unknown (fd 3))"),
        "{log}"
    );

    let (code, log) = activation_fails(&[&first, &second], &["--fdname=api:metrics"], &[]).await;
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("inherited listener metrics (fd 4) is named like no server (api)"),
        "{log}"
    );

    let (code, log) = activation_fails(&[&first], &["-d"], &[]).await;
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains(
            "server \"api\" was given inherited listener unknown (fd 3), which is a socket of type"
        ),
        "{log}"
    );

    let dir = test_dir("activation-wrong-family");
    let unix = dir.join("api.sock").display().to_string();
    let (code, log) = activation_fails(&[&unix], &[], &[]).await;
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("which is a Unix socket; its address asks for a listening TCP socket"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_inherited_unix_socket_is_served_and_its_file_left_to_the_service_manager() {
    let dir = test_dir("activation-unix");
    let path = dir.join("api.sock");
    let listen = path.display().to_string();
    let addr = format!("unix:{listen}");
    let mut app = Fixture::socket_activated(
        &[&listen],
        &["--fdname=api"],
        &["--server", &format!("api={addr}")],
        &[JSON],
    );
    app.activation_listening(1).await;
    let mut stream = UnixStream::connect(&path).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let response = read_to_close(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("hello world"), "{response}");
    app.wait_for_event(&[
        ("name", "api"),
        ("addr", &addr),
        ("inherited", "api (fd 3)"),
    ])
    .await;
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    assert!(
        path.exists(),
        "the service manager's socket file was removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_restart_names_the_successor_as_main_pid_and_the_predecessor_falls_silent() {
    use nix::sys::signal::Signal::SIGUSR2;
    let dir = test_dir("notify-restart");
    let mut manager = ServiceManager::new(&dir);
    let (var, path) = manager.var();
    // systemd names the watchdog's process: the successor must pet as its own.
    let mut app = Fixture::spawn_after(
        "WATCHDOG_PID=$$; export WATCHDOG_PID;",
        &[],
        &[(var, &path), ("WATCHDOG_USEC", "200000")],
    );
    manager.until("READY=1").await;
    manager.until("WATCHDOG=1").await;
    let addr = app.addr("api").await;
    let parent = app.pid();
    app.signal(SIGUSR2);
    let handover = manager.until("MAINPID=").await;
    let successor: i32 = handover
        .lines()
        .find_map(|l| l.strip_prefix("MAINPID="))
        .and_then(|pid| pid.trim().parse().ok())
        .expect("a pid");
    assert_ne!(successor, parent);
    assert!(
        handover.contains(&format!("STATUS=handed over to pid {successor}")),
        "{handover}"
    );
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    assert_eq!(get(addr, "/").await.status, 200);
    // The parent is gone: this pet is the successor's.
    manager.until("WATCHDOG=1").await;
    // The successor speaks for the service now, and only it.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(successor), SIGTERM).unwrap();
    manager.until("STOPPING=1").await;
    let after = manager.position("MAINPID=");
    assert_eq!(
        manager.heard[after..]
            .iter()
            .filter(|(_, m)| m.contains("STOPPING=1") || m.contains("READY=1"))
            .count(),
        1,
        "{:?}",
        manager.heard
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_service_manager_hears_which_tasks_are_stopping_at_each_moment() {
    let dir = test_dir("notify-tasks");
    let mut manager = ServiceManager::new(&dir);
    let (var, path) = manager.var();
    let mut app = Fixture::spawn(
        &[
            "--task",
            "pull:signal:0:obey",
            "--task",
            "relay:drained:0:obey",
            "--task",
            "consume:drained:1:obey",
        ],
        &[(var, &path), JSON],
    );
    manager.until("READY=1").await;
    app.signal(SIGTERM);
    manager.until("STOPPING=1").await;
    manager.until("STATUS=stopping tasks: pull").await;
    // Those told once drained, in the order they are told.
    manager.until("STATUS=stopping tasks: relay, consume").await;
    app.exit_clean(&[]).await;
    // At the signal, before the drain; once drained, after it.
    assert!(manager.position("STATUS=stopping tasks: pull") < manager.position("STATUS=draining"));
    assert!(manager.position("STATUS=draining") < manager.position("STATUS=stopping tasks: relay"));
}
