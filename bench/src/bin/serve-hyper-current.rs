//! The benchmark's bare hyper server (`serve-hyper`) on one current-thread
//! runtime, the shape actix-web runs on each core: one of the runtime
//! alternatives (`graceful-bench runtimes`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    graceful_bench::serve_bare_hyper().await
}
