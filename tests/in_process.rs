//! The lifecycle run in-process through `ShutdownHandle`, over real TCP.

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use graceful::hyper::Response;
use graceful::hyper::service::service_fn;
use graceful::{
    App, Callback, CallbackOutcome, Error, Request, Server, ShutdownContext, exit_code,
};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{Outcome, connect, get, send};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Barrier, mpsc};

fn hello() -> impl hyper::service::Service<
    Request,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
> + Clone
+ Send
+ 'static {
    service_fn(|req: Request| async move {
        if req.uri().path() == "/slow" {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello world"))))
    })
}

fn app() -> App {
    App::new().server(Server::new("api", "127.0.0.1:0", hello()))
}

type Events = Arc<Mutex<Vec<(String, &'static str)>>>;

fn recording(events: &Events, name: &str, work: Duration) -> Callback {
    let events = Arc::clone(events);
    let name = name.to_owned();
    Callback::new(name.clone(), move |_ctx| async move {
        events.lock().unwrap().push((name.clone(), "start"));
        tokio::time::sleep(work).await;
        events.lock().unwrap().push((name, "end"));
    })
}

#[tokio::test]
async fn callback_phases_run_in_order_and_each_phase_runs_concurrently() {
    let events = Events::default();
    let barrier = Arc::new(Barrier::new(2));
    let together = |name: &str| {
        let barrier = Arc::clone(&barrier);
        let events = Arc::clone(&events);
        let name = name.to_owned();
        Callback::new(name.clone(), move |_ctx| async move {
            events.lock().unwrap().push((name.clone(), "start"));
            // Completes only if the other callback of the phase runs meanwhile.
            barrier.wait().await;
            events.lock().unwrap().push((name, "end"));
        })
        .timeout(Duration::from_secs(5))
    };
    let running = app()
        .on_shutdown(recording(&events, "close-db", Duration::from_millis(10)).phase(1))
        .on_shutdown(together("flush-a"))
        .on_shutdown(together("flush-b"))
        .on_shutdown(recording(&events, "last", Duration::ZERO).phase(7))
        .start()
        .await
        .unwrap();
    running.handle().shutdown();
    let report = running.wait().await;
    assert_eq!(report.exit_code(), exit_code::SUCCESS, "{report}");
    let order: Vec<_> = report
        .callbacks
        .iter()
        .map(|c| (c.name.as_str(), c.phase))
        .collect();
    assert_eq!(
        order,
        [("flush-a", 0), ("flush-b", 0), ("close-db", 1), ("last", 7)]
    );

    let events = events.lock().unwrap().clone();
    let at = |name: &str, what: &str| {
        events
            .iter()
            .position(|(n, w)| n == name && *w == what)
            .unwrap_or_else(|| panic!("{name} {what} missing: {events:?}"))
    };
    assert!(at("flush-a", "end") < at("close-db", "start"));
    assert!(at("flush-b", "end") < at("close-db", "start"));
    assert!(at("close-db", "end") < at("last", "start"));
}

// Two workers, as the generated main has: the panicking callback's
// backtrace (`RUST_BACKTRACE=1`) is resolved on its thread, for seconds on
// a loaded machine, and must not hold the other callbacks' timers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_panicking_or_overrunning_callback_never_stops_the_others() {
    let events = Events::default();
    let running = app()
        .on_shutdown(Callback::new("fails", |_ctx| async {
            Err::<(), _>("disk full")
        }))
        .on_shutdown(Callback::new("panics", |_ctx| async {
            if true {
                panic!("boom");
            }
        }))
        .on_shutdown(
            Callback::new("hangs", |_ctx| std::future::pending::<()>())
                .timeout(Duration::from_millis(100)),
        )
        .on_shutdown(
            Callback::new("stops-when-told", |ctx: ShutdownContext| async move {
                ctx.cancelled().await;
                assert!(ctx.is_cancelled());
                assert_eq!(ctx.remaining(), Duration::ZERO);
                Err::<(), _>("3 items not flushed")
            })
            .timeout(Duration::from_millis(100)),
        )
        .on_shutdown(recording(&events, "after", Duration::ZERO).phase(1))
        .start()
        .await
        .unwrap();
    running.handle().shutdown();
    let report = running.wait().await;
    assert_eq!(report.exit_code(), exit_code::CALLBACK_FAILED, "{report}");
    let outcome = |name: &str| {
        report
            .callbacks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .outcome
            .clone()
    };
    assert_eq!(
        outcome("fails"),
        CallbackOutcome::Failed("disk full".into())
    );
    assert_eq!(outcome("panics"), CallbackOutcome::Panicked("boom".into()));
    assert_eq!(
        outcome("hangs"),
        CallbackOutcome::TimedOut {
            message: None,
            aborted: true
        }
    );
    assert_eq!(
        outcome("stops-when-told"),
        CallbackOutcome::TimedOut {
            message: Some("3 items not flushed".into()),
            aborted: false
        }
    );
    assert_eq!(outcome("after"), CallbackOutcome::Succeeded);
    let hangs = report.callbacks.iter().find(|c| c.name == "hangs").unwrap();
    assert!(hangs.duration >= Duration::from_millis(100));
    assert!(
        hangs.duration < Duration::from_secs(2),
        "the timeout was not applied: {:?}",
        hangs.duration
    );
    let shown = report.to_string();
    assert!(
        shown.contains("callback stops-when-told (phase 0): timed out: 3 items not flushed"),
        "{shown}"
    );
}

