//! The benchmark's `graceful` TLS server: the same handler as `serve-graceful`,
//! made a TLS server by the environment (`GRACEFUL_TLS_CERT_BENCH` and
//! `GRACEFUL_TLS_KEY_BENCH`, which the benchmark sets), as a deployment does.

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
