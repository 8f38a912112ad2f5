//! Run with: `cargo build --example systemd`, then install the units of
//! `examples/systemd/` (README.md, "Deploying"); or, without systemd,
//! `systemd-socket-activate -l 127.0.0.1:8080 --fdname=api target/debug/examples/systemd`
//! and `curl 127.0.0.1:8080`.
//!
//! Under systemd nothing in the code changes. The socket unit holds the
//! listener and passes it, named like the server; the service unit is
//! `Type=notify`: `graceful` says `READY=1` once it serves, `STOPPING=1` at
//! the signal, and pets the watchdog while its runtime runs. The budgets add
//! up: a drain of 20 s and callbacks of 5 s fit in the `shutdown_timeout` of
//! 30 s, which fits in the unit's `TimeoutStopSec=35`.

#[graceful::server(name = "api", addr = "127.0.0.1:8080")]
async fn hello(_req: graceful::Request) -> &'static str {
    "hello from systemd\n"
}

#[graceful::on_shutdown(timeout = "5s")]
async fn flush() {
    tracing::info!("flushed");
}

#[graceful::main(drain_timeout = "20s", shutdown_timeout = "30s")]
async fn main() {}
