//! Run with: `cargo run -p graceful-examples-axum --example axum`, then `curl 127.0.0.1:8080/hello` and Ctrl-C.
//!
//! Keep your axum routing and middleware; get graceful's lifecycle. A
//! `#[graceful::server]` on a plain `fn` that returns an `axum::Router` (any
//! `tower::Service`) serves it, with the drain, the 503s and the report.

use axum::Router;
use axum::routing::get;

#[graceful::server(name = "api", addr = "127.0.0.1:8080")]
fn routes() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello from axum" }))
        .route("/slow", get(slow))
}

async fn slow() -> &'static str {
    tracing::info!("slow request started");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    "slow done"
}

#[graceful::main(drain_timeout = "5s")]
async fn main() {}
