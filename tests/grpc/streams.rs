//! Streaming RPCs, with tonic's client: a server stream sees the shutdown
//! through the `ShutdownHandle` in its request's extensions and ends
//! cleanly; one that ignores it is cut at the drain deadline and named in
//! the report. Connections that never say their preface hold nothing.

use nix::sys::signal::Signal::SIGTERM;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::grpc_app;
use crate::pb::Job;
use crate::pb::work_client::WorkClient;
use crate::support::PATIENCE;

async fn client(addr: std::net::SocketAddr) -> WorkClient<tonic::transport::Channel> {
    WorkClient::connect(format!("http://{addr}"))
        .await
        .expect("tonic connects")
}

#[tokio::test]
async fn a_server_stream_ends_cleanly_when_the_shutdown_begins() {
    let mut app = grpc_app(&[]);
    let addr = app.addr("grpc").await;
    let mut ticks = client(addr)
        .await
        .ticks(Job {
            ms: 20,
            ignore_shutdown: false,
        })
        .await
        .expect("the stream starts")
        .into_inner();
    for n in 0..3 {
        let tick = ticks.message().await.expect("a tick").expect("a tick");
        assert_eq!((tick.n, tick.last), (n, false));
    }

    app.signal(SIGTERM);
    let last = loop {
        let tick = tokio::time::timeout(PATIENCE, ticks.message())
            .await
            .expect("the stream goes on")
            .expect("no error")
            .expect("a last tick before the end");
        if tick.last {
            break tick;
        }
    };
    // Then the end, with OK.
    let end = ticks.message().await;
    assert!(matches!(end, Ok(None)), "{end:?}\n{}", app.log());
    assert!(last.n >= 3);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
    app.assert_report("grpc", &[("cut_off", 0), ("connections_aborted", 0)]);
}

#[tokio::test]
async fn a_server_stream_ignoring_the_shutdown_is_cut_at_the_deadline_and_named() {
    let mut app = grpc_app(&[("GRACEFUL_DRAIN_TIMEOUT", "500ms")]);
    let addr = app.addr("grpc").await;
    let mut ticks = client(addr)
        .await
        .ticks(Job {
            ms: 20,
            ignore_shutdown: true,
        })
        .await
        .expect("the stream starts")
        .into_inner();
    ticks.message().await.expect("a tick").expect("a tick");

    app.signal(SIGTERM);
    let ended = loop {
        match tokio::time::timeout(PATIENCE, ticks.message())
            .await
            .expect("the stream is cut in time")
        {
            Ok(Some(_)) => {}
            other => break other,
        }
    };
    assert!(ended.is_err(), "a cut stream ends with an error: {ended:?}");
    assert_eq!(
        app.exit().await.0,
        graceful::exit_code::REQUESTS_CUT_OFF.code(),
        "{}",
        app.log()
    );
    // The report names it: the service and the method.
    let cut = app
        .event_where(&[
            ("cut_at", "drain-deadline"),
            ("path", "/fixture.Work/Ticks"),
        ])
        .unwrap_or_else(|| panic!("the stream is not named\n{}", app.log()));
    assert_eq!(cut["method"], "POST", "{cut}");
    app.assert_report("grpc", &[("cut_off", 1)]);
}

/// A connection that says nothing, and one that says only HTTP/2's preface
/// (no SETTINGS, no stream): neither holds the shutdown.
#[tokio::test]
async fn connections_that_never_send_the_preface_do_not_hold_the_shutdown() {
    let mut app = grpc_app(&[]);
    let addr = app.addr("grpc").await;
    let sockets = app.sockets();
    let silent = TcpStream::connect(addr).await.expect("connect");
    let mut preface_only = TcpStream::connect(addr).await.expect("connect");
    preface_only
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("write the preface");
    app.wait_for_sockets(sockets + 2).await;

    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
    app.assert_report("grpc", &[("cut_off", 0), ("connections_aborted", 0)]);
    drop((silent, preface_only));
}
