//! The benchmark's building blocks: the servers' common endpoints, and the
//! classified load of `graceful-load` (shared with the integration tests).

pub use graceful_load::{client, load};

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
