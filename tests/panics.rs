//! A panicking handler is a 500 (HTTP/1) or a stream reset with
//! INTERNAL_ERROR (HTTP/2), is logged with its server, method and path, and is
//! counted as `panicked` in the report. A real process, real HTTP clients.

mod support;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, Outcome, connect, send};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_panicking_handler_answers_500_and_is_counted() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;

    // HTTP/1: a 500 each time, on a connection that stays usable.
    let mut sender = connect(addr).await.unwrap();
    for _ in 0..3 {
        match send(&mut sender, "GET", "/panic", b"").await {
            Outcome::Answered(answer) => assert_eq!(answer.status, 500, "{}", app.log()),
            other => panic!("no response to a panicking handler: {other:?}"),
        }
    }
    let Outcome::Answered(after) = send(&mut sender, "GET", "/", b"").await else {
        panic!("the connection did not survive the panic");
    };
    assert_eq!(after.text(), "hello world");

    // HTTP/2: the stream is reset with INTERNAL_ERROR; the connection lives on.
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = |path: &str| {
        hyper::Request::builder()
            .uri(format!("http://{addr}{path}"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let err = h2.send_request(request("/panic")).await.unwrap_err();
    let reason = std::error::Error::source(&err)
        .and_then(|e| e.downcast_ref::<h2::Error>())
        .and_then(h2::Error::reason);
    assert_eq!(reason, Some(h2::Reason::INTERNAL_ERROR), "{err:?}");
    assert_eq!(h2.send_request(request("/")).await.unwrap().status(), 200);

    // A panic's event is the one that says what it said (`panic`).
    app.wait_for_events_with(&["panic"], 4).await;
    let log = app.log();
    assert!(
        app.events().iter().any(|event| {
            event.get("panic").is_some()
                && support::has(
                    event,
                    &[("server", "api"), ("method", "GET"), ("path", "/panic")],
                )
        }),
        "{log}"
    );
    app.signal(SIGTERM);
    let (code, _) = app.exit().await;
    assert_eq!(code, 0, "{}", app.log());
    app.assert_report("api", &[("panicked", 4), ("disconnected", 0)]);
}
