//! The benchmark's `graceful` server with one function per path: the two
//! handlers share the server through its router, which boxes each request's
//! future (a server of one handler needs neither). Both take the request,
//! as the other servers' handlers do, so that the comparison is the routing.

use graceful::Request;
use graceful_bench::endpoints;

#[graceful::server(name = "bench", path = "/slow")]
async fn slow(req: Request) -> &'static str {
    if let Some(delay) = endpoints::slow_delay(req.uri().path(), req.uri().query()) {
        tokio::time::sleep(delay).await;
    }
    endpoints::SLOW
}

#[graceful::server(name = "bench", addr = "127.0.0.1:0")]
async fn hello(_req: Request) -> &'static str {
    endpoints::HELLO
}

#[graceful::main]
async fn main() {}
