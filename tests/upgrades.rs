//! Upgraded connections (WebSocket, and anything else through an HTTP
//! upgrade) are on the books: counted, held in the drain, told at the first
//! signal, cut off and named at the drain deadline. A real process, real
//! signals, a raw TCP client.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens an upgraded connection on `path` and reads its greeting.
async fn upgraded(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"hello\n") {
        let mut buf = [0; 256];
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("a greeting in time")
            .expect("a clean read");
        assert_ne!(n, 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(
        seen.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    stream
}

async fn read_rest(stream: &mut TcpStream) -> String {
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the upgraded connection");
    String::from_utf8_lossy(&rest).into_owned()
}

#[tokio::test]
async fn an_upgraded_connection_is_told_and_held_until_it_says_goodbye() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    let mut stream = upgraded(addr, "/upgrade").await;
    stream.write_all(b"ping\n").await.unwrap();
    app.signal(SIGTERM);
    let rest = read_rest(&mut stream).await;
    assert!(
        rest.ends_with("bye\n"),
        "no goodbye: {rest:?}: {}",
        app.log()
    );
    app.exit_clean(&[]).await;
    app.assert_report(
        "api",
        &[
            ("upgraded", 1),
            ("upgraded_closed", 1),
            ("upgraded_cut_off", 0),
        ],
    );
}

#[tokio::test]
async fn an_upgraded_connection_that_never_closes_is_cut_off_at_the_drain_deadline() {
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_DRAIN_TIMEOUT", "500ms"), JSON]);
    let addr = app.addr("api").await;
    let mut stream = upgraded(addr, "/upgrade-stubborn").await;
    let signalled = std::time::Instant::now();
    app.signal(SIGTERM);
    let rest = read_rest(&mut stream).await;
    let cut = signalled.elapsed();
    assert_eq!(rest, "", "{}", app.log());
    assert!(
        cut >= Duration::from_millis(500),
        "cut early: {cut:?}: {}",
        app.log()
    );
    let (code, _) = app.exit().await;
    let log = app.log();
    assert_eq!(code, 3, "{log}");
    app.assert_report(
        "api",
        &[
            ("upgraded", 1),
            ("upgraded_closed", 0),
            ("upgraded_cut_off", 1),
        ],
    );
    // What was cut off, which deadline cut it, and the request's fields.
    assert!(
        app.event_where(&[
            ("cut", "upgraded connection"),
            ("cut_at", "drain-deadline"),
            ("server", "api"),
            ("method", "GET"),
            ("path", "/upgrade-stubborn"),
        ])
        .is_some(),
        "{log}"
    );
}

#[tokio::test]
async fn a_server_sent_event_stream_ends_cleanly_with_a_last_event_at_the_signal() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("data: tick") {
        let mut buf = [0; 256];
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("a tick in time")
            .expect("a clean read");
        assert_ne!(n, 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    app.signal(SIGTERM);
    let rest = read_rest(&mut stream).await;
    let all = format!("{}{rest}", String::from_utf8_lossy(&seen));
    assert!(
        all.contains("event: bye\ndata: going away\n\n"),
        "no last event: {all:?}"
    );
    // The chunked body's terminator: a complete response, not a cut one.
    assert!(all.ends_with("0\r\n\r\n"), "{all:?}");
    app.exit_clean(&[]).await;
    app.assert_report("api", &[("drained", 1)]);
}

#[tokio::test]
async fn upgraded_connections_have_a_budget_of_their_own() {
    let mut app = Fixture::spawn(
        &[],
        &[
            ("GRACEFUL_UPGRADE_TIMEOUT", "300ms"),
            ("GRACEFUL_DRAIN_TIMEOUT", "10s"),
            JSON,
        ],
    );
    let addr = app.addr("api").await;
    let mut stream = upgraded(addr, "/upgrade-stubborn").await;
    let slow = tokio::spawn(async move { support::get(addr, "/slow?ms=1500").await });
    app.wait_for_started("slow", 1).await;
    let signalled = std::time::Instant::now();
    app.signal(SIGTERM);
    assert_eq!(read_rest(&mut stream).await, "");
    let cut = signalled.elapsed();
    assert!(
        cut >= Duration::from_millis(300) && cut < Duration::from_millis(1200),
        "cut at {cut:?}: {}",
        app.log()
    );
    // The request keeps draining meanwhile.
    assert_eq!(slow.await.unwrap().text(), "slow done");
    let (code, _) = app.exit().await;
    let log = app.log();
    assert_eq!(code, 3, "{log}");
    assert!(
        app.event_where(&[
            ("cut", "upgraded connection"),
            ("cut_at", "upgrade-deadline")
        ])
        .is_some(),
        "{log}"
    );
    app.assert_report("api", &[("drained", 1)]);
}
