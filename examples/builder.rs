//! Run with: `cargo run --example builder`, then press Ctrl-C (or `kill -TERM <pid>`).
//!
//! The runtime without attributes: the demo written with the plain
//! builder API. Two servers, a health endpoint, and a callback that flushes a
//! cache under its timeout once both servers have drained.

use std::convert::Infallible;
use std::time::Duration;

use graceful::hyper::service::service_fn;
use graceful::hyper::{Response, StatusCode};
use graceful::{App, Callback, Request, Server, ShutdownContext};

async fn hello(req: Request) -> Result<Response<String>, Infallible> {
    if req.uri().path() == "/" {
        Ok(Response::new("hello world".to_owned()))
    } else {
        let mut response = Response::new("not found".to_owned());
        *response.status_mut() = StatusCode::NOT_FOUND;
        Ok(response)
    }
}

async fn not_found(_req: Request) -> Result<Response<String>, Infallible> {
    let mut response = Response::new("not found".to_owned());
    *response.status_mut() = StatusCode::NOT_FOUND;
    Ok(response)
}

/// Saves the cache, under its timeout.
async fn store_cache_to_db(ctx: ShutdownContext) -> Result<(), String> {
    tracing::info!("flushing the cache...");
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(200)) => {
            tracing::info!("cache flushed to the database");
            Ok(())
        }
        _ = ctx.cancelled() => Err("the cache was not flushed in time".to_owned()),
    }
}

fn main() {
    App::new()
        .server(Server::new("service1", "127.0.0.1:8081", service_fn(hello)))
        .server(Server::new(
            "service2",
            "127.0.0.1:8082",
            service_fn(not_found),
        ))
        .on_shutdown(
            Callback::new("store-cache-to-db", store_cache_to_db).timeout(Duration::from_secs(3)),
        )
        .health_path("/healthz")
        .run_blocking()
}
