//! The health protocol, as grpcio's health-checking client sees it across
//! a SIGTERM: `SERVING`; then `NOT_SERVING` within the pre-stop window,
//! while new connections are still accepted; then the `Watch` stream ends,
//! instead of holding the drain.

use nix::sys::signal::Signal::SIGTERM;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::certificates::certificate;
use crate::support::{PATIENCE, test_dir};
use crate::{Python, grpc_app};

#[tokio::test]
async fn health_says_serving_then_not_serving_in_the_pre_stop_window_then_watch_ends() {
    let mut app = grpc_app(&[("GRACEFUL_PRE_STOP_DELAY", "1s")]);
    let addr = app.addr("grpc").await.to_string();
    let mut client = Python::start(&["health", &addr]);

    let unknown = client.next().await;
    assert_eq!(unknown["watch_unknown"], "SERVICE_UNKNOWN", "{unknown}");
    let serving = client.next().await;
    assert_eq!(serving["watch"], "SERVING", "{serving}");
    assert_eq!(serving["checks"][""], "SERVING", "{serving}");
    assert_eq!(serving["checks"]["fixture.Work"], "SERVING", "{serving}");
    assert_eq!(serving["checks"]["unknown"], "NOT_FOUND", "{serving}");

    app.signal(SIGTERM);
    // Checked on a new connection: the listener still accepts, and says the
    // instance is leaving.
    let leaving = client.next().await;
    assert_eq!(leaving["watch"], "NOT_SERVING", "{leaving}\n{}", app.log());
    assert_eq!(leaving["checks"][""], "NOT_SERVING", "{leaving}");
    assert_eq!(
        leaving["checks"]["fixture.Work"], "NOT_SERVING",
        "{leaving}"
    );
    // Then the stream ends, with OK: the drain is not held by it.
    let end = client.next().await;
    assert_eq!(end["watch_end"], "OK", "{end}\n{}", app.log());
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
    app.assert_report("grpc", &[("cut_off", 0), ("connections_aborted", 0)]);
}

/// A gRPC server speaks HTTP/2 alone: an HTTP/1 request gets no answer,
/// and the connection closes.
#[tokio::test]
async fn a_grpc_server_closes_an_http1_connection_without_an_answer() {
    let mut app = grpc_app(&[]);
    let addr = app.addr("grpc").await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: grpc\r\n\r\n")
        .await
        .expect("write the request");
    // Closed without a byte: cleanly, or reset for the request left unread.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut answer))
        .await
        .expect("the connection closes in time");
    assert!(
        answer.is_empty(),
        "answered: {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        read.as_ref().map_or_else(
            |err| err.kind() == std::io::ErrorKind::ConnectionReset,
            |_| true
        ),
        "{read:?}"
    );
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
    app.assert_report("grpc", &[("served", 0)]);
}

/// Over TLS (the `tls` feature, ALPN `h2`), with grpcio's TLS: the health
/// protocol is the same, across the same SIGTERM.
#[tokio::test]
async fn over_tls_health_says_the_same_and_watch_ends() {
    let dir = test_dir("grpc-tls");
    let (cert, key) = certificate(&dir, "grpc");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let mut app = grpc_app(&[
        ("GRACEFUL_TLS_CERT_GRPC", cert),
        ("GRACEFUL_TLS_KEY_GRPC", key),
        ("GRACEFUL_PRE_STOP_DELAY", "500ms"),
    ]);
    let addr = app.addr("grpc").await.to_string();
    let mut client = Python::start(&["health", &addr, "--tls", cert]);
    client.next().await;
    let serving = client.next().await;
    assert_eq!(
        serving["checks"]["fixture.Work"],
        "SERVING",
        "{serving}\n{}",
        app.log()
    );
    app.signal(SIGTERM);
    let leaving = client.next().await;
    assert_eq!(leaving["checks"][""], "NOT_SERVING", "{leaving}");
    assert_eq!(client.next().await["watch_end"], "OK");
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
    app.assert_report("grpc", &[("tls_handshakes_failed", 0), ("cut_off", 0)]);
    let _ = std::fs::remove_dir_all(&dir);
}
