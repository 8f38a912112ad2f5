//! The benchmark's bare hyper server, with hyper-util's graceful shutdown as
//! its documentation shows it (see `graceful_bench::serve_bare_hyper`).

#[tokio::main]
async fn main() -> std::io::Result<()> {
    graceful_bench::serve_bare_hyper().await
}
