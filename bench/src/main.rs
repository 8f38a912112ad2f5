//! Run with: `cargo run --release -p graceful-bench -- all` (add `--write` to
//! update `BENCHMARKS.md`), or `-- smoke` for a quick run that proves the tool
//! still works.
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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graceful_bench::client::{self, Outcome};
use graceful_bench::endpoints;
use graceful_bench::load::{self, Repeat, Tally};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

/// A server under test: its name and its binary beside this one.
const PEERS: [(&str, &str); 6] = [
    ("graceful", "serve-graceful"),
    ("hyper", "serve-hyper"),
    ("axum", "serve-axum"),
    ("graceful-builder", "serve-graceful-builder"),
    ("graceful-routed", "serve-graceful-routed"),
    ("actix-web", "serve-actix"),
];

/// The sizes of one run.
#[derive(Clone, Copy, Debug, Serialize)]
struct Plan {
    rounds: usize,
    seconds: f64,
    connections: usize,
    drain_connections: usize,
    slow_requests: usize,
    warm_up_requests: u64,
    memory_connections: usize,
    scale_connections: usize,
    /// Requests for the instruction count (0: not counted).
    instruction_requests: u64,
}

const FULL: Plan = Plan {
    rounds: 161,
    seconds: 0.3,
    connections: 32,
    drain_connections: 32,
    slow_requests: 8,
    warm_up_requests: 5_000,
    memory_connections: 1_000,
    scale_connections: 10_000,
    instruction_requests: 2_000,
};

const SMOKE: Plan = Plan {
    rounds: 2,
    seconds: 0.5,
    connections: 8,
    drain_connections: 8,
    slow_requests: 2,
    warm_up_requests: 200,
    memory_connections: 100,
    scale_connections: 300,
    instruction_requests: 100,
};

/// Everything measured for one server.
#[derive(Debug, Default, Serialize)]
struct Measured {
    /// Requests per second, one per round.
    throughput: Vec<f64>,
    /// Throughput / bare hyper's in the same round, one per round.
    vs_hyper: Vec<f64>,
    p50_us: Vec<u64>,
    p99_us: Vec<u64>,
    drain: Option<Drain>,
    idle_exit_ms: Vec<f64>,
    second_signal: Option<SecondSignal>,
    memory: Option<Memory>,
    scale: Option<Scale>,
    /// User-space instructions per `GET /`, counted by callgrind, if installed.
    instructions: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
struct Drain {
    ok: u64,
    refused: u64,
    dirty: u64,
    dirty_examples: Vec<String>,
    slow_ok: usize,
    slow_total: usize,
    signal_to_exit_ms: f64,
    exit_code: i32,
}

#[derive(Debug, Serialize)]
struct Memory {
    idle_kib: u64,
    connections_kib: u64,
}

#[derive(Debug, Serialize)]
struct Scale {
    exit_ms: f64,
    exit_code: i32,
}

#[derive(Debug, Serialize)]
struct SecondSignal {
    exit_ms: f64,
    exit_code: i32,
}

#[derive(Serialize)]
struct Results<'a> {
    plan: Plan,
    machine: String,
    command: String,
    servers: &'a BTreeMap<&'static str, Measured>,
    ratio_per_round: Vec<f64>,
    ratio_median: f64,
}

/// A server running as a child process.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    async fn start(binary: &Path) -> Server {
        let command = if Path::new("/usr/bin/taskset").exists() && cores() >= 2 {
            let mut command = Command::new("/usr/bin/taskset");
            command.arg("-c").arg("1").arg(binary);
            command
        } else {
            Command::new(binary)
        };
        Server::spawn(command, binary).await
    }

    /// Runs `command`, which starts `binary`, and waits for its address.
    async fn spawn(mut command: Command, binary: &Path) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
        let stderr = child.stderr.take().expect("piped");
        let mut lines = BufReader::new(stderr).lines();
        let addr = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("addr=").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    return addr.parse().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{} reported no address", binary.display()));
        // Keep reading, so that the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server { child, addr }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id().expect("running") as i32)
    }

    fn signal(&self) {
        let _ = kill(self.pid(), Signal::SIGTERM);
    }

    /// Waits for the exit, at most `limit`; kills the child past it.
    async fn exit(&mut self, limit: Duration) -> (i32, Duration) {
        let started = Instant::now();
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => (status.code().unwrap_or(-1), started.elapsed()),
            _ => {
                let _ = self.child.kill().await;
                (-1, started.elapsed())
            }
        }
    }

    /// Resident memory in KiB, from `/proc`.
    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse().ok())
            })
            .unwrap_or(0)
    }
}