#[tokio::test]
async fn the_request_token_is_cancelled_at_the_drain_deadline_not_at_the_signal() {
    let app = App::new().drain_timeout(Duration::from_millis(300));
    let handle = app.handle();
    let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, bool, Instant)>();
    let service = service_fn(move |_req: Request| {
        let handle = handle.clone();
        let tx = tx.clone();
        async move {
            // Work the handler spawned, watching the token.
            tokio::spawn({
                let handle = handle.clone();
                let tx = tx.clone();
                async move {
                    handle.shutting_down().await;
                    let _ = tx.send(("begun", handle.is_cancelled(), Instant::now()));
                    handle.cancelled().await;
                    let _ = tx.send(("cancelled", handle.is_cancelled(), Instant::now()));
                }
            });
            let _ = tx.send(("started", handle.is_cancelled(), Instant::now()));
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }
    });
    let running = app
        .server(Server::new("api", "127.0.0.1:0", service))
        .start()
        .await
        .unwrap();
    let addr = running.local_addr("api").unwrap();
    let client = tokio::spawn(async move {
        let mut sender = support::connect(addr).await.unwrap();
        support::send(&mut sender, "GET", "/stuck?id=1", b"").await
    });
    assert_eq!(rx.recv().await.unwrap().0, "started");
    running.handle().shutdown();
    let report = running.wait().await;

    let (what, cancelled, begun_at) = rx.recv().await.unwrap();
    assert_eq!(
        (what, cancelled),
        ("begun", false),
        "not cancelled at the signal"
    );
    let (what, cancelled, cancelled_at) = rx.recv().await.unwrap();
    assert_eq!((what, cancelled), ("cancelled", true));
    assert!(cancelled_at - begun_at >= Duration::from_millis(300));

    assert_eq!(report.exit_code(), exit_code::REQUESTS_CUT_OFF, "{report}");
    assert_eq!(report.cut_off.len(), 1);
    let cut = &report.cut_off[0];
    assert_eq!(
        (cut.server.as_str(), cut.method.as_ref(), cut.path.as_str()),
        ("api", Some(&graceful::hyper::Method::GET), "/stuck")
    );
    // The age is read on the hot path's coarse clock, exact to its tick
    // (1 to 4 ms): the deadline came 300 ms after the signal, a tick at most
    // earlier on that clock.
    assert!(cut.age >= Duration::from_millis(300 - 4), "{:?}", cut.age);
    assert_eq!(report.servers[0].cut_off, 1);
    assert!(matches!(client.await.unwrap(), support::Outcome::Failed(_)));
    assert!(
        report.to_string().contains("cut off: api GET /stuck after"),
        "{report}"
    );
}

