//! A rolling restart behind a real nginx: three replicas of a server behind
//! Debian's nginx (upstream keep-alive on; nginx's default retry of another
//! upstream on a connection error, or no retry), each restarted in turn under
//! steady load: stopped with SIGTERM and started again on its port, or
//! (graceful) restarted by listener handoff with SIGUSR2. Counted: requests that failed
//! (an error status, or a transport error) and requests answered 0.5 s late
//! or later (a connection attempt whose SYN was dropped waits for TCP's
//! retransmission, 1 s).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use graceful_bench::client::{self, Outcome};
use graceful_bench::endpoints::ADDR_VAR;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::process::{Child, Command};

use crate::server::{Server, gone};

/// How a replica is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) enum Restart {
    /// SIGTERM, wait for the exit, start again on the port.
    StopStart,
    /// SIGUSR2: the process starts its successor with its listener, and
    /// exits once the successor serves.
    Handoff,
}

/// One replica: the process started, and the one serving now (a successor
/// after handoffs).
pub(crate) struct Replica {
    server: Server,
    /// The process started, our child.
    first: Pid,
    current: Pid,
    handoffs: usize,
}

impl Replica {
    pub(crate) async fn start(binary: &Path, port: u16) -> Replica {
        let server = replica(binary, port).await;
        let first = server.pid();
        Replica {
            server,
            first,
            current: first,
            handoffs: 0,
        }
    }

    pub(crate) async fn restart(&mut self, binary: &Path, port: u16, how: Restart) {
        match how {
            Restart::StopStart => {
                self.stop().await;
                *self = Replica::start(binary, port).await;
            }
            Restart::Handoff => {
                let _ = kill(self.current, Signal::SIGUSR2);
                self.handoffs += 1;
                let next = self.server.successor(self.handoffs).await;
                if self.current == self.first {
                    self.server.exit(Duration::from_secs(30)).await;
                } else {
                    gone(self.current, Duration::from_secs(30)).await;
                }
                self.current = next;
            }
        }
    }

    pub(crate) async fn stop(&mut self) {
        let _ = kill(self.current, Signal::SIGTERM);
        if self.current == self.first {
            self.server.exit(Duration::from_secs(30)).await;
        } else {
            gone(self.current, Duration::from_secs(30)).await;
        }
    }
}

/// How late is late.
const LATE: Duration = Duration::from_millis(500);

/// What one rolling restart did to the requests of its load.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Rolling {
    pub(crate) requests: u64,
    /// Answered with a status other than 200.
    pub(crate) failed_status: u64,
    /// The connection to nginx failed.
    pub(crate) failed_transport: u64,
    /// Answered 0.5 s late or later.
    pub(crate) late: u64,
    pub(crate) max_ms: f64,
    pub(crate) restarts: usize,
}

impl Rolling {
    pub(crate) fn failed(&self) -> u64 {
        self.failed_status + self.failed_transport
    }
}

/// Whether nginx is installed.
pub(crate) fn nginx_installed() -> bool {
    nginx().is_some()
}

fn nginx() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// A free port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// Starts one replica of `binary` on `port`.
async fn replica(binary: &Path, port: u16) -> Server {
    let addr = format!("127.0.0.1:{port}");
    let mut command = Command::new(binary);
    command
        .env(ADDR_VAR, &addr)
        .env("GRACEFUL_ADDR_BENCH", &addr);
    Server::spawn(command, binary).await
}

/// nginx in front of `ports`, listening on `listen`, with its files in `dir`.
fn start_nginx(dir: &Path, listen: u16, ports: &[u16], retries: bool) -> Child {
    let upstreams: String = ports
        .iter()
        .map(|port| format!("        server 127.0.0.1:{port} max_fails=0;\n"))
        .collect();
    let config = format!(
        "daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n    access_log off;\n    client_body_temp_path {dir};\n    proxy_temp_path {dir};\n\
         \x20   upstream app {{\n{upstreams}        keepalive 64;\n    }}\n\
         \x20   server {{\n        listen 127.0.0.1:{listen};\n        location / {{\n\
         \x20           proxy_pass http://app;\n            proxy_http_version 1.1;\n\
         \x20           proxy_set_header Connection \"\";\n{no_retry}        }}\n    }}\n}}\n",
        dir = dir.display(),
        // Without retries, a request nginx sends to a closed port fails.
        no_retry = if retries {
            ""
        } else {
            "            proxy_next_upstream off;\n"
        },
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).expect("nginx.conf written");
    Command::new(nginx().expect("nginx installed"))
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nginx started")
}

/// Waits until `addr` accepts connections.
async fn listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Restarts three replicas of `binary` behind nginx, one by one, while
/// `clients` keep-alive connections send `GET /` in a loop.
pub(crate) async fn rolling(
    binary: &Path,
    clients: usize,
    pause: Duration,
    how: Restart,
    retries: bool,
) -> Rolling {
    let dir = std::env::temp_dir().join(format!(
        "graceful-bench-nginx-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("a directory for nginx");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut replicas = Vec::new();
    for &port in &ports {
        replicas.push(Replica::start(binary, port).await);
    }
    let listen = free_port();
    let mut nginx = start_nginx(&dir, listen, &ports, retries);
    let front: SocketAddr = ([127, 0, 0, 1], listen).into();
    listening(front).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..clients)
        .map(|_| {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut tally = Rolling::default();
                let mut sender = None;
                while !stop.load(Ordering::Relaxed) {
                    if sender.is_none() {
                        sender = client::connect(front).await.ok();
                    }
                    let Some(conn) = sender.as_mut() else {
                        tally.failed_transport += 1;
                        continue;
                    };
                    let started = Instant::now();
                    let outcome = client::send(conn, "GET", "/", b"").await;
                    let took = started.elapsed();
                    if matches!(outcome, Outcome::NotSent) {
                        // nginx closed its keep-alive connection (after
                        // `keepalive_requests`) before this request was
                        // written: nothing was lost, connect again.
                        sender = None;
                        continue;
                    }
                    tally.requests += 1;
                    tally.max_ms = tally.max_ms.max(took.as_secs_f64() * 1e3);
                    if took >= LATE {
                        tally.late += 1;
                    }
                    match outcome {
                        Outcome::Answered(answer) if answer.status == 200 => {}
                        Outcome::Answered(_) => tally.failed_status += 1,
                        Outcome::NotSent | Outcome::Failed(_) => {
                            tally.failed_transport += 1;
                            sender = None;
                        }
                    }
                }
                tally
            })
        })
        .collect();

    tokio::time::sleep(pause).await;
    for (i, &port) in ports.iter().enumerate() {
        replicas[i].restart(binary, port, how).await;
        tokio::time::sleep(pause).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = Rolling {
        restarts: ports.len(),
        ..Rolling::default()
    };
    for task in load {
        if let Ok(tally) = task.await {
            total.requests += tally.requests;
            total.failed_status += tally.failed_status;
            total.failed_transport += tally.failed_transport;
            total.late += tally.late;
            total.max_ms = total.max_ms.max(tally.max_ms);
        }
    }
    for replica in &mut replicas {
        replica.stop().await;
    }
    let _ = nginx.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    total
}
