//! Run with: `cargo run --example sse`, then `curl -N 127.0.0.1:8080/events`
//! and press Ctrl-C in this terminal.
//!
//! A server-sent event stream ends cleanly at the shutdown. A streaming
//! response is a request in flight, which nothing but the drain deadline
//! would end; wrapped in `EndOnShutdown`, it sends a last event at the first
//! signal and completes, so the client knows to reconnect elsewhere and the
//! drain does not wait.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use graceful::hyper::Response;
use graceful::hyper::body::Frame;
use graceful::hyper::header::{CONTENT_TYPE, HeaderValue};
use graceful::{Body, EndOnShutdown, Request, ShutdownHandle};
use http_body_util::StreamBody;

#[graceful::server(name = "events", addr = "127.0.0.1:8080", path = "/events")]
async fn events(_req: Request, shutdown: ShutdownHandle) -> Response<Body> {
    let ticks = stream::unfold(0u64, |n| async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let event = Frame::data(Bytes::from(format!("data: tick {n}\n\n")));
        Some((Ok::<_, Infallible>(event), n + 1))
    });
    let body = EndOnShutdown::new(StreamBody::new(ticks), &shutdown)
        .last_frame("event: bye\ndata: the server is going away\n\n");
    let mut response = Response::new(Body::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response
}

#[graceful::main]
async fn main() {}
