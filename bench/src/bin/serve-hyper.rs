//! The benchmark's bare hyper server, with hyper-util's graceful shutdown as
//! its documentation shows it: stop accepting at the signal, then wait for
//! the connections, at most 10 s.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use graceful_bench::endpoints;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(delay) = endpoints::slow_delay(req.uri().path(), req.uri().query()) {
        tokio::time::sleep(delay).await;
        return Ok(Response::new(Full::new(Bytes::from_static(
            endpoints::SLOW.as_bytes(),
        ))));
    }
    Ok(Response::new(Full::new(Bytes::from_static(
        endpoints::HELLO.as_bytes(),
    ))))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    eprintln!("listening addr={}", listener.local_addr()?);
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service_fn(handle));
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = term.recv() => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
    Ok(())
}
