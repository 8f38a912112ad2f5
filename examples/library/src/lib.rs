//! Servers and callbacks declared in a library crate; `examples/from_library.rs`
//! runs them.

/// A status endpoint, registered by this library.
#[graceful::server(name = "status", addr = "127.0.0.1:8083")]
async fn status(_req: graceful::Request) -> &'static str {
    "library ok"
}

/// Logs that the library's shutdown work ran.
#[graceful::on_shutdown(timeout = "1s")]
async fn library_cleanup() {
    tracing::info!("library cleanup done");
}