#[tokio::test]
async fn http2_requests_in_flight_finish_then_the_connection_goes_away() {
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let service = service_fn(move |req: Request| {
        let started_tx = started_tx.clone();
        async move {
            if req.uri().path() == "/slow" {
                let _ = started_tx.send(());
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello world"))))
        }
    });
    let running = App::new()
        .server(Server::new("api", "127.0.0.1:0", service))
        .start()
        .await
        .unwrap();
    let addr = running.local_addr("api").unwrap();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let request = |path: &str| {
        hyper::Request::builder()
            .uri(format!("http://{addr}{path}"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    assert_eq!(
        sender.send_request(request("/")).await.unwrap().status(),
        200
    );
    let slow = tokio::spawn(sender.send_request(request("/slow")));
    started.recv().await.unwrap();
    let handle = running.handle();
    let report = tokio::spawn(running.wait());
    handle.shutdown();
    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello world");
    // GOAWAY: the client connection ends cleanly.
    conn.await.unwrap().unwrap();
    let report = report.await.unwrap();
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(
        (report.servers[0].served, report.servers[0].drained),
        (1, 1)
    );
}

#[tokio::test]
async fn duplicate_names_and_addresses_are_refused_before_anything_starts() {
    let line = line!() + 2;
    let err = App::new()
        .server(Server::new("api", "127.0.0.1:0", hello()))
        .server(Server::new("api", "127.0.0.1:0", hello()))
        .start()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::DuplicateName { .. }), "{message}");
    assert!(
        message.contains(&format!("in_process.rs:{line}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("in_process.rs:{}", line + 1)),
        "{message}"
    );

    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    drop(taken);
    let line = line!() + 2;
    let err = App::new()
        .server(Server::new("a", addr.clone(), hello()))
        .server(Server::new("b", addr.clone(), hello()))
        .start()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "servers \"a\" (tests/in_process.rs:{line}) and \"b\" (tests/in_process.rs:{}) would both listen on {addr}",
            line + 1
        )
    );

    let err = app()
        .on_shutdown(Callback::new("flush", |_ctx| async {}))
        .on_shutdown(Callback::new("flush", |_ctx| async {}))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateCallback { .. }), "{err}");

    let err = App::new().start().await.unwrap_err();
    assert!(matches!(err, Error::NoServers));
    assert_eq!(err.exit_code(), 2);
}

#[tokio::test]
async fn a_failed_bind_releases_every_listener_already_bound() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taken_addr = taken.local_addr().unwrap();
    let free_addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let err = App::new()
        .server(Server::new("first", free_addr.to_string(), hello()))
        .server(Server::new("second", taken_addr.to_string(), hello()))
        .start()
        .await
        .unwrap_err();
    match &err {
        Error::Bind {
            server,
            addr,
            source,
        } => {
            assert_eq!(server, "second");
            assert_eq!(*addr, graceful::ListenAddr::Tcp(taken_addr));
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("{other}"),
    }
    TcpListener::bind(free_addr).await.expect("released");
    let err = App::new()
        .server(Server::new("bad", "not an address", hello()))
        .start()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("server \"bad\": cannot resolve address \"not an address\""),
        "{err}"
    );
}

#[tokio::test]
async fn the_startup_hook_runs_before_binding_and_its_error_aborts_the_start() {
    let err = app()
        .on_startup(async { Err::<(), _>(std::io::Error::other("database unreachable")) })
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "start-up failed: database unreachable");

    let running = app()
        .on_startup(async { Ok::<(), Infallible>(()) })
        .start()
        .await
        .unwrap();
    let addr = running.local_addr("api").unwrap();
    assert_eq!(get(addr, "/").await.text(), "hello world");
    running.handle().shutdown();
    let report = running.wait().await;
    assert_eq!(report.servers[0].served, 1);
    assert_eq!(
        report
            .phases
            .iter()
            .map(|p| p.name.to_string())
            .collect::<Vec<_>>(),
        ["not-ready", "refuse", "drain"]
    );
}

#[tokio::test]
async fn the_report_counts_requests_of_connections_closed_and_still_open() {
    let running = app().start().await.unwrap();
    let addr = running.local_addr("api").unwrap();
    // Two connections the client closes while the server runs...
    for _ in 0..2 {
        assert_eq!(get(addr, "/").await.text(), "hello world");
    }
    // ...and one still open at the shutdown.
    let mut open = connect(addr).await.unwrap();
    for _ in 0..3 {
        assert!(matches!(
            send(&mut open, "GET", "/", b"").await,
            Outcome::Answered(_)
        ));
    }
    running.handle().shutdown();
    let report = running.wait().await;
    let server = &report.servers[0];
    assert_eq!(
        (server.served, server.drained, server.in_flight),
        (5, 0, 0),
        "{report}"
    );
    drop(open);
}
