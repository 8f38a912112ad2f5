include!("../client.rs");

#[graceful::server(addr = "127.0.0.1:0")]
async fn api() -> &'static str {
    "ok"
}

// Every setting of the description, each an `App` method of the same name.
#[graceful::main(
    shutdown_timeout = "45s",
    drain_timeout = "20s",
    callback_timeout = "5s",
    task_timeout = "7s",
    pre_stop_delay = "0ms",
    read_grace = "50ms",
    header_grace = "2s",
    header_read_timeout = "10s",
    progress_interval = "500ms",
    upgrade_timeout = "1s",
    tls_handshake_timeout = "10s",
    tls_max_handshakes = 1024,
    signals = "TERM, INT",
    restart_signals = "USR1",
    restart_timeout = "1m",
    health_path = "/healthz",
    metrics_path = "/metrics",
    admin_addr = "127.0.0.1:0",
    on_report = export,
)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    after_ready(|| async {
        let api = graceful::shutdown_handle().local_addr("api").expect("api");
        check(get(api, "/healthz").await == (200, "ok\n".into()), "the health endpoint");
        check(get(api, "/metrics").await.0 == 200, "the metrics endpoint");
    });
    Ok(())
}

// The report hook: a function taking the final report.
fn export(report: &graceful::Report) {
    check(report.exit_code().code() == 0, "the report given to the hook");
}
