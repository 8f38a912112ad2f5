//! Run with: `cargo run --release -p graceful-bench -- all` (add `--write` to
//! update `BENCHMARKS.md`), or `-- smoke` for a quick run that proves the tool
//! still works; `-- instructions [SERVER...]` counts instructions per request
//! alone (set `GRACEFUL_BENCH_PROFILES=DIR` to keep the callgrind profiles),
//! `-- shutdown [SERVER...]` the exits and memory alone, `-- rolling
//! [SERVER...]` a rolling restart of three replicas behind nginx alone,
//! `-- worker` the queue worker beside tokio-graceful-shutdown's (build
//! `-p graceful-examples-sqlite --example worker` first), `-- tls` the TLS
//! servers side by side (build `-p graceful-bench-tls --bins` first), `--
//! grpc` the gRPC servers side by side (build `-p graceful-bench-grpc --bins`
//! first; it needs `h2load`, from Debian's `nghttp2-client`), `-- metrics`
//! the servers with metrics beside those without (build `-p
//! graceful-bench-metrics --bins` first).
//!
//! Starts each server (graceful through its attributes, with one handler and
//! with two behind its router, and through its builder API; bare hyper with
//! hyper-util's graceful shutdown; axum with `with_graceful_shutdown`;
//! actix-web with its own shutdown on SIGTERM) as a
//! child process pinned to its own core, checks that they all answer with
//! the same bytes, drives each from this process with a load generator
//! pinned to another, and measures side by side in one run:
//! throughput and latency (servers interleaved round by round so that
//! machine drift cancels), requests lost while draining under load, shutdown
//! latency, the second signal, memory, and shutdown with many idle
//! connections. Prints a markdown table, writes JSON and an SVG chart under
//! `target/bench/`.

mod machine;
mod plan;
mod render;
mod scenarios;
mod server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::machine::*;
use crate::plan::*;
use crate::render::*;
use crate::scenarios::drain::*;
use crate::scenarios::grpc::*;
use crate::scenarios::instructions::*;
use crate::scenarios::memory::*;
use crate::scenarios::metrics::*;
use crate::scenarios::restart::*;
use crate::scenarios::rolling::*;
use crate::scenarios::shutdown::*;
use crate::scenarios::throughput::*;
use crate::scenarios::tls::*;
use crate::scenarios::worker::*;
use crate::server::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan = match args.first().map(String::as_str) {
        Some("all") | Some("throughput") => FULL,
        Some("smoke") => SMOKE,
        // Load for a profiler: `load ADDR SECONDS`.
        Some("load") => return load_only(&args),
        // One restart under direct load only: `restart [SERVER...]`.
        Some("restart") => return load_generator().block_on(restart_only(&args[1..])),
        // The rolling restart behind nginx only: `rolling [SERVER...]`.
        Some("rolling") => return load_generator().block_on(rolling_only(&args[1..])),
        // Shutdown latencies only: `shutdown [SERVER...]`.
        Some("shutdown") => return load_generator().block_on(shutdown_only(&args[1..])),
        // The runtime alternatives' throughput: `runtimes`.
        Some("runtimes") => return load_generator().block_on(runtimes_only()),
        // The worker beside tokio-graceful-shutdown's: `worker`.
        Some("worker") => return load_generator().block_on(worker_only(&binaries_dir())),
        // TLS side by side: `tls [--smoke] [--write]` (build
        // `-p graceful-bench-tls --bins` first).
        Some("tls") => return load_generator().block_on(tls_only(&args[1..])),
        // gRPC side by side: `grpc [--smoke] [--write]` (build
        // `-p graceful-bench-grpc --bins` first).
        Some("grpc") => return load_generator().block_on(grpc_only(&args[1..])),
        // Metrics side by side: `metrics [--smoke] [--write]` (build
        // `-p graceful-bench-metrics --bins` first).
        Some("metrics") => return load_generator().block_on(metrics_only(&args[1..])),
        // Instructions per request only: `instructions [SERVER...]`.
        Some("instructions") => return load_generator().block_on(instructions_only(&args[1..])),
        _ => {
            eprintln!(
                "usage: graceful-bench all|throughput|smoke [--write] | runtimes | worker | tls|grpc|metrics [--smoke] [--write] | load ADDR SECONDS | instructions|shutdown|restart|rolling [SERVER...]"
            );
            std::process::exit(2);
        }
    };
    let write = args.iter().any(|a| a == "--write");
    load_generator().block_on(run(plan, write, args.join(" ")));
}

