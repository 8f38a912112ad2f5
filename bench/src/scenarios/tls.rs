//! TLS side by side (`-- tls`): graceful, axum-server and actix-web, each
//! over rustls with the `ring` provider and the same certificate (ECDSA
//! P-256, made with rcgen at the start), ALPN `h2` and `http/1.1`. The
//! servers are `bench/tls`'s (`cargo build --release -p graceful-bench-tls
//! --bins` first: a package of its own, so that the other servers are built
//! without graceful's `tls` feature).
//!
//! Measured: keep-alive throughput (32 connections, `GET /` back to back),
//! new connections per second (a full handshake, one request with
//! `Connection: close`, the close), resident memory per idle TLS connection,
//! and the drain under load (32 clients over TLS, SIGTERM mid-load, every
//! request answered, refused cleanly or lost).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use graceful_bench::client::{self, Dial, Outcome};
use graceful_bench::endpoints;
use graceful_bench::load::{self, Repeat, Tally};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::scenarios::throughput::response_complete;
use crate::server::*;

/// The TLS servers, with their binaries beside this one.
pub(crate) const TLS_PEERS: [(&str, &str); 3] = [
    ("graceful", "serve-graceful-tls"),
    ("axum-server", "serve-axum-server-tls"),
    ("actix-web", "serve-actix-tls"),
];

/// The sizes of a TLS run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TlsPlan {
    pub(crate) rounds: usize,
    pub(crate) seconds: f64,
    pub(crate) connections: usize,
    pub(crate) idle_connections: usize,
    pub(crate) warm_up_requests: u64,
}

pub(crate) const TLS_FULL: TlsPlan = TlsPlan {
    rounds: 21,
    seconds: 0.3,
    connections: 32,
    idle_connections: 1_000,
    warm_up_requests: 3_000,
};

pub(crate) const TLS_SMOKE: TlsPlan = TlsPlan {
    rounds: 1,
    seconds: 0.2,
    connections: 4,
    idle_connections: 20,
    warm_up_requests: 50,
};

/// What was measured for one server.
#[derive(Debug, Default)]
pub(crate) struct TlsMeasured {
    pub(crate) requests_per_s: Vec<f64>,
    pub(crate) handshakes_per_s: Vec<f64>,
    pub(crate) idle_kib_per_connection: f64,
    pub(crate) drain: Option<(u64, u64, u64, i32)>,
}

/// Where the certificate and key are.
struct Files {
    cert: PathBuf,
    key: PathBuf,
}

fn make_certificate() -> Files {
    let dir = PathBuf::from("target/bench/tls");
    let _ = std::fs::create_dir_all(&dir);
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a self-signed certificate");
    let files = Files {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, made.cert.pem()).expect("the certificate written");
    std::fs::write(&files.key, made.signing_key.serialize_pem()).expect("the key written");
    files
}

/// The client's dial: TLS to `addr`, trusting the certificate, ALPN
/// `http/1.1`, every new connection a full handshake.
fn dial(files: &Files, addr: std::net::SocketAddr) -> Dial {
    Dial::tls_to_localhost(addr, &files.cert, &[b"http/1.1"]).expect("a TLS client")
}

async fn start(binary: &Path, files: &Files) -> Server {
    let (cert, key) = (files.cert.as_os_str(), files.key.as_os_str());
    let env = [
        ("TLS_CERT", cert),
        ("TLS_KEY", key),
        ("GRACEFUL_TLS_CERT_BENCH", cert),
        ("GRACEFUL_TLS_KEY_BENCH", key),
    ];
    Server::start_with_env(binary, &env).await
}

/// Sends `request` and reads one response; `false` once the connection fails.
async fn exchange<S: AsyncReadExt + AsyncWriteExt + Unpin>(stream: &mut S, request: &[u8]) -> bool {
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !response_complete(&buf) {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    true
}

/// Runs `work` on `connections` tasks until `seconds` have passed; `work`
/// counts what it completes. Returns the completions per second.
async fn per_second<F, W>(dial: &Dial, connections: usize, seconds: f64, work: W) -> f64
where
    W: Fn(Dial, Instant, Arc<AtomicU64>) -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(work(dial.clone(), deadline, Arc::clone(&done))))
        .collect();
    for w in workers {
        let _ = w.await;
    }
    done.load(Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Requests per second on `connections` keep-alive TLS connections.
async fn keep_alive(dial: &Dial, connections: usize, seconds: f64) -> f64 {
    per_second(
        dial,
        connections,
        seconds,
        |dial, deadline, done| async move {
            let Some(mut stream) = dial.connect_tls().await.ok() else {
                return;
            };
            let request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
            while Instant::now() < deadline && exchange(&mut stream, request).await {
                done.fetch_add(1, Relaxed);
            }
        },
    )
    .await
}

/// New connections per second: each a full handshake, one request with
/// `Connection: close`, and the close, `connections` at a time.
async fn handshakes(dial: &Dial, connections: usize, seconds: f64) -> f64 {
    per_second(
        dial,
        connections,
        seconds,
        |dial, deadline, done| async move {
            let request = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
            while Instant::now() < deadline {
                let Some(mut stream) = dial.connect_tls().await.ok() else {
                    continue;
                };
                if exchange(&mut stream, request).await {
                    done.fetch_add(1, Relaxed);
                }
            }
        },
    )
    .await
}

/// Resident memory per idle TLS connection, each open after one request.
async fn idle_memory(binary: &Path, files: &Files, n: usize) -> f64 {
    let mut server = start(binary, files).await;
    let dial = dial(files, server.addr);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = server.rss_kib();
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        if let Ok(mut sender) = dial.connect().await
            && let Outcome::Answered(_) = client::send(&mut sender, "GET", "/", b"").await
        {
            open.push(sender);
        }
    }
    let after = server.rss_kib();
    server.signal();
    server.exit(Duration::from_secs(15)).await;
    let count = open.len().max(1);
    drop(open);
    after.saturating_sub(before) as f64 / count as f64
}

