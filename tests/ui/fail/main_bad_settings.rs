#[graceful::main(signals = "TERM, KILL", health_path = "healthz", progress_interval = "0s")]
async fn main() {}
