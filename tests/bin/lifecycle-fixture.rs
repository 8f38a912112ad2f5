//! A configurable app that the integration tests run as a child process and
//! send real signals to. Not an example: it is a test rig.
//!
//! ```text
//! lifecycle-fixture [--server NAME=ADDR]... [--callback NAME:PHASE:BEHAVIOUR]...
//!                   [--task NAME:STOP:PHASE:BEHAVIOUR]... [--startup-ms N]
//! ```
//!
//! Without `--server`, one server `api` listens on `127.0.0.1:0`. Settings
//! come from the `GRACEFUL_*` environment variables. Every server answers:
//!
//! - `GET /`: `hello world`
//! - `GET /slow?ms=N`: waits N ms, then answers `slow done` (logs `slow
//!   request started`, with `started = "slow"`)
//! - `GET /hang`: never answers (logs `hanging request started`, `started = "hang"`)
//! - `POST /echo`: answers the length of the body it read
//! - `GET /block?ms=N`: blocks its worker thread for N ms (`std::thread::sleep`)
//!   in the async handler, as a synchronous driver would (logs `blocking
//!   request started`, `started = "block"`)
//! - `GET /panic`: the handler panics
//! - `GET /fail`: calls `ShutdownHandle::fail`, and answers `failing`
//! - `GET /reload-tls`: calls `ShutdownHandle::reload_tls`, and answers `reloading`
//! - `GET /events`: server-sent events, a tick every 50 ms, ended with a
//!   last `bye` event when the shutdown begins
//! - `GET /upgrade` (with `Upgrade: echo`): switches protocols, writes
//!   `hello`, echoes what it reads, and at the shutdown's start writes `bye`
//!   and closes (logs `upgraded connection open`)
//! - `GET /upgrade-stubborn`: the same, but never closes by itself
//! - `GET /ws`: a WebSocket echoing text; at the shutdown it closes with
//!   `1001 going away` (logs `WebSocket open`, with `started = "websocket"`)
//! - `GET /spawn-blocking?ms=N`: awaits N ms of `spawn_blocking` work
//!   (logs `spawn_blocking request started`, `started = "spawn-blocking"`)
//! - `GET /trailers`: a body in two chunks, then trailers (`grpc-status: 0`),
//!   as every gRPC reply ends (HTTP/1 sends them when asked, `TE: trailers`)
//! - `GET /spawn-helper`: starts `sleep 60` as a helper process, as an app
//!   starts a sidecar, and answers its pid
//!
//! Callback behaviours: `ok`, `err`, `panic`, `hang`, `sleep=MS`, `block=MS`
//! (blocks its thread), `spawn-blocking=MS` (awaits blocking work). A
//! callback named `at-signal-…` runs at the first signal.
//!
//! Task behaviours (`STOP` is `signal` or `drained`): `obey` (returns once
//! told), `obey-slow=MS` (takes MS to return once told), `finish` (returns
//! at once), `fail-at-start`, `fail-after=MS`, `panic-after=MS` (while
//! running), `ignore` (never returns, ignoring its context), `block` (once
//! told, blocks its thread for a minute). Each logs `task running` with
//! `task = NAME` once it runs.
//!
//! With `FIXTURE_TLS=CERT:KEY` (PEM files), every server serves TLS.
//!
//! With `FIXTURE_FAIL_IF_INHERITED=1`, a process started with inherited
//! listeners (a restart's successor) exits with code 3 before starting: a
//! bad binary. With `FIXTURE_HANG_IF_INHERITED=1`, it never starts: a
//! binary stuck in its start-up. With `FIXTURE_BLOCK_IF_INHERITED=1`, it
//! sets its first inherited listener blocking, as a program that knows
//! nothing of non-blocking sockets does, then never starts. With
//! `FIXTURE_VERSION=V`, it says `fixture version V` first. With
//! `FIXTURE_HELPER_AT_START=1`, its start-up hook starts `sleep 60` as a
//! helper (before any listener is taken) and logs its pid as `helper`.
//!
//! Its start-up hook (with `--startup-ms` or a helper) logs `starting up`,
//! with `started = "start-up"`: the tests wait for these events by their
//! fields (with `GRACEFUL_LOG_FORMAT=json`), not by their words.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use graceful::hyper::service::service_fn;
use graceful::hyper::{Response, StatusCode};
use graceful::{
    App, Body, Callback, EndOnShutdown, Request, Server, ShutdownContext, ShutdownHandle, Task,
    TaskContext, When,
};
use http_body_util::BodyExt;

#[path = "fixture/upgrades.rs"]
mod upgrades;

