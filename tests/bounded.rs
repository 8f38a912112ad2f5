//! A shutdown is bounded, whatever the application's code does: blocking
//! callbacks and handlers, a starved runtime, signals sent back to back, a
//! signal that arrives before the app is ready for it. Real processes, real
//! signals, real sockets.

mod support;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal::{SIGINT, SIGTERM};
use support::{Fixture, JSON, connect, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `GET path` on a connection of its own, in the background.
fn request(addr: std::net::SocketAddr, path: &'static str) {
    tokio::spawn(async move {
        let mut sender = connect(addr).await.expect("connect");
        send(&mut sender, "GET", path, b"").await
    });
}

/// The exit follows the report within this, whatever blocking work is left.
const PROMPT: Duration = Duration::from_secs(1);

/// Waits for the exit; asserts its code and that it followed the report's
/// last line promptly. Returns the time from `since` to the exit.
async fn exits_after_the_report(app: &mut Fixture, code: i32, since: Instant) -> Duration {
    app.wait_for_event_with(&["exit_code", "total"]).await;
    let reported = Instant::now();
    let (exit, _) = app.exit().await;
    let lag = reported.elapsed();
    assert_eq!(exit, code, "{}", app.log());
    assert!(
        lag < PROMPT,
        "the process lived {lag:?} after its report: {}",
        app.log()
    );
    since.elapsed()
}

#[tokio::test]
async fn a_callback_that_blocks_its_thread_does_not_hold_the_exit() {
    for behaviour in ["block=60000", "spawn-blocking=60000"] {
        let mut app = Fixture::spawn(
            &["--callback", &format!("flush:0:{behaviour}")],
            &[
                ("GRACEFUL_CALLBACK_TIMEOUT", "500ms"),
                ("GRACEFUL_SHUTDOWN_TIMEOUT", "10s"),
                JSON,
            ],
        );
        app.addr("api").await;
        let signalled = Instant::now();
        app.signal(SIGTERM);
        let took = exits_after_the_report(&mut app, 4, signalled).await;
        assert!(
            took < Duration::from_secs(5),
            "{behaviour}: exit took {took:?}"
        );
        let log = app.log();
        assert_eq!(
            app.callback_report("flush")["outcome"],
            "timed out (aborted)",
            "{log}"
        );
        // Told from the callback's own events (`callback` too) by its
        // message only.
        assert!(
            app.event_where(&[("message", "abandoned at exit"), ("callback", "flush")])
                .is_some(),
            "{behaviour}: the report names the work it abandons: {log}"
        );
    }
}

#[tokio::test]
async fn blocking_work_of_a_cut_off_request_does_not_hold_the_exit() {
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_DRAIN_TIMEOUT", "500ms"), JSON]);
    let addr = app.addr("api").await;
    request(addr, "/spawn-blocking?ms=60000");
    app.wait_for_started("spawn-blocking", 1).await;
    let signalled = Instant::now();
    app.signal(SIGTERM);
    let took = exits_after_the_report(&mut app, 3, signalled).await;
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    app.assert_report("api", &[("cut_off", 1)]);
}

/// One worker thread, blocked by a handler: nothing on the runtime runs.
const ONE_WORKER: (&str, &str) = ("TOKIO_WORKER_THREADS", "1");

#[tokio::test]
async fn the_global_deadline_holds_when_the_runtime_is_starved() {
    let mut app = Fixture::spawn(
        &[],
        &[ONE_WORKER, ("GRACEFUL_SHUTDOWN_TIMEOUT", "2s"), JSON],
    );
    let addr = app.addr("api").await;
    request(addr, "/block?ms=30000");
    app.wait_for_started("block", 1).await;
    let signalled = Instant::now();
    app.signal(SIGTERM);
    let (code, _) = app.exit().await;
    let took = signalled.elapsed();
    let log = app.log();
    assert_eq!(code, 1, "{log}");
    assert!(took >= Duration::from_secs(2), "forced early: {took:?}");
    assert!(
        took < Duration::from_secs(4),
        "forced late: {took:?}: {log}"
    );
    assert!(
        app.event_where(&[("forced_by", "shutdown timeout of 2s passed")])
            .is_some(),
        "{log}"
    );
    // The sentinel's lines are those that say how long it `waited`.
    assert!(
        app.event_with(&["forced_by", "waited"]).is_some(),
        "the sentinel says why it exits on its own: {log}"
    );
    assert!(
        app.event_where(&[("in_flight", "1")]).is_some(),
        "the last counts: {log}"
    );
    assert_true_total(&app, Duration::from_secs(2));
}

#[tokio::test]
async fn a_second_signal_holds_when_the_runtime_is_starved() {
    let mut app = Fixture::spawn(&[], &[ONE_WORKER, JSON]);
    let addr = app.addr("api").await;
    request(addr, "/block?ms=30000");
    app.wait_for_started("block", 1).await;
    app.signal(SIGTERM);
    app.wait_until_delivered(SIGTERM).await;
    let second = Instant::now();
    app.signal(SIGINT);
    let (code, _) = app.exit().await;
    let took = second.elapsed();
    assert_eq!(code, 1, "{}", app.log());
    assert!(took < Duration::from_secs(2), "forced late: {took:?}");
    assert!(
        app.event_where(&[("forced_by", "second SIGINT")]).is_some(),
        "{}",
        app.log()
    );
}

/// The report's `total` is at least `at_least`: it counts from the signal,
/// not from the moment a starved runtime got to it.
fn assert_true_total(app: &Fixture, at_least: Duration) {
    let log = app.log();
    let total = app
        .event_with(&["exit_code", "total"])
        .unwrap_or_else(|| panic!("no total in the log: {log}"))["total"]
        .clone();
    assert!(
        support::duration(&total) >= at_least,
        "the report claims total={total}: {log}"
    );
}

#[tokio::test]
async fn every_delivered_signal_counts_however_close_behind() {
    // The only worker is busy for a while: both signals are delivered
    // before the runtime could look at the first.
    let mut app = Fixture::spawn(&[], &[ONE_WORKER, ("GRACEFUL_DRAIN_TIMEOUT", "20s"), JSON]);
    let addr = app.addr("api").await;
    request(addr, "/block?ms=2000");
    app.wait_for_started("block", 1).await;
    app.signal(SIGTERM);
    app.wait_until_delivered(SIGTERM).await;
    let second = Instant::now();
    app.signal(SIGTERM);
    let (code, _) = app.exit().await;
    let took = second.elapsed();
    assert_eq!(code, 1, "two deliveries counted as one: {}", app.log());
    assert!(took < Duration::from_millis(1500), "forced late: {took:?}");
    assert!(
        app.event_where(&[("forced_by", "second SIGTERM")])
            .is_some(),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn a_sigterm_then_at_once_a_sigint_force_the_exit() {
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_DRAIN_TIMEOUT", "20s"), JSON]);
    let addr = app.addr("api").await;
    request(addr, "/hang");
    app.wait_for_started("hang", 1).await;
    app.signal(SIGTERM);
    app.signal(SIGINT);
    let (code, took) = app.exit().await;
    assert_eq!(code, 1, "{}", app.log());
    assert!(took < Duration::from_secs(2), "forced late: {took:?}");
}

#[tokio::test]
async fn a_sigterm_pending_at_exec_goes_through_the_lifecycle() {
    // The child starts with SIGTERM blocked and already pending, as if it
    // had arrived in its first instant: the handlers, once installed, take it.
    let mut app = Fixture::spawn_with_sigterm_pending(&[], &[JSON]);
    let (code, took) = app.exit().await;
    assert_eq!(code, 0, "killed by the default action? {}", app.log());
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    let log = app.log();
    assert!(
        app.event_where(&[("trigger", "SIGTERM")]).is_some(),
        "{log}"
    );
    // Said by its message only.
    assert!(
        app.event_where(&[("during_startup", "true")]).is_some(),
        "{log}"
    );
}

#[tokio::test]
async fn a_connection_that_never_completes_its_headers_is_closed_while_running() {
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_HEADER_READ_TIMEOUT", "500ms"), JSON]);
    let addr = app.addr("api").await;
    // Before the connections: the server's timers start at their accept.
    let opened = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    // A keep-alive connection idle between requests is its client's to close.
    let mut idle = connect(addr).await.unwrap();
    assert!(matches!(
        send(&mut idle, "GET", "/", b"").await,
        support::Outcome::Answered(_)
    ));
    // A request longer than the timeout is not cut: only request heads are timed.
    let slow = tokio::spawn(async move { support::get(addr, "/slow?ms=1200").await });
    for stream in [&mut silent, &mut trickle] {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(support::PATIENCE, stream.read_to_end(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0))), "{read:?}: {}", app.log());
    }
    let took = opened.elapsed();
    assert!(took >= Duration::from_millis(500), "closed early: {took:?}");
    assert!(took < Duration::from_secs(3), "closed late: {took:?}");
    assert_eq!(slow.await.unwrap().text(), "slow done");
    match send(&mut idle, "GET", "/", b"").await {
        support::Outcome::Answered(answer) => assert_eq!(answer.text(), "hello world"),
        other => panic!("the idle keep-alive connection was closed: {other:?}"),
    }
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    app.assert_report("api", &[("header_timeouts", 2)]);
}

#[tokio::test]
async fn a_client_that_half_closes_after_its_request_gets_its_response() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /slow?ms=300 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    app.wait_for_started("slow", 1).await;
    stream.shutdown().await.unwrap(); // SHUT_WR: nothing more to send
    let mut buf = Vec::new();
    tokio::time::timeout(support::PATIENCE, stream.read_to_end(&mut buf))
        .await
        .expect("the server answers and closes")
        .expect("a clean close");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    assert!(text.ends_with("slow done"), "{text:?}");
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

#[tokio::test]
async fn a_refused_request_whose_body_is_still_arriving_gets_its_503() {
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_READ_GRACE", "0ms"), JSON]);
    let addr = app.addr("api").await;
    let sockets = app.sockets();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(b"POST /echo HTTP/1.1\r\n").await.unwrap();
    // The server has accepted the connection: the request is on its way.
    app.wait_for_sockets(sockets + 1).await;
    app.signal(SIGTERM);
    app.wait_for_event(&[("listener", "closed")]).await;
    // Headers, then a body far larger than anything a grace would wait for,
    // at about 1 MB/s.
    const BODY: usize = 100 * 1024 * 1024;
    writer
        .write_all(format!("Host: localhost\r\nContent-Length: {BODY}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let upload = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..BODY / chunk.len() {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
    });
    let mut buf = Vec::new();
    let read = tokio::time::timeout(support::PATIENCE, reader.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(
        matches!(read, Ok(Ok(_))),
        "{read:?} after {text:?}: {}",
        app.log()
    );
    assert!(text.starts_with("HTTP/1.1 503"), "{text:?}: {}", app.log());
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    drop(reader);
    upload.abort();
    app.exit_clean(&[]).await;
    app.assert_report("api", &[("refused", 1)]);
}

#[tokio::test]
async fn pipelined_requests_behind_a_closing_response_are_counted() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // Ten requests in one write: a slow one, then nine more behind it.
    let mut batch = b"GET /slow?ms=300 HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec();
    for _ in 0..9 {
        batch.extend_from_slice(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    }
    stream.write_all(&batch).await.unwrap();
    app.wait_for_started("slow", 1).await;
    app.signal(SIGTERM);
    let mut buf = Vec::new();
    tokio::time::timeout(support::PATIENCE, stream.read_to_end(&mut buf))
        .await
        .expect("the server closes")
        .expect("a clean close");
    let text = String::from_utf8_lossy(&buf);
    let answered = text.matches("HTTP/1.1 200").count();
    assert!(text.contains("slow done"), "{text}");
    let (code, _) = app.exit().await;
    let log = app.log();
    assert_eq!(code, 0, "{log}");
    // Every request is accounted for: answered, or counted as unanswered.
    assert_eq!(
        app.server_report("api")["unanswered"],
        10 - answered,
        "{answered} answered: {log}"
    );
}