/// The drain under load over TLS: ok, refused cleanly, dirty, exit code.
async fn drain(binary: &Path, files: &Files, plan: &TlsPlan) -> (u64, u64, u64, i32) {
    let mut server = start(binary, files).await;
    let dial = dial(files, server.addr);
    let tally = Arc::new(Tally::with_milestone(plan.warm_up_requests));
    let exited = Arc::new(AtomicBool::new(false));
    let warmed_up = tally.reached.notified();
    let repeat = Repeat {
        method: "GET",
        path: "/",
        body: b"",
        expect: endpoints::HELLO,
    };
    let clients: Vec<_> = (0..plan.connections)
        .map(|_| {
            let (tally, exited, dial) = (Arc::clone(&tally), Arc::clone(&exited), dial.clone());
            tokio::spawn(async move {
                load::hammer(dial, repeat, &tally, true, &exited, Duration::from_secs(30)).await;
            })
        })
        .collect();
    let _ = tokio::time::timeout(Duration::from_secs(10), warmed_up).await;
    server.signal();
    let (code, _) = server.exit(Duration::from_secs(20)).await;
    exited.store(true, Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let dirty = tally.dirty();
    if let Some(example) = dirty.first() {
        eprintln!(
            "{}: {} dirty, such as {example}",
            binary.display(),
            dirty.len()
        );
    }
    (
        tally.ok.load(Relaxed),
        tally.refused.load(Relaxed),
        dirty.len() as u64,
        code,
    )
}

/// Runs every TLS scenario; returns the markdown table.
pub(crate) async fn tls_run(dir: &Path, plan: TlsPlan) -> String {
    let files = make_certificate();
    let mut measured: Vec<(&str, TlsMeasured)> = Vec::new();
    let mut running = Vec::new();
    for (name, bin) in TLS_PEERS {
        let server = start(&dir.join(bin), &files).await;
        let dial = dial(&files, server.addr);
        // The same answer from each, over TLS.
        let mut sender = dial.connect().await.expect("a TLS connection");
        match client::send(&mut sender, "GET", "/", b"").await {
            Outcome::Answered(a) if a.status == 200 && a.text() == endpoints::HELLO => {}
            other => panic!("{name} does not answer GET / over TLS: {other:?}"),
        }
        running.push((name, server, dial));
        measured.push((name, TlsMeasured::default()));
    }
    eprintln!(
        "TLS: {} rounds x {} s x {} connections, keep-alive and new connections",
        plan.rounds, plan.seconds, plan.connections
    );
    // A warm-up for each, as the measured rounds then find it.
    for (_, _, dial) in &running {
        keep_alive(dial, plan.connections, plan.seconds).await;
        handshakes(dial, plan.connections, plan.seconds).await;
    }
    for round in 0..plan.rounds {
        let mut order: Vec<usize> = (0..running.len()).collect();
        order.rotate_left(round % running.len());
        for i in order {
            let (_, _, dial) = &running[i];
            let rps = keep_alive(dial, plan.connections, plan.seconds).await;
            let hps = handshakes(dial, plan.connections, plan.seconds).await;
            measured[i].1.requests_per_s.push(rps);
            measured[i].1.handshakes_per_s.push(hps);
        }
    }
    for (_, mut server, _) in running {
        server.signal();
        server.exit(Duration::from_secs(15)).await;
    }
    for (i, (name, bin)) in TLS_PEERS.into_iter().enumerate() {
        eprintln!("{name}: idle memory, drain under load over TLS");
        let binary = dir.join(bin);
        measured[i].1.idle_kib_per_connection =
            idle_memory(&binary, &files, plan.idle_connections).await;
        measured[i].1.drain = Some(drain(&binary, &files, &plan).await);
    }
    render(&measured, plan)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The table: each figure with its ratio to graceful's.
fn render(measured: &[(&str, TlsMeasured)], plan: TlsPlan) -> String {
    let ours = &measured[0].1;
    let (rps0, hps0) = (median(&ours.requests_per_s), median(&ours.handshakes_per_s));
    let mut table = format!(
        "| server | keep-alive req/s (÷ graceful) | new connections / s (÷ graceful) | KiB per idle TLS connection ({} open) | drain over TLS: ok / refused / dirty (exit code) |\n|---|---|---|---|---|\n",
        plan.idle_connections
    );
    for (name, m) in measured {
        let (rps, hps) = (median(&m.requests_per_s), median(&m.handshakes_per_s));
        let drain = m.drain.map_or_else(
            || "-".to_owned(),
            |(ok, refused, dirty, code)| format!("{ok} / {refused} / {dirty} ({code})"),
        );
        table.push_str(&format!(
            "| {name} | {rps:.0} ({:.3}) | {hps:.0} ({:.3}) | {:.1} | {drain} |\n",
            rps / rps0,
            hps / hps0,
            m.idle_kib_per_connection
        ));
    }
    table
}