/// The machine's cores, read once before this process pins itself to one
/// (after which the count seen would be 1, and the servers would share the
/// load generator's core).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// One keep-alive connection sending `GET /` back to back until `deadline`,
/// with a minimal client so that the server, not the client, is the limit.
async fn hammer_raw(addr: SocketAddr, deadline: Instant, latencies: Arc<Mutex<Vec<u32>>>) {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
    let mut buf = Vec::with_capacity(1024);
    let mut mine = Vec::with_capacity(100_000);
    while Instant::now() < deadline {
        let started = Instant::now();
        if stream.write_all(request).await.is_err() {
            break;
        }
        buf.clear();
        loop {
            let mut chunk = [0u8; 1024];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if response_complete(&buf) {
                break;
            }
        }
        mine.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    latencies.lock().expect("not poisoned").extend(mine);
}

fn response_complete(buf: &[u8]) -> bool {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    buf.len() >= head_end + 4 + length
}

fn percentile(sorted: &[u32], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    u64::from(sorted[index])
}

/// `connections` keep-alive connections sending `GET /` back to back for
/// `seconds`; returns every request's latency in microseconds, sorted, and
/// the time it took.
async fn measure(addr: SocketAddr, connections: usize, seconds: f64) -> (Vec<u32>, f64) {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(hammer_raw(addr, deadline, Arc::clone(&latencies))))
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = std::mem::take(&mut *latencies.lock().expect("not poisoned"));
    latencies.sort_unstable();
    (latencies, elapsed)
}

/// What a server answers to `GET path`, without the `date` header's value:
/// status, headers (sorted: their order means nothing), body.
async fn answer_of(addr: SocketAddr, path: &str) -> String {
    let outcome = match client::connect(addr).await {
        Ok(mut sender) => client::send(&mut sender, "GET", path, b"").await,
        Err(err) => Outcome::Failed(err.to_string()),
    };
    let Outcome::Answered(answer) = outcome else {
        return format!("no answer: {outcome:?}");
    };
    let mut headers: Vec<String> = answer
        .headers
        .iter()
        .map(|(name, value)| {
            let value = if name == hyper::header::DATE {
                "(now)"
            } else {
                value.to_str().unwrap_or("(not text)")
            };
            format!("{name}: {value}\n")
        })
        .collect();
    headers.sort();
    let mut text = format!("{}\n{}", answer.status, headers.concat());
    text.push('\n');
    text.push_str(answer.text());
    text
}

