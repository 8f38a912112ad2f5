#[graceful::main(signals = "TERM, KILL", health_path = "healthz", progress_interval = "0s", tls_max_handshakes = 0, admin_addr = "127.0.0.1", metrics_path = "metrics")]
async fn main() {}
