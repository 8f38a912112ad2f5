//! Run with: `cargo run --example state`, then `curl 127.0.0.1:8080/visits`
//! a few times, and press Ctrl-C.
//!
//! Shared state without statics. `main`'s body builds it (asynchronously if
//! need be: open a pool, load a cache) and hands it over with
//! `graceful::provide`; handlers, functions returning a router and shutdown
//! callbacks ask for it by type with a `State<T>` parameter. The body runs
//! before anything asks, and a state nobody provided is a start-up error
//! naming the type and the function.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use graceful::State;

/// What the app shares: usually a pool, a client, a cache.
struct Visits {
    count: AtomicU64,
}

#[graceful::server(name = "api", addr = "127.0.0.1:8080", path = "/visits")]
async fn visit(State(visits): State<Arc<Visits>>) -> String {
    let count = visits.count.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{count}\n")
}

#[graceful::on_shutdown(phase = 1)]
async fn save(State(visits): State<Arc<Visits>>) {
    // Runs after every request has drained: the count is final.
    tracing::info!(
        visits = visits.count.load(Ordering::Relaxed),
        "visits saved"
    );
}

/// Stands for loading the state from somewhere slow.
async fn load() -> Visits {
    tokio::task::yield_now().await;
    Visits {
        count: AtomicU64::new(0),
    }
}

#[graceful::main]
async fn main() {
    graceful::provide(Arc::new(load().await));
}