/// Every server must write the same response, byte for byte but the date:
/// otherwise the throughput compares different work.
async fn check_equivalent(running: &[(&'static str, Server)]) {
    for path in ["/", "/slow?ms=1"] {
        let (first, server) = &running[0];
        let expected = answer_of(server.addr, path).await;
        for (name, server) in &running[1..] {
            let answer = answer_of(server.addr, path).await;
            assert!(
                answer == expected,
                "the servers are not equivalent: GET {path}\n{first}:\n{expected}\n\n{name}:\n{answer}"
            );
        }
    }
}

/// Throughput and latency: every server running side by side, idle but for
/// the one measured; each round measures each server once, graceful and bare
/// hyper back to back in alternating order, so that a round's ratios compare
/// neighbours in time and order effects cancel.
async fn throughput(dir: &Path, plan: &Plan, servers: &mut BTreeMap<&'static str, Measured>) {
    let mut running = Vec::new();
    for (name, bin) in PEERS {
        running.push((name, Server::start(&dir.join(bin)).await));
    }
    check_equivalent(&running).await;
    for (_, server) in &running {
        measure(server.addr, plan.connections, plan.seconds).await;
    }
    for round in 0..plan.rounds {
        let mut order: Vec<usize> = (0..running.len()).collect();
        if round % 2 == 1 {
            order.swap(0, 1);
            order.swap(2, 3);
        }
        for i in order {
            let (name, server) = &running[i];
            let (latencies, elapsed) = measure(server.addr, plan.connections, plan.seconds).await;
            let m = servers.entry(name).or_default();
            m.throughput.push(latencies.len() as f64 / elapsed);
            m.p50_us.push(percentile(&latencies, 0.50));
            m.p99_us.push(percentile(&latencies, 0.99));
        }
    }
    for (_, mut server) in running {
        server.signal();
        server.exit(Duration::from_secs(15)).await;
    }
    let hyper = servers["hyper"].throughput.clone();
    for m in servers.values_mut() {
        m.vs_hyper = m
            .throughput
            .iter()
            .zip(&hyper)
            .map(|(x, h)| x / h)
            .collect();
    }
}

/// User-space instructions the server executes per `GET /`: the server
/// runs under `valgrind --tool=callgrind`, once serving no request and once
/// serving `requests` over one keep-alive connection; the difference, per
/// request. Unlike throughput, the count does not drift with the machine.
/// `None` without valgrind.
async fn instructions(binary: &Path, requests: u64) -> Option<f64> {
    let zero = callgrind_total(binary, 0).await?;
    let many = callgrind_total(binary, requests).await?;
    Some(many.saturating_sub(zero) as f64 / requests as f64)
}

async fn callgrind_total(binary: &Path, requests: u64) -> Option<u64> {
    let out = std::env::temp_dir().join(format!(
        "graceful-bench-callgrind-{}-{requests}",
        std::process::id()
    ));
    let mut command = Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(binary);
    let mut server = Server::spawn(command, binary).await;
    let mut sender = client::connect(server.addr).await.ok()?;
    for _ in 0..requests {
        if !matches!(
            client::send(&mut sender, "GET", "/", b"").await,
            Outcome::Answered(_)
        ) {
            return None;
        }
    }
    drop(sender);
    server.signal();
    server.exit(Duration::from_secs(60)).await;
    let profile = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_file(&out);
    profile?.lines().find_map(|line| {
        line.strip_prefix("summary:")
            .or_else(|| line.strip_prefix("totals:"))
            .and_then(|n| n.trim().parse().ok())
    })
}

async fn drain_under_load(binary: &Path, plan: &Plan, m: &mut Measured) {
    let mut server = Server::start(binary).await;
    let addr = server.addr;
    let slow: Vec<_> = (0..plan.slow_requests)
        .map(|_| {
            tokio::spawn(async move {
                let mut sender = client::connect(addr).await.ok()?;
                match client::send(&mut sender, "GET", "/slow?ms=1000", b"").await {
                    Outcome::Answered(a) => Some(a.status == 200 && a.text() == endpoints::SLOW),
                    _ => Some(false),
                }
            })
        })
        .collect();
    let tally = Arc::new(Tally::with_milestone(plan.warm_up_requests));
    let exited = Arc::new(AtomicBool::new(false));
    let warmed_up = tally.reached.notified();
    let repeat = Repeat {
        method: "GET",
        path: "/",
        body: b"",
        expect: endpoints::HELLO,
    };
    let clients: Vec<_> = (0..plan.drain_connections)
        .map(|_| {
            let (tally, exited) = (Arc::clone(&tally), Arc::clone(&exited));
            // Keep opening connections until the process has exited.
            tokio::spawn(async move {
                load::hammer(addr, repeat, &tally, true, &exited, Duration::from_secs(30)).await;
            })
        })
        .collect();
    // Mid-load: after the warm-up requests, with the slow ones in flight.
    let _ = tokio::time::timeout(Duration::from_secs(5), warmed_up).await;
    server.signal();
    let (code, took) = server.exit(Duration::from_secs(20)).await;
    exited.store(true, Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let mut slow_ok = 0;
    for s in slow {
        if let Ok(Some(true)) = s.await {
            slow_ok += 1;
        }
    }
    let dirty = tally.dirty();
    m.drain = Some(Drain {
        ok: tally.ok.load(Relaxed),
        refused: tally.refused.load(Relaxed),
        dirty: dirty.len() as u64,
        dirty_examples: dirty.into_iter().take(3).collect(),
        slow_ok,
        slow_total: plan.slow_requests,
        signal_to_exit_ms: took.as_secs_f64() * 1e3,
        exit_code: code,
    });
}

async fn idle_exit(binary: &Path, m: &mut Measured) {
    for _ in 0..3 {
        let mut server = Server::start(binary).await;
        server.signal();
        let (_, took) = server.exit(Duration::from_secs(15)).await;
        m.idle_exit_ms.push(took.as_secs_f64() * 1e3);
    }
}

async fn second_signal(binary: &Path, m: &mut Measured) {
    let mut server = Server::start(binary).await;
    let addr = server.addr;
    tokio::spawn(async move {
        if let Ok(mut sender) = client::connect(addr).await {
            let _ = client::send(&mut sender, "GET", "/slow?ms=10000", b"").await;
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.signal();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.signal();
    let (code, took) = server.exit(Duration::from_secs(15)).await;
    m.second_signal = Some(SecondSignal {
        exit_ms: took.as_secs_f64() * 1e3,
        exit_code: code,
    });
}

/// Opens `n` keep-alive connections, each after one request; returns them.
async fn open_idle(addr: SocketAddr, n: usize) -> Vec<client::Connection> {
    let gate = Arc::new(Semaphore::new(128));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                let _permit = gate.acquire().await.ok()?;
                let mut sender = client::connect(addr).await.ok()?;
                match client::send(&mut sender, "GET", "/", b"").await {
                    Outcome::Answered(_) => Some(sender),
                    _ => None,
                }
            })
        })
        .collect();
    let mut open = Vec::with_capacity(n);
    for t in tasks {
        if let Ok(Some(sender)) = t.await {
            open.push(sender);
        }
    }
    open
}

async fn memory(binary: &Path, plan: &Plan, m: &mut Measured) {
    let mut server = Server::start(binary).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_kib = server.rss_kib();
    let open = open_idle(server.addr, plan.memory_connections).await;
    m.memory = Some(Memory {
        idle_kib,
        connections_kib: server.rss_kib(),
    });
    server.signal();
    server.exit(Duration::from_secs(15)).await;
    drop(open);
}

async fn scale(binary: &Path, plan: &Plan, m: &mut Measured) {
    let mut server = Server::start(binary).await;
    let open = open_idle(server.addr, plan.scale_connections).await;
    server.signal();
    let (code, took) = server.exit(Duration::from_secs(20)).await;
    m.scale = Some(Scale {
        exit_ms: took.as_secs_f64() * 1e3,
        exit_code: code,
    });
    drop(open);
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

fn pin_to_first_core() {
    if cores() >= 2 {
        let _ = std::process::Command::new("/usr/bin/taskset")
            .args(["-cp", "0", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{} cores, {cpu}, {}", cores(), std::env::consts::OS)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan = match args.first().map(String::as_str) {
        Some("all") | Some("throughput") => FULL,
        Some("smoke") => SMOKE,
        // Load for a profiler: `load ADDR SECONDS`.
        Some("load") => return load_only(&args),
        _ => {
            eprintln!("usage: graceful-bench all|throughput|smoke [--write] | load ADDR SECONDS");
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
    let dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .expect("the executable's directory");
    let binary = |name: &str| dir.join(name);
    let mut servers: BTreeMap<&'static str, Measured> = BTreeMap::new();

    eprintln!(
        "throughput: {} rounds x {} s x {} connections",
        plan.rounds, plan.seconds, plan.connections
    );
    throughput(&dir, &plan, &mut servers).await;
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
        let doc = format!(
            "# Benchmarks\n\nMeasured by `graceful-bench` (see `bench/src/main.rs`); every figure below comes from one run of\n\n```sh\n{}\n```\n\non {}.\n\nThe servers (`bench/src/bin/`): **graceful**, one `#[graceful::server]` handler, as a user writes it; **graceful-routed**, two handlers sharing the server by path, through its router; **graceful-builder**, the builder API running the very service bare hyper runs, to tell the runtime's cost from the attributes'; **hyper**, bare hyper with hyper-util's `GracefulShutdown`; **axum**, with `with_graceful_shutdown`; **actix-web**, with the graceful shutdown it runs on SIGTERM (10 s, as bare hyper). Each runs as a child process pinned to core 1; the load generator is pinned to core 0. Before measuring, the tool checks that every server answers `GET /` and `GET /slow` with the same status, headers and body (`content-type: text/plain; charset=utf-8`, as axum and `graceful` set it for a `&'static str`), so that the throughput compares the same work. Throughput: the servers run side by side; each round measures each for {} s with {} keep-alive connections, graceful and bare hyper back to back in alternating order; a server's ratio is the median over {} rounds of its throughput divided by bare hyper's in the same round. Instructions: each server runs under `valgrind --tool=callgrind`, once serving nothing and once serving {} `GET /` over one keep-alive connection; the difference per request counts every user-space instruction of the server (hyper, tokio, the allocator and, for graceful, its accounting), and does not drift with the machine as throughput does.\n\n{table}\n![throughput ratio and dirty failures per server](bench/chart.svg)\n",
            results.command,
            results.machine,
            plan.seconds,
            plan.connections,
            plan.rounds,
            plan.instruction_requests
        );
        write_file(Path::new("BENCHMARKS.md"), &doc);
    }
}

fn write_file(path: &Path, text: &str) {
    if let Err(err) = std::fs::write(path, text) {
        eprintln!("cannot write {}: {err}", path.display());
    }
}

fn markdown(r: &Results<'_>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let hyper_memory = r.servers["hyper"].memory.as_ref();
    let hyper_instructions = r.servers["hyper"].instructions;
    let _ = writeln!(
        s,
        "| server | req/s (median) | ÷ bare hyper (median of rounds) | instructions / request (÷ bare hyper) | p50 µs | p99 µs | drain: ok / refused / dirty | slow 200 | drain signal→exit ms (code) | idle exit ms | 2nd signal exit ms (code) | RSS idle MiB | RSS {} conns MiB | {} conns: exit ms (code) |",
        r.plan.memory_connections, r.plan.scale_connections
    );
    let _ = writeln!(
        s,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for (name, m) in r.servers.iter() {
        let d = m.drain.as_ref();
        let second = m.second_signal.as_ref();
        let p50: Vec<f64> = m.p50_us.iter().map(|&v| v as f64).collect();
        let p99: Vec<f64> = m.p99_us.iter().map(|&v| v as f64).collect();
        // A scenario this run did not measure (`throughput` alone) shows "–".
        let none = || "–".to_owned();
        let _ = writeln!(
            s,
            "| {name} | {:.0} | {:.3} | {} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            median(&m.throughput),
            median(&m.vs_hyper),
            match (m.instructions, hyper_instructions) {
                (Some(n), Some(h)) => format!("{n:.0} ({:.3})", n / h),
                _ => none(),
            },
            median(&p50),
            median(&p99),
            d.map_or_else(none, |d| format!("{} / {} / {}", d.ok, d.refused, d.dirty)),
            d.map_or_else(none, |d| format!("{}/{}", d.slow_ok, d.slow_total)),
            d.map_or_else(none, |d| format!(
                "{:.0} ({})",
                d.signal_to_exit_ms, d.exit_code
            )),
            if m.idle_exit_ms.is_empty() {
                none()
            } else {
                format!("{:.1}", median(&m.idle_exit_ms))
            },
            second.map_or_else(none, |s| format!("{:.0} ({})", s.exit_ms, s.exit_code)),
            m.memory
                .as_ref()
                .map_or_else(none, |m| format!("{:.1}", m.idle_kib as f64 / 1024.0)),
            m.memory.as_ref().map_or_else(none, |m| format!(
                "{:.1}",
                m.connections_kib as f64 / 1024.0
            )),
            m.scale
                .as_ref()
                .map_or_else(none, |s| format!("{:.0} ({})", s.exit_ms, s.exit_code)),
        );
    }
    let mut sorted = r.ratio_per_round.clone();
    sorted.sort_by(f64::total_cmp);
    let quartile = |q: f64| sorted.get(((sorted.len() as f64 - 1.0) * q).round() as usize);
    let _ = writeln!(
        s,
        "\nThroughput graceful / bare hyper: median **{:.3}** over {} rounds; quartiles {:.3} and {:.3} (every round's ratio is in `target/bench/results.json`).\n",
        r.ratio_median,
        sorted.len(),
        quartile(0.25).copied().unwrap_or(0.0),
        quartile(0.75).copied().unwrap_or(0.0),
    );
    let g = &r.servers["graceful"];
    let d = g.drain.as_ref();
    let bars = [
        (
            "median throughput ≥ 0.97 × bare hyper",
            Some(r.ratio_median >= 0.97),
            format!("{:.3}", r.ratio_median),
        ),
        (
            "0 dirty failures in the drain, every slow request finished",
            d.map(|d| d.dirty == 0 && d.slow_ok == d.slow_total),
            d.map_or_else(String::new, |d| {
                format!("{} dirty, {}/{} slow", d.dirty, d.slow_ok, d.slow_total)
            }),
        ),
        (
            "idle shutdown under 50 ms",
            (!g.idle_exit_ms.is_empty()).then(|| median(&g.idle_exit_ms) < 50.0),
            format!("{:.1} ms", median(&g.idle_exit_ms)),
        ),
        {
            let both = g.memory.as_ref().zip(hyper_memory);
            (
                "resident memory idle within 2 MiB of bare hyper",
                both.map(|(g, h)| g.idle_kib <= h.idle_kib + 2048),
                both.map_or_else(String::new, |(g, h)| {
                    format!(
                        "{:.1} MiB vs {:.1} MiB",
                        g.idle_kib as f64 / 1024.0,
                        h.idle_kib as f64 / 1024.0
                    )
                }),
            )
        },
    ];
    let _ = writeln!(s, "| bar for graceful | met | measured |\n|---|---|---|");
    for (bar, met, value) in bars {
        let _ = match met {
            Some(true) => writeln!(s, "| {bar} | yes | {value} |"),
            Some(false) => writeln!(s, "| {bar} | **no** | {value} |"),
            None => writeln!(s, "| {bar} | – | not measured in this run |"),
        };
    }
    s
}

fn chart(r: &Results<'_>, path: &Path) {
    use plotters::prelude::*;
    let names: Vec<&str> = r.servers.keys().copied().collect();
    let ratios: Vec<f64> = names
        .iter()
        .map(|n| median(&r.servers[n].vs_hyper))
        .collect();
    let dirty: Vec<u64> = names
        .iter()
        .map(|n| r.servers[n].drain.as_ref().map_or(0, |d| d.dirty))
        .collect();
    let root = SVGBackend::new(path, (900, 360)).into_drawing_area();
    let _ = root.fill(&WHITE);
    let (left, right) = root.split_horizontally(450);
    let draw = |area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
                title: &str,
                values: &[f64],
                max: f64| {
        let Ok(mut chart) = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d((0..names.len()).into_segmented(), 0.0..max)
        else {
            return;
        };
        let _ = chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => {
                    names.get(*i).map_or(String::new(), |n| (*n).to_owned())
                }
                _ => String::new(),
            })
            .draw();
        let _ = chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            let color = if names[i] == "graceful" {
                BLUE
            } else {
                RGBColor(150, 150, 150)
            };
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                color.filled(),
            )
        }));
    };
    draw(
        &left,
        "throughput / bare hyper (median)",
        &ratios,
        ratios.iter().cloned().fold(1.2, f64::max),
    );
    let dirty_f: Vec<f64> = dirty.iter().map(|&d| d as f64).collect();
    let measured = names.iter().any(|n| r.servers[n].drain.is_some());
    draw(
        &right,
        if measured {
            "requests lost in the drain (dirty)"
        } else {
            "requests lost in the drain: not measured"
        },
        &dirty_f,
        dirty_f.iter().cloned().fold(5.0, f64::max) * 1.1,
    );
    let _ = root.present();
}
