#[graceful::main(signals = "TERM, KILL", health_path = "healthz")]
async fn main() {}