async fn handle(req: Request, shutdown: ShutdownHandle) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let body = match path.as_str() {
        "/" => Bytes::from_static(b"hello world"),
        "/slow" => {
            let ms = millis(&query);
            tracing::info!(started = "slow", ms, "slow request started");
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Bytes::from_static(b"slow done")
        }
        "/hang" => {
            tracing::info!(started = "hang", "hanging request started");
            std::future::pending::<()>().await;
            unreachable!("pending never completes")
        }
        "/panic" => panic!("the handler panicked"),
        "/fail" => {
            shutdown.fail("the fixture was asked to fail");
            Bytes::from_static(b"failing")
        }
        "/reload-tls" => {
            shutdown.reload_tls();
            Bytes::from_static(b"reloading")
        }
        "/events" => {
            // A tick every 50 ms until the shutdown, then a last event.
            let ticks = Ticks(tokio::time::interval(Duration::from_millis(50)));
            let body = EndOnShutdown::new(ticks, &shutdown)
                .last_frame(Bytes::from_static(b"event: bye\ndata: going away\n\n"));
            return Ok(Response::new(Body::new(body)));
        }
        "/upgrade" | "/upgrade-stubborn" => {
            return Ok(upgrades::echo(req, path == "/upgrade"));
        }
        "/ws" => return Ok(upgrades::websocket(req)),
        "/block" => {
            let ms = millis(&query);
            tracing::info!(started = "block", ms, "blocking request started");
            std::thread::sleep(Duration::from_millis(ms));
            Bytes::from_static(b"block done")
        }
        "/spawn-blocking" => {
            let ms = millis(&query);
            tracing::info!(
                started = "spawn-blocking",
                ms,
                "spawn_blocking request started"
            );
            let work = tokio::task::spawn_blocking(move || {
                std::thread::sleep(Duration::from_millis(ms));
            });
            let _ = work.await;
            Bytes::from_static(b"spawn_blocking done")
        }
        "/trailers" => {
            let mut response = Response::new(Body::new(WithTrailers {
                chunks: 2,
                trailers: true,
            }));
            // HTTP/1 sends only the trailers a response declares.
            response.headers_mut().insert(
                "trailer",
                graceful::hyper::header::HeaderValue::from_static("grpc-status"),
            );
            return Ok(response);
        }
        "/spawn-helper" => match std::process::Command::new("sleep").arg("60").spawn() {
            Ok(helper) => Bytes::from(helper.id().to_string()),
            Err(err) => Bytes::from(format!("cannot start the helper: {err}")),
        },
        "/echo" => match req.into_body().collect().await {
            Ok(body) => Bytes::from(body.to_bytes().len().to_string()),
            Err(_) => Bytes::from_static(b"body error"),
        },
        _ => {
            let mut response = Response::new(Body::from("not found"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return Ok(response);
        }
    };
    Ok(Response::new(Body::from(body)))
}

/// An endless server-sent event stream: `data: tick` at every interval.
struct Ticks(tokio::time::Interval);

impl graceful::hyper::body::Body for Ticks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<graceful::hyper::body::Frame<Bytes>, Infallible>>> {
        self.0.poll_tick(cx).map(|_| {
            Some(Ok(graceful::hyper::body::Frame::data(Bytes::from_static(
                b"data: tick\n\n",
            ))))
        })
    }
}

/// Data chunks, then trailers, then the end: `chunks` left to send, and
/// whether the trailers are still to come.
struct WithTrailers {
    chunks: u8,
    trailers: bool,
}

impl graceful::hyper::body::Body for WithTrailers {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<graceful::hyper::body::Frame<Bytes>, Infallible>>> {
        use graceful::hyper::body::Frame;
        let frame = if self.chunks > 0 {
            self.chunks -= 1;
            Frame::data(Bytes::from_static(b"chunk\n"))
        } else if std::mem::take(&mut self.trailers) {
            let mut trailers = graceful::hyper::HeaderMap::new();
            trailers.insert(
                "grpc-status",
                graceful::hyper::header::HeaderValue::from_static("0"),
            );
            Frame::trailers(trailers)
        } else {
            return std::task::Poll::Ready(None);
        };
        std::task::Poll::Ready(Some(Ok(frame)))
    }
}

/// `ms=N` in the query, else 1000.
fn millis(query: &str) -> u64 {
    query
        .strip_prefix("ms=")
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1000)
}

fn callback(spec: &str) -> Callback {
    let mut parts = spec.splitn(3, ':');
    let (Some(name), Some(phase), Some(behaviour)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("--callback NAME:PHASE:BEHAVIOUR, got {spec:?}");
    };
    let phase: i32 = phase.parse().expect("a numeric phase");
    let behaviour = behaviour.to_owned();
    Callback::new(name, move |ctx: ShutdownContext| async move {
        tracing::info!(callback = ctx.name(), "callback started");
        match behaviour.as_str() {
            "ok" => Ok(()),
            "err" => Err("the callback failed".to_owned()),
            "panic" => panic!("the callback panicked"),
            "hang" => std::future::pending().await,
            timed => {
                let (kind, ms) = timed
                    .split_once('=')
                    .and_then(|(kind, ms)| Some((kind, ms.parse().ok()?)))
                    .expect("ok, err, panic, hang, sleep=MS, block=MS or spawn-blocking=MS");
                let ms = Duration::from_millis(ms);
                match kind {
                    "sleep" => tokio::time::sleep(ms).await,
                    "block" => std::thread::sleep(ms),
                    "spawn-blocking" => {
                        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(ms)).await;
                    }
                    other => panic!("unknown callback behaviour {other}"),
                }
                Ok(())
            }
        }
    })
    .phase(phase)
    .when(if name.starts_with("at-signal-") {
        When::Signal
    } else {
        When::Drained
    })
}

