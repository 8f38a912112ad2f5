//! The benchmark's tonic gRPC server: the same service on tonic's own
//! server, stopped by `serve_with_shutdown` at SIGTERM, as tonic's examples
//! do (it has no deadline of its own).

use graceful_bench::endpoints;
use tokio::signal::unix::{SignalKind, signal};
use tonic::transport::server::TcpIncoming;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut term = signal(SignalKind::terminate())?;
    let listener = tokio::net::TcpListener::bind(endpoints::listen_addr()).await?;
    eprintln!("listening addr={}", listener.local_addr()?);
    // Nagle off, as graceful (and tonic's own `serve`) have it.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(graceful_bench_grpc::server())
        .serve_with_incoming_shutdown(incoming, async move {
            term.recv().await;
        })
        .await?;
    Ok(())
}
