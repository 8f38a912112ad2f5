//! Run with: `cargo run --example demo`, then `curl 127.0.0.1:8081` and Ctrl-C.
//!
//! The demo, written with attributes: `service1` answers "hello world"
//! on 127.0.0.1:8081, `service2` listens on 127.0.0.1:8082, and once both
//! have drained, a callback flushes the cache of visits to a store under its
//! timeout. Every request in flight at the signal is answered first.

use std::sync::{Arc, Mutex};

use graceful::hyper::StatusCode;
use graceful::{Request, ShutdownContext, State};

/// Visits not yet saved: the cache the shutdown must not lose.
type Cache = Arc<Mutex<Vec<String>>>;

#[graceful::server(name = "service1", addr = "127.0.0.1:8081", path = "/")]
async fn hello(req: Request, State(cache): State<Cache>) -> &'static str {
    if let Ok(mut cache) = cache.lock() {
        cache.push(req.uri().path().to_owned());
    }
    "hello world"
}

#[graceful::server(name = "service2", addr = "127.0.0.1:8082")]
async fn service2(_req: Request) -> StatusCode {
    StatusCode::NOT_FOUND
}

/// Saves the cached visits under its timeout: writes the
/// cached visits to a file standing in for the database.
#[graceful::on_shutdown(timeout = "3s")]
async fn store_cache_to_db(ctx: ShutdownContext, State(cache): State<Cache>) -> Result<(), String> {
    let visits = std::mem::take(&mut *cache.lock().map_err(|e| e.to_string())?);
    let store = std::env::temp_dir().join("graceful-demo-store.txt");
    let mut text = visits.join("\n");
    text.push('\n');
    tokio::select! {
        written = tokio::fs::write(&store, text) => {
            written.map_err(|e| format!("cannot write {}: {e}", store.display()))?;
            tracing::info!(visits = visits.len(), store = %store.display(), "cache flushed to the store");
            Ok(())
        }
        _ = ctx.cancelled() => Err(format!("{} visits not flushed in time", visits.len())),
    }
}

#[graceful::main]
async fn main() {
    graceful::provide(Cache::default());
}