fn valgrind_installed() -> bool {
    std::process::Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Drives `GET /` against a server started by hand, for a profiler.
fn load_only(args: &[String]) {
    let (Some(addr), Some(seconds)) = (
        args.get(1).and_then(|a| a.parse::<SocketAddr>().ok()),
        args.get(2).and_then(|s| s.parse::<f64>().ok()),
    ) else {
        eprintln!("usage: graceful-bench load ADDR SECONDS");
        std::process::exit(2);
    };
    let (latencies, elapsed) = load_generator().block_on(measure(addr, FULL.connections, seconds));
    println!("{:.0} req/s", latencies.len() as f64 / elapsed);
}

/// The directory of this executable, where the servers' binaries are.
fn binaries_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .expect("the executable's directory")
}

/// The servers named on the command line (all without names), with their
/// binaries.
fn selected(names: &[String]) -> impl Iterator<Item = (&'static str, PathBuf)> + '_ {
    let dir = binaries_dir();
    PEERS
        .into_iter()
        .filter(|(name, _)| names.is_empty() || names.iter().any(|n| n == name))
        .map(move |(name, bin)| (name, dir.join(bin)))
}

/// The throughput of the runtime alternatives ([`RUNTIMES`]), side by side
/// as in a full run, each as the median of its per-round ratios to bare
/// hyper on the multi-threaded runtime.
async fn runtimes_only() {
    let mut servers = BTreeMap::new();
    throughput(&binaries_dir(), &FULL, &RUNTIMES, &mut servers).await;
    for (name, _) in RUNTIMES {
        let m = &servers[name];
        println!(
            "{name}: {:.0} req/s, {:.3} x hyper",
            median(&m.throughput),
            median(&m.vs_hyper)
        );
    }
}

/// TLS side by side ([`TLS_PEERS`]); with `--write`, the table replaces the
/// TLS section of `BENCHMARKS.md`.
async fn tls_only(args: &[String]) {
    let smoke = args.iter().any(|a| a == "--smoke");
    let table = tls_run(&binaries_dir(), if smoke { TLS_SMOKE } else { TLS_FULL }).await;
    println!("{table}");
    if args.iter().any(|a| a == "--write") {
        replace_section("tls", &table);
    }
}

/// gRPC side by side ([`GRPC_PEERS`]); with `--write`, the table replaces
/// the gRPC section of `BENCHMARKS.md`.
async fn grpc_only(args: &[String]) {
    let smoke = args.iter().any(|a| a == "--smoke");
    let table = grpc_run(&binaries_dir(), if smoke { GRPC_SMOKE } else { GRPC_FULL }).await;
    println!("{table}");
    if args.iter().any(|a| a == "--write") {
        replace_section("grpc", &table);
    }
}

/// Metrics side by side ([`METRICS_PEERS`]); with `--write`, the table
/// replaces the metrics section of `BENCHMARKS.md`.
async fn metrics_only(args: &[String]) {
    let smoke = args.iter().any(|a| a == "--smoke");
    let plan = if smoke { SMOKE } else { METRICS_FULL };
    let table = metrics_run(&binaries_dir(), &plan).await;
    println!("{table}");
    if args.iter().any(|a| a == "--write") {
        replace_section("metrics", &table);
    }
}

/// Replaces what is between `<!-- NAME:start -->` and `<!-- NAME:end -->` in
/// `BENCHMARKS.md` with `table`.
fn replace_section(name: &str, table: &str) {
    let page = std::fs::read_to_string("BENCHMARKS.md").unwrap_or_default();
    let (start, end) = (
        format!("<!-- {name}:start -->\n"),
        format!("<!-- {name}:end -->"),
    );
    let (Some(a), Some(b)) = (page.find(&start), page.find(&end)) else {
        eprintln!("BENCHMARKS.md has no {name} section to replace");
        std::process::exit(1);
    };
    let page = format!("{}{start}{table}{}", &page[..a], &page[b..]);
    write_file(Path::new("BENCHMARKS.md"), &page);
}

/// Counts the instructions per request of the servers named (all without
/// names), with callgrind, and prints each with its ratio to bare hyper's.
async fn instructions_only(names: &[String]) {
    let requests = FULL.instruction_requests;
    let Some(hyper) = instructions(&binaries_dir().join("serve-hyper"), requests).await else {
        eprintln!("valgrind is not installed, or bare hyper did not answer");
        std::process::exit(1);
    };
    println!("hyper: {hyper:.0} instructions / request");
    for (name, binary) in selected(names) {
        if name == "hyper" {
            continue;
        }
        if let Some(count) = instructions(&binary, requests).await {
            println!("{name}: {count:.0} ({:.3} x hyper)", count / hyper);
        }
    }
}

/// Measures, for the servers named (all without names), the exit from
/// SIGTERM idle, with 1,000 and with 10,000 idle keep-alive connections,
/// and resident memory per idle connection.
async fn shutdown_only(names: &[String]) {
    for (name, binary) in selected(names) {
        let mut m = Measured::default();
        idle_exit(&binary, &mut m).await;
        memory(&binary, &FULL, &mut m).await;
        scale(&binary, &FULL, &mut m).await;
        let memory = m.memory.as_ref();
        println!(
            "{name}: idle exit {:.1} ms (runs {:?}); {} conns: exit {:.0} ms, {:.1} KiB / conn; {} conns: exit {:.0} ms",
            median(&m.idle_exit_ms),
            m.idle_exit_ms
                .iter()
                .map(|v| (v * 10.0).round() / 10.0)
                .collect::<Vec<_>>(),
            FULL.memory_connections,
            memory.map_or(f64::NAN, |m| m.exit_ms),
            memory.map_or(f64::NAN, |m| m.per_connection_kib(FULL.memory_connections)),
            FULL.scale_connections,
            m.scale.as_ref().map_or(f64::NAN, |s| s.exit_ms),
        );
    }
}

/// A rolling restart behind nginx of the servers named (all without names).
async fn rolling_only(names: &[String]) {
    if !nginx_installed() {
        eprintln!("nginx is not installed (apt-get install nginx-light)");
        std::process::exit(1);
    }
    for (name, binary) in selected(names) {
        let mut ways = vec![(Restart::StopStart, true), (Restart::StopStart, false)];
        if hands_over(name) {
            ways.push((Restart::Handoff, false));
        }
        for (how, retries) in ways {
            let r = rolling(
                &binary,
                FULL.rolling_clients,
                Duration::from_millis(FULL.rolling_pause_ms),
                how,
                retries,
            )
            .await;
            let retries = if retries { "retries" } else { "no retries" };
            println!(
                "{name} ({how:?}, {retries}): {} requests across {} restarts: {} failed ({} status, {} transport), {} late (>= 0.5 s), slowest {:.0} ms",
                r.requests,
                r.restarts,
                r.failed(),
                r.failed_status,
                r.failed_transport,
                r.late,
                r.max_ms
            );
        }
    }
}

/// One restart under direct load of the servers named (all without names).
async fn restart_only(names: &[String]) {
    for (name, binary) in selected(names) {
        let mut ways = vec![Restart::StopStart];
        if hands_over(name) {
            ways.push(Restart::Handoff);
        }
        for how in ways {
            let r = restart_once(&binary, how).await;
            println!(
                "{name} ({how:?}): {} answered, {} answered 503, {} connections refused, {} failed",
                r.answered, r.refused_503, r.refused_connections, r.failed
            );
        }
    }
}

/// The load generator's runtime: one thread, pinned to the first core (the
/// servers get the second).
fn load_generator() -> tokio::runtime::Runtime {
    cores();
    pin_to_first_core();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn run(plan: Plan, write: bool, args: String) {
    let dir = binaries_dir();
    let binary = |name: &str| dir.join(name);
    let mut servers: BTreeMap<&'static str, Measured> = BTreeMap::new();

    eprintln!(
        "throughput: {} rounds x {} s x {} connections",
        plan.rounds, plan.seconds, plan.connections
    );
    throughput(&dir, &plan, &PEERS, &mut servers).await;
    if plan.instruction_requests > 0 {
        if valgrind_installed() {
            eprintln!("instructions per request, with callgrind");
            for (name, bin) in PEERS {
                servers.entry(name).or_default().instructions =
                    instructions(&binary(bin), plan.instruction_requests).await;
            }
        } else {
            eprintln!("valgrind is not installed: no instruction counts");
        }
    }
    for (name, bin) in PEERS {
        if args.starts_with("throughput") {
            break;
        }
        eprintln!("{name}: drain under load, shutdown latency, memory, scale");
        let m = servers.entry(name).or_default();
        drain_under_load(&binary(bin), &plan, m).await;
        idle_exit(&binary(bin), m).await;
        second_signal(&binary(bin), m).await;
        memory(&binary(bin), &plan, m).await;
        scale(&binary(bin), &plan, m).await;
        m.restart_stop_start = Some(restart_once(&binary(bin), Restart::StopStart).await);
        if hands_over(name) {
            m.restart_handoff = Some(restart_once(&binary(bin), Restart::Handoff).await);
        }
        if nginx_installed() {
            let pause = Duration::from_millis(plan.rolling_pause_ms);
            let clients = plan.rolling_clients;
            m.rolling = Some(rolling(&binary(bin), clients, pause, Restart::StopStart, true).await);
            m.rolling_no_retry =
                Some(rolling(&binary(bin), clients, pause, Restart::StopStart, false).await);
            if hands_over(name) {
                m.rolling_handoff =
                    Some(rolling(&binary(bin), clients, pause, Restart::Handoff, false).await);
            }
        } else {
            eprintln!("nginx is not installed: no rolling restart");
        }
    }

    let ratios = servers["graceful"].vs_hyper.clone();
    let results = Results {
        plan,
        machine: machine(),
        command: format!("cargo run --release -p graceful-bench -- {args}"),
        servers: &servers,
        ratio_median: median(&ratios),
        ratio_per_round: ratios,
    };
    let table = markdown(&results);
    println!("{table}");

    let out = PathBuf::from("target/bench");
    let _ = std::fs::create_dir_all(&out);
    let json = serde_json::to_string_pretty(&results).expect("serializable");
    write_file(&out.join("results.json"), &json);
    write_file(&out.join("report.md"), &table);
    chart(&results, &out.join("chart.svg"));
    if write {
        chart(&results, Path::new("bench/chart.svg"));
        let mut doc = benchmarks_page(&results, &table);
        // The TLS, gRPC and metrics sections have their own runs (`-- tls
        // --write`, `-- grpc --write`, `-- metrics --write`): kept.
        let before = std::fs::read_to_string("BENCHMARKS.md").unwrap_or_default();
        if let Some(at) = before.find("\n## TLS") {
            doc.push_str(&before[at..]);
        }
        write_file(Path::new("BENCHMARKS.md"), &doc);
    }
}
