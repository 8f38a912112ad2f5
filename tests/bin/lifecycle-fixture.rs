//! A configurable app that the integration tests run as a child process and
//! send real signals to. Not an example: it is a test rig.
//!
//! ```text
//! lifecycle-fixture [--server NAME=ADDR]... [--callback NAME:PHASE:BEHAVIOUR]...
//!                   [--startup-ms N]
//! ```
//!
//! Without `--server`, one server `api` listens on `127.0.0.1:0`. Settings
//! come from the `GRACEFUL_*` environment variables. Every server answers:
//!
//! - `GET /`: `hello world`
//! - `GET /slow?ms=N`: waits N ms, then answers `slow done` (logs `slow request started`)
//! - `GET /hang`: never answers (logs `hanging request started`)
//! - `POST /echo`: answers the length of the body it read
//! - `GET /block?ms=N`: blocks its worker thread for N ms (`std::thread::sleep`)
//!   in the async handler, as a synchronous driver would (logs `blocking request started`)
//! - `GET /panic`: the handler panics
//! - `GET /spawn-blocking?ms=N`: awaits N ms of `spawn_blocking` work
//!   (logs `spawn_blocking request started`)
//!
//! Callback behaviours: `ok`, `err`, `panic`, `hang`, `sleep=MS`, `block=MS`
//! (blocks its thread), `spawn-blocking=MS` (awaits blocking work).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use graceful::hyper::service::service_fn;
use graceful::hyper::{Response, StatusCode};
use graceful::{App, Callback, Request, Server, ShutdownContext};
use http_body_util::{BodyExt, Full};

async fn handle(req: Request) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let body = match path.as_str() {
        "/" => Bytes::from_static(b"hello world"),
        "/slow" => {
            let ms = millis(&query);
            tracing::info!(ms, "slow request started");
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Bytes::from_static(b"slow done")
        }
        "/hang" => {
            tracing::info!("hanging request started");
            std::future::pending::<()>().await;
            unreachable!("pending never completes")
        }
        "/panic" => panic!("the handler panicked"),
        "/block" => {
            let ms = millis(&query);
            tracing::info!(ms, "blocking request started");
            std::thread::sleep(Duration::from_millis(ms));
            Bytes::from_static(b"block done")
        }
        "/spawn-blocking" => {
            let ms = millis(&query);
            tracing::info!(ms, "spawn_blocking request started");
            let work = tokio::task::spawn_blocking(move || {
                std::thread::sleep(Duration::from_millis(ms));
            });
            let _ = work.await;
            Bytes::from_static(b"spawn_blocking done")
        }
        "/echo" => match req.into_body().collect().await {
            Ok(body) => Bytes::from(body.to_bytes().len().to_string()),
            Err(_) => Bytes::from_static(b"body error"),
        },
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return Ok(response);
        }
    };
    Ok(Response::new(Full::new(body)))
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
}

fn main() {
    let mut app = App::new();
    let mut servers = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => {
                let (name, addr) = value.split_once('=').expect("--server NAME=ADDR");
                app = app.server(Server::new(name, addr, service_fn(handle)));
                servers += 1;
            }
            "--callback" => app = app.on_shutdown(callback(&value)),
            "--startup-ms" => {
                let ms: u64 = value.parse().expect("--startup-ms N");
                app = app.on_startup(async move {
                    tracing::info!("starting up");
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok::<(), Infallible>(())
                });
            }
            other => panic!("unknown argument {other}"),
        }
    }
    if servers == 0 {
        app = app.server(Server::new("api", "127.0.0.1:0", service_fn(handle)));
    }
    app.run_blocking()
}
