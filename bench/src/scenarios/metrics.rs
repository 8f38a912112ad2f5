//! Metrics side by side (`-- metrics`): what a request costs once its
//! metrics are recorded. graceful with the `prometheus` feature and a
//! `metrics_path` (every request in its duration histogram, kept per
//! thread), and axum behind axum-prometheus' `PrometheusMetricLayer` (the
//! usual setup), beside bare hyper, graceful without metrics and axum
//! without them. The servers with metrics are `bench/metrics`'s (`cargo
//! build --release -p graceful-bench-metrics --bins` first).
//!
//! Measured: throughput (side by side, round by round, as the main run
//! does) and, with valgrind, instructions per request; then each server
//! with metrics is scraped, to check that it counted the requests.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use graceful_bench::client::{self, Outcome};

use crate::machine::median;
use crate::plan::*;
use crate::scenarios::instructions::instructions;
use crate::scenarios::throughput::throughput;
use crate::server::*;

/// The servers: the two with metrics first, each beside its peer without
/// (the throughput rounds swap the first two and the next two).
pub(crate) const METRICS_PEERS: [(&str, &str); 5] = [
    ("graceful-metrics", "serve-graceful-metrics"),
    ("hyper", "serve-hyper"),
    ("axum-prometheus", "serve-axum-prometheus"),
    ("axum", "serve-axum"),
    ("graceful", "serve-graceful"),
];

/// The sizes of a metrics run: the main run's, with fewer rounds, and
/// more requests for the instruction count (a publication every second
/// must not weigh on it).
pub(crate) const METRICS_FULL: Plan = Plan {
    rounds: 61,
    instruction_requests: 20_000,
    ..FULL
};

/// Checks that `binary`'s `/metrics` counts the requests it served: a
/// histogram whose count is at least `served`.
async fn check_scrape(name: &str, binary: &Path, served: u64) {
    let mut server = Server::start(binary).await;
    for _ in 0..served {
        let mut sender = client::connect(server.addr).await.expect("a connection");
        let _ = client::send(&mut sender, "GET", "/", b"").await;
    }
    let mut sender = client::connect(server.addr).await.expect("a connection");
    let text = match client::send(&mut sender, "GET", "/metrics", b"").await {
        Outcome::Answered(a) if a.status == 200 => a.text().to_owned(),
        other => panic!("{name}: no metrics: {other:?}"),
    };
    // graceful's histogram, or axum-prometheus'.
    let counted: u64 = text
        .lines()
        .filter(|l| {
            (l.starts_with("http_server_request_duration_seconds_count")
                || l.starts_with("axum_http_requests_duration_seconds_count"))
                && l.contains("\"200\"")
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64;
    assert!(
        counted >= served,
        "{name} counted {counted} of {served}:\n{text}"
    );
    server.signal();
    server.exit(Duration::from_secs(15)).await;
}

/// Runs the metrics side by side; returns the markdown table.
pub(crate) async fn metrics_run(dir: &Path, plan: &Plan) -> String {
    let mut servers: BTreeMap<&'static str, Measured> = BTreeMap::new();
    eprintln!(
        "metrics: {} rounds x {} s x {} connections",
        plan.rounds, plan.seconds, plan.connections
    );
    throughput(dir, plan, &METRICS_PEERS, &mut servers).await;
    for (name, bin) in METRICS_PEERS {
        let count = instructions(&dir.join(bin), plan.instruction_requests).await;
        if let Some(m) = servers.get_mut(name) {
            m.instructions = count;
        }
    }
    for (name, bin) in &METRICS_PEERS[..3] {
        if *name != "hyper" {
            check_scrape(name, &dir.join(bin), 10).await;
        }
    }
    render(&servers)
}

/// The table, in [`METRICS_PEERS`]'s order, each figure with its ratio to
/// bare hyper's.
fn render(servers: &BTreeMap<&'static str, Measured>) -> String {
    let hyper = servers.get("hyper").and_then(|m| m.instructions);
    let mut table = String::from(
        "| server | metrics | req/s (median) | ÷ bare hyper (median of rounds) | instructions / request (÷ bare hyper) | p99 µs |\n|---|---|---|---|---|---|\n",
    );
    for (name, _) in METRICS_PEERS {
        let Some(m) = servers.get(name) else { continue };
        let p99: Vec<f64> = m.p99_us.iter().map(|&v| v as f64).collect();
        let metrics = match name {
            "graceful-metrics" => "graceful's Prometheus endpoint",
            "axum-prometheus" => "axum-prometheus 0.10",
            _ => "none",
        };
        let instructions = match (m.instructions, hyper) {
            (Some(n), Some(h)) => format!("{n:.0} ({:.3})", n / h),
            _ => "–".to_owned(),
        };
        table.push_str(&format!(
            "| {name} | {metrics} | {:.0} | {:.3} | {instructions} | {:.0} |\n",
            median(&m.throughput),
            median(&m.vs_hyper),
            median(&p99),
        ));
    }
    table
}
