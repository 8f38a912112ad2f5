//! The lifecycle of a real process receiving real signals, over real TCP.

mod support;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal::{SIGINT, SIGTERM};
use support::{Fixture, JSON, Outcome, connect, get, send};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn slow_request_in_flight_completes_and_the_exit_follows_it() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    let slow = tokio::spawn(async move { get(addr, "/slow?ms=1000").await });
    app.wait_for_started("slow", 1).await;
    app.signal(SIGTERM);
    let answer = slow.await.unwrap();
    let answered = Instant::now();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), "slow done");
    assert!(
        answer.closes(),
        "a response during the shutdown closes its connection"
    );
    let (code, _) = app.exit().await;
    let after = answered.elapsed();
    eprintln!("exit {after:?} after the slow response");
    assert_eq!(code, 0, "{}", app.log());
    // The drain is counted, not slept: the exit follows the response, far
    // sooner than the 10 s drain timeout.
    assert!(after < Duration::from_secs(5), "exit took {after:?}");
    app.assert_report("api", &[("served", 0), ("drained", 1)]);
}

#[tokio::test]
async fn after_sigterm_new_connections_are_refused_and_old_ones_close_cleanly() {
    // A zero read grace makes the partial request below deterministic: its
    // connection is asked to close at once, so its request is refused.
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_READ_GRACE", "0ms"), JSON]);
    let addr = app.addr("api").await;

    // A keep-alive connection that served one request, then sat idle.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let first = read_until(&mut idle, "hello world").await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(!first.to_ascii_lowercase().contains("connection: close"));
    // A connection that has sent half of its request headers.
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial
        .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();

    app.signal(SIGTERM);
    app.wait_for_event(&[("listener", "closed")]).await;

    match TcpStream::connect(addr).await {
        Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused),
        Ok(_) => panic!("a new connection was accepted after the listener closed"),
    }
    // The idle connection is closed by the server, cleanly: end of stream, no reset.
    assert_eq!(read_to_end(&mut idle).await, "");
    // The partial request is answered 503, retryable, and its connection
    // closes cleanly: its body is read first, so the close is no reset.
    const BODY: usize = 256 * 1024;
    partial
        .write_all(format!("Content-Length: {BODY}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    partial
        .write_all(&vec![b'x'; BODY])
        .await
        .expect("the server takes the whole body");
    let raw = read_to_end(&mut partial).await;
    assert!(raw.starts_with("HTTP/1.1 503"), "{raw}\n{}", app.log());
    assert!(
        raw.to_ascii_lowercase().contains("connection: close"),
        "{raw}"
    );
    assert!(raw.to_ascii_lowercase().contains("retry-after: 1"), "{raw}");

    app.exit_clean(&[]).await;
    app.assert_report("api", &[("refused", 1)]);
}

async fn read_until(stream: &mut TcpStream, end: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    while !buf.ends_with(end.as_bytes()) {
        let mut chunk = [0; 1024];
        let n = tokio::time::timeout(support::PATIENCE, stream.read(&mut chunk))
            .await
            .expect("a response in time")
            .expect("a clean read");
        assert_ne!(
            n,
            0,
            "the connection closed early: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

async fn read_to_end(stream: &mut TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    tokio::time::timeout(support::PATIENCE, stream.read_to_end(&mut buf))
        .await
        .expect("the server closes the connection")
        .expect("a clean close, not a reset");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn an_idle_app_exits_promptly() {
    let mut app = Fixture::spawn(&[], &[]);
    app.addr("api").await;
    app.signal(SIGTERM);
    let (code, took) = app.exit().await;
    eprintln!("idle shutdown: signal to exit in {} ms", took.as_millis());
    assert_eq!(code, 0, "{}", app.log());
    assert!(took < Duration::from_secs(2), "idle exit took {took:?}");
}

#[tokio::test]
async fn sigint_works_like_sigterm() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    app.addr("api").await;
    app.signal(SIGINT);
    let (code, _) = app.exit().await;
    assert_eq!(code, 0);
    assert!(
        app.event_where(&[("trigger", "SIGINT")]).is_some(),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn a_second_signal_forces_the_exit_at_once() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    let hanging = tokio::spawn(async move {
        let mut sender = connect(addr).await.unwrap();
        send(&mut sender, "GET", "/hang", b"").await
    });
    app.wait_for_started("hang", 1).await;
    app.signal(SIGTERM);
    app.wait_for_event_with(&["trigger"]).await;
    app.signal(SIGTERM);
    let (code, took) = app.exit().await;
    assert_eq!(code, 1, "{}", app.log());
    assert!(
        took < Duration::from_secs(2),
        "the forced exit took {took:?}"
    );
    let log = app.log();
    assert!(app.event_with(&["forced_by", "phase"]).is_some(), "{log}");
    assert!(
        app.event_where(&[("in_flight", "1")]).is_some(),
        "the report says what was cut: {log}"
    );
    assert!(matches!(hanging.await.unwrap(), Outcome::Failed(_)));
}

#[tokio::test]
async fn the_global_deadline_forces_the_exit_when_a_handler_never_ends() {
    let mut app = Fixture::spawn(
        &[],
        &[
            ("GRACEFUL_SHUTDOWN_TIMEOUT", "1s"),
            ("GRACEFUL_DRAIN_TIMEOUT", "20s"),
            JSON,
        ],
    );
    let addr = app.addr("api").await;
    tokio::spawn(async move {
        let mut sender = connect(addr).await.unwrap();
        send(&mut sender, "GET", "/hang", b"").await
    });
    app.wait_for_started("hang", 1).await;
    let signalled = Instant::now();
    app.signal(SIGTERM);
    let (code, _) = app.exit().await;
    let took = signalled.elapsed();
    assert_eq!(code, 1, "{}", app.log());
    assert!(
        took >= Duration::from_secs(1),
        "forced before the deadline: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "not forced at the deadline: {took:?}"
    );
    let log = app.log();
    assert!(
        app.event_where(&[("forced_by", "shutdown timeout of 1s passed")])
            .is_some(),
        "{log}"
    );
    assert!(
        app.event_where(&[("drain_timeout", "20s"), ("shutdown_timeout", "1s")])
            .is_some(),
        "the start-up warns that 20 s of drain cannot fit in 1 s: {log}"
    );
    // Told from the drain's progress lines (`server`, `in_flight` too) by
    // its message only.
    assert!(
        app.event_where(&[
            ("message", "requests still running at the forced exit"),
            ("server", "api"),
            ("in_flight", "1"),
        ])
        .is_some(),
        "{log}"
    );
    app.assert_report("api", &[("cut_off", 1)]);
    // What was cut off (an `age`), and by what: a forced exit names what
    // forced it; the drain deadline, nothing. Which moment of a forced exit
    // (the exit, or the report) only the message says.
    let cut: Vec<serde_json::Value> = app
        .events()
        .into_iter()
        .filter(|event| event.get("age").is_some())
        .collect();
    assert!(
        cut.iter().all(|event| event.get("forced_by").is_some())
            && cut
                .iter()
                .any(|event| event["cut"] == "request" && event["cut_at"] == "forced-exit"),
        "the log says which deadline cut the request: {log}"
    );
    app.assert_report("api", &[("idle_closed", 0), ("connections_aborted", 1)]);
}

#[tokio::test]
async fn one_server_that_cannot_bind_fails_the_start_and_releases_the_other() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taken_addr = taken.local_addr().unwrap();
    let free_addr = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap()
    };
    let mut app = Fixture::spawn(
        &[
            "--server",
            &format!("first={free_addr}"),
            "--server",
            &format!("second={taken_addr}"),
        ],
        &[JSON],
    );
    let (code, _) = app.exit().await;
    assert_eq!(code, 2, "{}", app.log());
    let log = app.log();
    // The start-up error is its message: it has no field.
    assert!(
        app.said(&format!("server \"second\": cannot listen on {taken_addr}")),
        "{log}"
    );
    assert!(app.said("Address already in use"), "{log}");
    assert!(!app.listened(), "no server may report readiness: {log}");
    // The first server's listener was released with the process...
    TcpListener::bind(free_addr)
        .await
        .expect("the first address is free");
    drop(taken);
}

#[tokio::test]
async fn a_malformed_environment_variable_is_a_clear_startup_error() {
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_DRAIN_TIMEOUT", "10")]);
    let (code, _) = app.exit().await;
    assert_eq!(code, 2);
    assert!(
        app.log()
            .contains("GRACEFUL_DRAIN_TIMEOUT=\"10\" is invalid"),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn the_address_is_overridden_by_environment_variable() {
    let free_addr = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap()
    };
    let mut app = Fixture::spawn(
        &["--server", "web-1=127.0.0.1:1"],
        &[("GRACEFUL_ADDR_WEB_1", &free_addr.to_string())],
    );
    assert_eq!(app.addr("web-1").await, free_addr);
    assert_eq!(get(free_addr, "/").await.text(), "hello world");
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0);
}

#[tokio::test]
async fn health_flips_to_503_at_the_signal_and_pre_stop_delay_keeps_serving() {
    let mut app = Fixture::spawn(
        &[],
        &[
            ("GRACEFUL_HEALTH_PATH", "/healthz"),
            ("GRACEFUL_PRE_STOP_DELAY", "1s"),
            JSON,
        ],
    );
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/healthz").await.status, 200);
    let signalled = Instant::now();
    app.signal(SIGTERM);
    app.wait_for_event_with(&["trigger"]).await;
    let health = get(addr, "/healthz").await;
    assert_eq!(health.status, 503);
    // Still inside the pre-stop delay: new connections are served, and told to go.
    let answer = get(addr, "/").await;
    assert!(
        signalled.elapsed() < Duration::from_secs(1),
        "the test was too slow to observe the delay"
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), "hello world");
    assert!(answer.closes());
    let (code, _) = app.exit().await;
    assert_eq!(code, 0);
    assert!(
        signalled.elapsed() >= Duration::from_secs(1),
        "the pre-stop delay was skipped"
    );
    assert!(
        app.event_where(&[("phase", "not-ready")]).is_some(),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn a_hundred_idle_keep_alive_connections_do_not_delay_the_exit() {
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_DRAIN_TIMEOUT", "30s")]);
    let addr = app.addr("api").await;
    let mut senders = Vec::new();
    for _ in 0..100 {
        let mut sender = connect(addr).await.unwrap();
        let Outcome::Answered(a) = send(&mut sender, "GET", "/", b"").await else {
            panic!("request failed");
        };
        assert_eq!(a.status, 200);
        senders.push(sender);
    }
    app.signal(SIGTERM);
    let (code, took) = app.exit().await;
    eprintln!(
        "100 idle keep-alive connections: signal to exit in {} ms",
        took.as_millis()
    );
    assert_eq!(code, 0, "{}", app.log());
    assert!(took < Duration::from_secs(3), "exit took {took:?}");
    for mut sender in senders {
        assert!(matches!(
            send(&mut sender, "GET", "/", b"").await,
            Outcome::NotSent
        ));
    }
}

#[tokio::test]
async fn connections_that_send_nothing_or_trickle_headers_do_not_hold_the_drain() {
    let mut app = Fixture::spawn(
        &[],
        &[
            ("GRACEFUL_DRAIN_TIMEOUT", "30s"),
            ("GRACEFUL_HEADER_GRACE", "500ms"),
        ],
    );
    let addr = app.addr("api").await;
    let _silent = TcpStream::connect(addr).await.unwrap();
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    // Both connections are accepted once a request on a third one is served.
    get(addr, "/").await;
    let signalled = Instant::now();
    app.signal(SIGTERM);
    let trickler = tokio::spawn(async move {
        // One byte at a time, never finishing in time.
        for byte in b"st: localhost\r\nX-Slow: yes\r\n".iter().cycle().take(200) {
            if trickle.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let (code, _) = app.exit().await;
    let took = signalled.elapsed();
    eprintln!(
        "silent and trickling connections: signal to exit in {} ms",
        took.as_millis()
    );
    assert_eq!(code, 0, "{}", app.log());
    assert!(
        took >= Duration::from_millis(500),
        "the header grace was not applied: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    trickler.abort();
}

#[tokio::test]
async fn a_signal_during_startup_ends_the_process_promptly_and_cleanly() {
    let mut app = Fixture::spawn(
        &["--startup-ms", "60000", "--callback", "flush:0:ok"],
        &[JSON],
    );
    app.wait_for_started("start-up", 1).await;
    app.signal(SIGTERM);
    let (code, took) = app.exit().await;
    assert_eq!(code, 0, "{}", app.log());
    assert!(took < Duration::from_secs(2), "exit took {took:?}");
    let log = app.log();
    assert!(!app.listened(), "readiness was reported: {log}");
    // Said by its message only.
    assert!(
        app.event_where(&[("during_startup", "true")]).is_some(),
        "{log}"
    );
    let flush = app.callback_report("flush");
    assert!(
        support::has(&flush, &[("phase", "0"), ("outcome", "ok")]),
        "the same lifecycle runs: {flush}; log:\n{log}"
    );
}
