//! The benchmark's `graceful` server with its metrics on: the same handler
//! as `serve-graceful`, with the `prometheus` feature and a `metrics_path`
//! (the recorder installed, every request in the duration histogram).

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

#[graceful::main(metrics_path = "/metrics")]
async fn main() {}
