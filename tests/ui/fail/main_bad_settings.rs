#[graceful::main(signals = "TERM, KILL", health_path = "healthz", progress_interval = "0s", tls_max_handshakes = 0)]
async fn main() {}