fn task(spec: &str) -> Task {
    let parts: Vec<&str> = spec.splitn(4, ':').collect();
    let [name, stop, phase, behaviour] = parts[..] else {
        panic!("--task NAME:STOP:PHASE:BEHAVIOUR, got {spec:?}");
    };
    let stop: When = stop.parse().expect("signal or drained");
    let phase: i32 = phase.parse().expect("a numeric phase");
    let behaviour = behaviour.to_owned();
    Task::new(name, move |ctx: TaskContext| async move {
        let (kind, ms) = match behaviour.split_once('=') {
            Some((kind, ms)) => (kind.to_owned(), ms.parse().expect("MS")),
            None => (behaviour.clone(), 0),
        };
        let ms = Duration::from_millis(ms);
        if kind == "fail-at-start" {
            return Err("the task could not start".to_owned());
        }
        tracing::info!(task = ctx.name(), "task running");
        match kind.as_str() {
            "finish" => Ok(()),
            "obey" => {
                ctx.stopping().await;
                Ok(())
            }
            "obey-slow" => {
                ctx.stopping().await;
                tokio::time::sleep(ms).await;
                Ok(())
            }
            "fail-after" => {
                tokio::time::sleep(ms).await;
                Err("the task failed".to_owned())
            }
            "panic-after" => {
                tokio::time::sleep(ms).await;
                panic!("the task panicked")
            }
            "ignore" => std::future::pending().await,
            "block" => {
                ctx.stopping().await;
                std::thread::sleep(Duration::from_secs(60));
                Ok(())
            }
            other => panic!("unknown task behaviour {other}"),
        }
    })
    .stop(stop)
    .phase(phase)
}

fn main() {
    if let Ok(version) = std::env::var("FIXTURE_VERSION") {
        eprintln!("fixture version {version}");
    }
    if std::env::var_os("FIXTURE_FAIL_IF_INHERITED").is_some()
        && std::env::var_os("LISTEN_FDS").is_some()
    {
        eprintln!("fixture: failing on purpose, as a bad binary would");
        std::process::exit(3);
    }
    if std::env::var_os("FIXTURE_HANG_IF_INHERITED").is_some()
        && std::env::var_os("LISTEN_FDS").is_some()
    {
        eprintln!("fixture: hanging on purpose, as a stuck start would");
        std::thread::sleep(Duration::from_secs(600));
    }
    if std::env::var_os("FIXTURE_BLOCK_IF_INHERITED").is_some()
        && std::env::var_os("LISTEN_FDS").is_some()
    {
        use std::os::fd::{FromRawFd, IntoRawFd};
        // SAFETY: descriptor 3 is the first inherited listener (LISTEN_FDS
        // is set), open for this process's life; it is given back unclosed.
        let listener = unsafe { std::net::TcpListener::from_raw_fd(3) };
        let blocking = listener.set_nonblocking(false);
        let _ = listener.into_raw_fd();
        eprintln!("fixture: set the inherited listener blocking ({blocking:?}), hanging");
        std::thread::sleep(Duration::from_secs(600));
    }
    let mut app = App::new();
    let shutdown = app.handle();
    let service = move || {
        let shutdown = shutdown.clone();
        service_fn(move |req| handle(req, shutdown.clone()))
    };
    let mut servers = 0;
    let mut startup_ms = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => {
                let (name, addr) = value.split_once('=').expect("--server NAME=ADDR");
                app = app.server(tls(Server::new(name, addr, service())));
                servers += 1;
            }
            "--callback" => app = app.on_shutdown(callback(&value)),
            "--task" => app = app.task(task(&value)),
            "--startup-ms" => startup_ms = Some(value.parse().expect("--startup-ms N")),
            other => panic!("unknown argument {other}"),
        }
    }
    let helper = std::env::var_os("FIXTURE_HELPER_AT_START").is_some();
    if startup_ms.is_some() || helper {
        app = app.on_startup(async move {
            tracing::info!(started = "start-up", "starting up");
            if helper {
                // A sidecar started before the listeners are taken.
                match std::process::Command::new("sleep").arg("60").spawn() {
                    Ok(helper) => tracing::info!(helper = helper.id(), "fixture: helper started"),
                    Err(err) => tracing::error!(error = %err, "fixture: cannot start the helper"),
                }
            }
            tokio::time::sleep(Duration::from_millis(startup_ms.unwrap_or(0))).await;
            Ok::<(), Infallible>(())
        });
    }
    if servers == 0 {
        app = app.server(tls(Server::new("api", "127.0.0.1:0", service())));
    }
    app.run_blocking()
}

/// `server`, serving TLS with `FIXTURE_TLS=CERT:KEY`.
fn tls(server: Server) -> Server {
    match std::env::var("FIXTURE_TLS") {
        Ok(files) => {
            let (cert, key) = files.split_once(':').expect("FIXTURE_TLS=CERT:KEY");
            server.tls(graceful::Tls::from_pem_files(cert, key))
        }
        Err(_) => server,
    }
}
