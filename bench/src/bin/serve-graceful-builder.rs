//! The benchmark's `graceful` server without attributes: the builder API
//! with the same service as the bare hyper server, to tell the runtime's
//! cost from the attributes' cost.

use std::convert::Infallible;

use bytes::Bytes;
use graceful::{App, Request, Server};
use graceful_bench::endpoints;
use http_body_util::Full;
use hyper::Response;
use hyper::service::service_fn;

async fn handle(req: Request) -> Result<Response<Full<Bytes>>, Infallible> {
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

fn main() {
    App::new()
        .server(Server::new("bench", "127.0.0.1:0", service_fn(handle)))
        .run_blocking()
}
