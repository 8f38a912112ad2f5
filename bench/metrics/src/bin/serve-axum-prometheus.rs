//! The benchmark's axum server with axum-prometheus: the same routes as
//! `serve-axum`, behind its `PrometheusMetricLayer`, with its metrics at
//! `/metrics`, as its README sets it up.

use axum::Router;
use axum::http::Uri;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum_prometheus::PrometheusMetricLayer;
use graceful_bench::endpoints;
use tokio::net::TcpListener;
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
    let listener = TcpListener::bind(endpoints::listen_addr()).await?;
    eprintln!("listening addr={}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let (metrics, handle) = PrometheusMetricLayer::pair();
    let app = Router::new()
        .route("/", get(|| async { endpoints::HELLO }))
        .route("/slow", get(slow))
        .route("/metrics", get(move || async move { handle.render() }))
        .layer(metrics);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            term.recv().await;
        })
        .await
}
