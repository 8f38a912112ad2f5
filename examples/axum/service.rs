//! Run with: `cargo run -p graceful-examples-axum --example service`, then
//! `curl -X PUT 127.0.0.1:8080/items/a -H 'content-type: application/json' -d '{"value":"hello"}'`,
//! `curl 127.0.0.1:8080/items/a`, `curl -N 127.0.0.1:8080/events`, and Ctrl-C.
//!
//! A whole service: a JSON API on state built asynchronously at start-up, an
//! axum router on that state, a streaming route that says goodbye at the
//! shutdown, a health endpoint, and a callback that closes the store once
//! every request has drained.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State as Axum};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use futures_util::stream;
use graceful::hyper::body::Frame;
use graceful::{EndOnShutdown, ShutdownHandle, State};
use http_body_util::StreamBody;
use serde::{Deserialize, Serialize};

/// The store: a map here; a pool in a real service.
type Store = Arc<Mutex<HashMap<String, String>>>;

#[derive(Serialize, Deserialize)]
struct Item {
    value: String,
}

#[graceful::server(name = "api", addr = "127.0.0.1:8080")]
fn api(State(store): State<Store>, shutdown: ShutdownHandle) -> Router {
    Router::new()
        .route("/items/{key}", get(read).put(write))
        .route("/events", get(move || events(shutdown.clone())))
        .with_state(store)
}

async fn read(Axum(store): Axum<Store>, Path(key): Path<String>) -> Result<Json<Item>, StatusCode> {
    let value = store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .cloned();
    value
        .map(|value| Json(Item { value }))
        .ok_or(StatusCode::NOT_FOUND)
}

async fn write(
    Axum(store): Axum<Store>,
    Path(key): Path<String>,
    Json(item): Json<Item>,
) -> StatusCode {
    store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, item.value);
    StatusCode::CREATED
}

/// Server-sent events, a tick every 200 ms, ended by a last event at the shutdown.
async fn events(shutdown: ShutdownHandle) -> Response {
    let ticks = stream::unfold(0u64, |n| async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let frame = Frame::data(Bytes::from(format!("data: tick {n}\n\n")));
        Some((Ok::<_, std::convert::Infallible>(frame), n + 1))
    });
    let body = EndOnShutdown::new(StreamBody::new(ticks), &shutdown)
        .last_frame("event: bye\ndata: going away\n\n");
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::new(body),
    )
        .into_response()
}

#[graceful::on_shutdown(phase = 1)]
async fn close(State(store): State<Store>) {
    let items = store.lock().unwrap_or_else(|e| e.into_inner()).len();
    tracing::info!(items, "store closed");
}

#[graceful::main(health_path = "/healthz")]
async fn main() {
    // A real service would connect to its database here.
    let store: Store = Arc::default();
    graceful::provide(store);
}
