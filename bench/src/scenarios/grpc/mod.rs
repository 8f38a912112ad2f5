//! gRPC side by side (`-- grpc`): the same tonic service
//! (`bench/grpc/src/lib.rs`) served by graceful, from a
//! `#[graceful::server]` function returning a `Grpc`, and by tonic's own
//! server with `serve_with_incoming_shutdown` at SIGTERM. The servers are
//! `bench/grpc`'s (`cargo build --release -p graceful-bench-grpc --bins`
//! first: a package of its own, so that the other servers are built without
//! graceful's `grpc` feature).
//!
//! Measured: unary calls per second and server-streaming throughput, by
//! `h2load`; the drain under load (clients making unary calls back to back
//! on HTTP/2 connections, SIGTERM mid-load, every call answered, refused
//! before it was processed, or lost); and the exit with one stream open.

mod call;
mod drain;
mod h2load;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::server::*;

use self::call::Call;
use self::drain::{Drain, Held};

/// The gRPC servers, with their binaries beside this one.
pub(crate) const GRPC_PEERS: [(&str, &str); 2] = [
    ("graceful", "serve-graceful-grpc"),
    ("tonic", "serve-tonic-grpc"),
];

/// The sizes of a gRPC run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GrpcPlan {
    pub(crate) rounds: usize,
    pub(crate) seconds: f64,
    pub(crate) connections: usize,
    /// Concurrent streams per connection under h2load.
    pub(crate) streams: usize,
    /// Each streaming call's messages, and their size.
    pub(crate) stream_messages: u32,
    pub(crate) message_size: u32,
    pub(crate) drain_connections: usize,
    pub(crate) slow_calls: usize,
    pub(crate) warm_up_calls: u64,
    /// How long a server may take to exit with a stream open before it is
    /// killed.
    pub(crate) held_limit: Duration,
    /// graceful's drain deadline in that scenario (`None`: its default).
    pub(crate) held_drain_timeout: Option<&'static str>,
}

pub(crate) const GRPC_FULL: GrpcPlan = GrpcPlan {
    rounds: 9,
    seconds: 1.0,
    connections: 32,
    streams: 10,
    stream_messages: 1000,
    message_size: 1024,
    drain_connections: 32,
    slow_calls: 8,
    warm_up_calls: 3_000,
    held_limit: Duration::from_secs(20),
    held_drain_timeout: None,
};

pub(crate) const GRPC_SMOKE: GrpcPlan = GrpcPlan {
    rounds: 1,
    seconds: 0.3,
    connections: 4,
    streams: 2,
    stream_messages: 10,
    message_size: 1024,
    drain_connections: 4,
    slow_calls: 2,
    warm_up_calls: 50,
    held_limit: Duration::from_secs(3),
    held_drain_timeout: Some("1s"),
};

/// What was measured for one server.
#[derive(Debug, Default)]
struct Measured {
    unary_per_s: Vec<f64>,
    stream_bytes_per_s: Vec<f64>,
    /// Calls h2load saw fail, over every round.
    failed: u64,
    drain: Option<Drain>,
    held: Option<Held>,
}

/// The request bodies h2load sends, written under `target/bench/grpc`.
struct Bodies {
    unary: PathBuf,
    stream: PathBuf,
}

fn write_bodies(plan: &GrpcPlan) -> Bodies {
    let dir = PathBuf::from("target/bench/grpc");
    let _ = std::fs::create_dir_all(&dir);
    let bodies = Bodies {
        unary: dir.join("unary.bin"),
        stream: dir.join("stream.bin"),
    };
    std::fs::write(&bodies.unary, call::job(b"hello", 0)).expect("the unary body written");
    std::fs::write(
        &bodies.stream,
        call::stream_request(plan.stream_messages, plan.message_size),
    )
    .expect("the stream body written");
    bodies
}

/// Checks that `server` answers `Unary` as the service does.
async fn check_answer(name: &str, server: &Server) {
    let mut channel = call::connect(server.addr)
        .await
        .unwrap_or_else(|err| panic!("{name}: no HTTP/2 connection: {err}"));
    let expect = call::payload(b"hello");
    match call::unary(&mut channel, call::job(b"hello", 0), &expect).await {
        Call::Answered => {}
        other => panic!("{name} does not answer Unary: {other:?}"),
    }
}

