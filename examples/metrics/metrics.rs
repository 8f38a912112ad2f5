//! Run with: `cargo run -p graceful-examples-metrics --example metrics`,
//! then `curl localhost:9090/metrics` while `curl localhost:8080/work`
//! runs, and Ctrl-C: the admin server answers until the report is final.
//!
//! An app whose metrics Prometheus scrapes: `metrics_path` serves them on
//! the app's own server, and `admin_addr` on an admin server the shutdown
//! does not drain, so that the last scrapes show the drain and the
//! callbacks to their end. Nothing else is wired: the request durations,
//! the requests in flight and by outcome, the phases and their durations
//! are graceful's own figures.

use std::time::Duration;

use graceful::{Request, ShutdownContext};

#[graceful::server(name = "api", addr = "127.0.0.1:8080")]
async fn api(req: Request) -> &'static str {
    if req.uri().path() == "/work" {
        // Some work, so that a request is in flight at the signal.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    "done\n"
}

/// A callback, so that a scrape sees the callbacks' phase too.
#[graceful::on_shutdown(timeout = "2s")]
async fn flush(_ctx: ShutdownContext) {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[graceful::main(
    metrics_path = "/metrics",
    health_path = "/healthz",
    admin_addr = "127.0.0.1:9090",
    pre_stop_delay = "1s"
)]
async fn main() {}
