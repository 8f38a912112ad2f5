//! The worker side by side: `examples/sqlite/worker.rs` (graceful's
//! `#[graceful::task]`) and `bin/worker-tgs.rs` (the same worker with
//! tokio-graceful-shutdown's subsystems), each run as a process: sixteen
//! clients post jobs, each job's work makes a backlog, the SIGTERM comes
//! mid-stream; then a poisoned job panics the consumer. Measured: jobs
//! answered `202` and not in the database, requests that failed dirty, the
//! exit codes, the time from the signal to the exit, readiness after the
//! panic, and each program's lines of code.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graceful_bench::client::{self, Outcome};
use tokio::process::Command;
use tokio::sync::Notify;

use crate::server::*;

const CLIENTS: usize = 16;
const ACCEPTED_BEFORE_SIGTERM: usize = 1_500;
const JOB_COST: &str = "200us";

/// One of the two workers.
struct Worker {
    name: &'static str,
    binary: PathBuf,
    source: &'static str,
    /// Its environment for the address, beside `WORKER_DB`.
    addr_var: &'static str,
    /// Its readiness path, if it has one.
    health: Option<&'static str>,
}

/// What one run measured.
#[derive(Default)]
struct Run {
    accepted: usize,
    committed: usize,
    lost: usize,
    dirty: usize,
    exit_code: i32,
    exit_ms: f64,
}

/// Runs `-- worker`: both workers, and prints a markdown table.
pub(crate) async fn worker_only(binaries: &Path) {
    let workers = [
        Worker {
            name: "graceful (#[graceful::task])",
            binary: binaries.join("examples").join("worker"),
            source: include_str!("../../../examples/sqlite/worker.rs"),
            addr_var: "GRACEFUL_ADDR_API",
            health: Some("/healthz"),
        },
        Worker {
            name: "tokio-graceful-shutdown 0.19",
            binary: binaries.join("worker-tgs"),
            source: include_str!("../bin/worker-tgs.rs"),
            addr_var: "WORKER_ADDR",
            health: None,
        },
    ];
    println!(
        "| worker | lines of code | jobs answered 202 | 202s not in the database | failed dirty | exit code | SIGTERM to exit | poisoned: exit code | poisoned: readiness |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for worker in &workers {
        assert!(
            worker.binary.exists(),
            "{} is not built: cargo build --release -p graceful-examples-sqlite --example worker",
            worker.binary.display()
        );
        let sigterm = sigterm_mid_stream(worker).await;
        let (poisoned_code, readiness) = poisoned(worker).await;
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} ms | {} | {} |",
            worker.name,
            lines_of_code(worker.source),
            sigterm.accepted,
            sigterm.lost,
            sigterm.dirty,
            sigterm.exit_code,
            sigterm.exit_ms,
            poisoned_code,
            readiness,
        );
        eprintln!(
            "{}: {} accepted, {} committed",
            worker.name, sigterm.accepted, sigterm.committed
        );
    }
}

/// Lines that are neither blank nor comments.
fn lines_of_code(source: &str) -> usize {
    source
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .count()
}

/// Starts `worker` with a fresh database in `dir`.
async fn start(worker: &Worker, dir: &Path, extra: &[(&str, &str)]) -> Server {
    let mut command = Command::new(&worker.binary);
    command
        .env("WORKER_DB", dir.join("jobs.sqlite3"))
        .env("WORKER_JOB_COST", JOB_COST)
        .env(worker.addr_var, "127.0.0.1:0")
        // A panic's backtrace takes tens of milliseconds to print: measured
        // without, as a service usually runs.
        .env_remove("RUST_BACKTRACE");
    for (var, value) in extra {
        command.env(var, value);
    }
    Server::spawn(command, &worker.binary).await
}

fn fresh_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("graceful-bench-worker-{tag}-{nanos}"));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