/// Runs every gRPC scenario; returns the markdown table.
pub(crate) async fn grpc_run(dir: &Path, plan: GrpcPlan) -> String {
    if !h2load::installed() {
        eprintln!("h2load is not installed (apt-get install nghttp2-client)");
        std::process::exit(1);
    }
    let bodies = write_bodies(&plan);
    let mut running = Vec::new();
    let mut measured: Vec<(&str, Measured)> = Vec::new();
    for (name, bin) in GRPC_PEERS {
        let server = Server::start(&dir.join(bin)).await;
        check_answer(name, &server).await;
        running.push(server);
        measured.push((name, Measured::default()));
    }
    eprintln!(
        "gRPC: {} rounds x {} s x {} connections x {} streams, unary and streaming",
        plan.rounds, plan.seconds, plan.connections, plan.streams
    );
    let load = |server: &Server, path, body| h2load::Load {
        addr: server.addr,
        path,
        body,
        duration: Duration::from_secs_f64(plan.seconds),
        connections: plan.connections,
        streams: plan.streams,
    };
    // A warm-up round, then the measured ones, in rotating order.
    for round in 0..=plan.rounds {
        let mut order: Vec<usize> = (0..running.len()).collect();
        order.rotate_left(round % running.len());
        for i in order {
            let unary = load(&running[i], "/bench.Bench/Unary", &bodies.unary);
            let stream = load(&running[i], "/bench.Bench/Stream", &bodies.stream);
            let (unary, stream) = match (h2load::run(unary).await, h2load::run(stream).await) {
                (Ok(unary), Ok(stream)) => (unary, stream),
                (Err(err), _) | (_, Err(err)) => panic!("{}: {err}", measured[i].0),
            };
            if round > 0 {
                let m = &mut measured[i].1;
                m.unary_per_s.push(unary.requests_per_s);
                m.stream_bytes_per_s.push(stream.data_bytes_per_s);
                m.failed += unary.failed + stream.failed;
            }
        }
    }
    for mut server in running {
        server.signal();
        server.exit(Duration::from_secs(15)).await;
    }
    for (i, (name, bin)) in GRPC_PEERS.into_iter().enumerate() {
        eprintln!("{name}: the drain under load, and the exit with a stream open");
        let binary = dir.join(bin);
        measured[i].1.drain = Some(drain::under_load(&binary, &plan).await);
        measured[i].1.held = Some(drain::held_by_a_stream(&binary, &plan).await);
    }
    render(&measured, &plan)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The table: each figure with its ratio to graceful's.
fn render(measured: &[(&str, Measured)], plan: &GrpcPlan) -> String {
    let ours = &measured[0].1;
    let (unary0, stream0) = (median(&ours.unary_per_s), median(&ours.stream_bytes_per_s));
    let mut table = format!(
        "| server | unary calls / s (÷ graceful) | streaming MB/s (÷ graceful) | calls h2load saw fail | drain: ok / refused / lost | slow calls answered | drain signal→exit ms (code) | one stream open: signal→exit ms (code){} |\n|---|---|---|---|---|---|---|---|\n",
        plan.held_drain_timeout
            .map_or_else(String::new, |t| format!(", graceful's drain deadline {t}"))
    );
    let none = || "–".to_owned();
    for (name, m) in measured {
        let (unary, stream) = (median(&m.unary_per_s), median(&m.stream_bytes_per_s));
        let drain = m.drain.as_ref();
        table.push_str(&format!(
            "| {name} | {unary:.0} ({:.3}) | {:.0} ({:.3}) | {} | {} | {} | {} | {} |\n",
            unary / unary0,
            stream / 1e6,
            stream / stream0,
            m.failed,
            drain.map_or_else(none, |d| format!("{} / {} / {}", d.ok, d.refused, d.lost)),
            drain.map_or_else(none, |d| format!("{}/{}", d.slow_ok, d.slow_total)),
            drain.map_or_else(none, |d| format!("{:.0} ({})", d.exit_ms, d.exit_code)),
            m.held.as_ref().map_or_else(none, Held::cell),
        ));
    }
    table
}
