//! The benchmark's axum-server TLS server (rustls with ring, given
//! explicitly), with its `Handle`'s graceful shutdown on SIGTERM (10 s, as
//! bare hyper); the certificate and key from `TLS_CERT` and `TLS_KEY`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Uri;
use axum::routing::get;
use axum_server::tls_rustls::RustlsConfig;
use graceful_bench::endpoints;
use tokio::signal::unix::{SignalKind, signal};

async fn slow(uri: Uri) -> &'static str {
    if let Some(delay) = endpoints::slow_delay(uri.path(), uri.query()) {
        tokio::time::sleep(delay).await;
    }
    endpoints::SLOW
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let config = RustlsConfig::from_config(Arc::new(graceful_bench_tls::server_config()?));
    let listener = std::net::TcpListener::bind(endpoints::listen_addr())?;
    listener.set_nonblocking(true)?;
    eprintln!("listening addr={}", listener.local_addr()?);
    let app = Router::new()
        .route("/", get(|| async { endpoints::HELLO }))
        .route("/slow", get(slow));
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        term.recv().await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(app.into_make_service())
        .await
}
