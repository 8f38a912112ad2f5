//! The benchmark's building blocks: the servers' common endpoints, and the
//! classified load of `graceful-load` (shared with the integration tests).

pub use graceful_load::{client, load};

/// The bare hyper server, with hyper-util's graceful shutdown as its
/// documentation shows it: stop accepting at the signal, then wait for the
/// connections, at most 10 s. `serve-hyper` runs it on the multi-threaded
/// runtime, `serve-hyper-current` on a current-thread one.
pub async fn serve_bare_hyper() -> std::io::Result<()> {
    use std::time::Duration;

    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use tokio::net::TcpListener;
    use tokio::signal::unix::{SignalKind, signal};

    let mut term = signal(SignalKind::terminate())?;
    let listener = TcpListener::bind(endpoints::listen_addr()).await?;
    eprintln!("listening addr={}", listener.local_addr()?);
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service_fn(endpoints::respond));
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

/// What every benchmarked server answers: `GET /` and `GET /slow?ms=N`.
pub mod endpoints {
    use std::time::Duration;

    /// The variable that sets a peer's address (graceful's servers read
    /// `GRACEFUL_ADDR_BENCH`): a rolling restart starts each replica again
    /// on its port.
    pub const ADDR_VAR: &str = "BENCH_ADDR";

    /// The address to listen on: [`ADDR_VAR`], or any free port.
    pub fn listen_addr() -> String {
        std::env::var(ADDR_VAR).unwrap_or_else(|_| "127.0.0.1:0".to_owned())
    }

    /// The body of `GET /`.
    pub const HELLO: &str = "hello world";
    /// The body of `GET /slow?ms=N`, after N ms.
    pub const SLOW: &str = "slow done";
    /// The content type of both bodies, as `graceful` and axum set it for a
    /// `&'static str`.
    pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

    /// The bare hyper service both `serve-hyper` and `serve-graceful-builder` run.
    pub async fn respond(
        req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
        let body = match slow_delay(req.uri().path(), req.uri().query()) {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                SLOW
            }
            None => HELLO,
        };
        let mut response = hyper::Response::new(http_body_util::Full::new(
            bytes::Bytes::from_static(body.as_bytes()),
        ));
        // The header every other server sends with a text body: the servers
        // compared must write the same bytes.
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(TEXT_PLAIN),
        );
        Ok(response)
    }

    /// The delay `/slow?ms=N` asks for, or `None` for another path.
    pub fn slow_delay(path: &str, query: Option<&str>) -> Option<Duration> {
        (path == "/slow").then(|| {
            let ms = query
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(1000);
            Duration::from_millis(ms)
        })
    }
}