async fn sigterm_mid_stream(worker: &Worker) -> Run {
    let dir = fresh_dir("sigterm");
    let mut server = start(worker, &dir, &[]).await;
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let enough = Arc::new(Notify::new());
    let enough_now = enough.notified();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(post_until_refused(
                server.addr,
                Arc::clone(&accepted),
                Arc::clone(&enough),
            ))
        })
        .collect();
    let _ = tokio::time::timeout(Duration::from_secs(30), enough_now).await;
    let signalled = Instant::now();
    server.signal();
    // The exit first: a client whose connection attempt met the closing
    // listener may wait for its SYN's retry, which is not the server's time.
    let (exit_code, _) = server.exit(Duration::from_secs(30)).await;
    let exit_ms = signalled.elapsed().as_secs_f64() * 1e3;
    let mut dirty = 0;
    for client in clients {
        dirty += client.await.unwrap_or(1);
    }
    let accepted = accepted.lock().expect("not poisoned").clone();
    let committed = committed(&dir.join("jobs.sqlite3"));
    std::fs::remove_dir_all(&dir).ok();
    Run {
        accepted: accepted.len(),
        committed: committed.len(),
        lost: accepted.difference(&committed).count(),
        dirty,
        exit_code,
        exit_ms,
    }
}

/// Posts a poisoned job; returns the exit code and what readiness said
/// once the consumer had panicked.
async fn poisoned(worker: &Worker) -> (i32, String) {
    let dir = fresh_dir("poison");
    let env: &[(&str, &str)] = match worker.health {
        Some(_) => &[
            ("GRACEFUL_HEALTH_PATH", "/healthz"),
            ("GRACEFUL_PRE_STOP_DELAY", "1s"),
        ],
        None => &[],
    };
    let mut server = start(worker, &dir, env).await;
    let addr = server.addr;
    if let Ok(mut sender) = client::connect(addr).await {
        let _ = client::send(&mut sender, "POST", "/jobs", b"poison").await;
    }
    let readiness = match worker.health {
        Some(path) => readiness_after_panic(addr, path).await,
        None => "none to ask".to_owned(),
    };
    let (code, _) = server.exit(Duration::from_secs(30)).await;
    std::fs::remove_dir_all(&dir).ok();
    (code, readiness)
}

/// The first readiness answer that is not `200`, asked every millisecond.
async fn readiness_after_panic(addr: SocketAddr, path: &str) -> String {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        let Ok(mut sender) = client::connect(addr).await else {
            return "listener closed".to_owned();
        };
        if let Outcome::Answered(a) = client::send(&mut sender, "GET", path, b"").await {
            if a.status != 200 {
                return format!(
                    "{} after {:.0} ms",
                    a.status.as_u16(),
                    started.elapsed().as_secs_f64() * 1e3
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    "still 200".to_owned()
}

/// Posts jobs until the server stops answering; returns how many failed
/// dirty (written, then no answer).
async fn post_until_refused(
    addr: SocketAddr,
    accepted: Arc<Mutex<BTreeSet<u64>>>,
    enough: Arc<Notify>,
) -> usize {
    let mut dirty = 0;
    loop {
        let Ok(mut sender) = client::connect(addr).await else {
            return dirty;
        };
        loop {
            match client::send(&mut sender, "POST", "/jobs", b"a job").await {
                Outcome::Answered(a) if a.status == 202 => {
                    if let Ok(id) = a.text().trim().parse::<u64>() {
                        let mut accepted = accepted.lock().expect("not poisoned");
                        accepted.insert(id);
                        if accepted.len() == ACCEPTED_BEFORE_SIGTERM {
                            enough.notify_one();
                        }
                    }
                    if a.closes() {
                        break;
                    }
                }
                Outcome::Answered(_) | Outcome::NotSent => break,
                Outcome::Failed(_) => {
                    dirty += 1;
                    break;
                }
            }
        }
    }
}

fn committed(db: &Path) -> BTreeSet<u64> {
    let Ok(db) = rusqlite::Connection::open(db) else {
        return BTreeSet::new();
    };
    let Ok(mut query) = db.prepare("SELECT id FROM jobs") else {
        return BTreeSet::new();
    };
    query
        .query_map([], |row| row.get(0))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}
