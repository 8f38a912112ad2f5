//! The benchmark's `graceful` server, written as a user would: attributes.

use graceful::Request;
use graceful_bench::endpoints;

#[graceful::server(name = "bench", addr = "127.0.0.1:0")]
async fn serve(req: Request) -> &'static str {
    if let Some(delay) = endpoints::slow_delay(req.uri().path(), req.uri().query()) {
        tokio::time::sleep(delay).await;
        return endpoints::SLOW;
    }
    endpoints::HELLO
}

#[graceful::main]
async fn main() {}
