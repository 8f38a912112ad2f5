//! Run with: `cargo run -p graceful-examples-axum --example websocket`, then connect a WebSocket client
//! to `ws://127.0.0.1:8080/echo` and press Ctrl-C in this terminal.
//!
//! A WebSocket says goodbye at the shutdown. An upgraded connection is on
//! graceful's books: counted, held in the drain, cut off at the drain
//! deadline. The request that opens it carries the `ShutdownHandle`
//! (`Extension<ShutdownHandle>` in axum), so the socket's task hears the
//! first signal and closes with `1001 going away`.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use graceful::ShutdownHandle;

#[graceful::server(name = "api", addr = "127.0.0.1:8080")]
fn routes() -> Router {
    Router::new().route("/echo", get(upgrade))
}

async fn upgrade(ws: WebSocketUpgrade, Extension(shutdown): Extension<ShutdownHandle>) -> Response {
    ws.on_upgrade(move |socket| echo(socket, shutdown))
}

/// Echoes text until the shutdown begins, then closes with 1001.
async fn echo(mut socket: WebSocket, shutdown: ShutdownHandle) {
    loop {
        tokio::select! {
            () = shutdown.shutting_down() => break,
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
    let goodbye = CloseFrame {
        code: close_code::AWAY,
        reason: "going away".into(),
    };
    if socket.send(Message::Close(Some(goodbye))).await.is_err() {
        return;
    }
    // The client answers the close; the drain deadline bounds the wait.
    while let Some(Ok(message)) = socket.recv().await {
        if let Message::Close(_) = message {
            break;
        }
    }
}

#[graceful::main(drain_timeout = "5s")]
async fn main() {}
