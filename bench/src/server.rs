//! A server under test, as a child process pinned to its core.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A server running as a child process.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    /// Its standard error's lines that name a restart's successor (which
    /// writes to the same pipe).
    successors: Arc<Mutex<Vec<Pid>>>,
}

impl Server {
    pub(crate) async fn start(binary: &Path) -> Server {
        Server::start_with_env(binary, &[]).await
    }

    /// Starts `binary` pinned to the second core, with `env` added to its
    /// environment.
    pub(crate) async fn start_with_env(binary: &Path, env: &[(&str, &OsStr)]) -> Server {
        let mut command = if Path::new("/usr/bin/taskset").exists() && cores() >= 2 {
            let mut command = Command::new("/usr/bin/taskset");
            command.arg("-c").arg("1").arg(binary);
            command
        } else {
            Command::new(binary)
        };
        command.envs(env.iter().copied());
        Server::spawn(command, binary).await
    }

    /// Runs `command`, which starts `binary`, and waits for its address.
    pub(crate) async fn spawn(mut command: Command, binary: &Path) -> Server {
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
        let successors = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&successors);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let pid = line
                    .split("successor=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|pid| pid.parse().ok());
                if let Some(pid) = pid {
                    seen.lock().expect("not poisoned").push(Pid::from_raw(pid));
                }
            }
        });
        Server {
            child,
            addr,
            successors,
        }
    }

    /// The `n`th successor a restart by handoff started (from 1), once it
    /// serves.
    pub(crate) async fn successor(&self, n: usize) -> Pid {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(&pid) = self.successors.lock().expect("not poisoned").get(n - 1) {
                return pid;
            }
            assert!(Instant::now() < deadline, "no successor {n} in time");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    pub(crate) fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id().expect("running") as i32)
    }

    pub(crate) fn signal(&self) {
        let _ = kill(self.pid(), Signal::SIGTERM);
    }

    /// Waits for the exit, at most `limit`; kills the child past it.
    pub(crate) async fn exit(&mut self, limit: Duration) -> (i32, Duration) {
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
    pub(crate) fn rss_kib(&self) -> u64 {
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

/// Whether `pid` runs: exists and is not a zombie (a restart's successor is
/// not our child: whoever adopted it reaps it).
pub(crate) fn runs(pid: Pid) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(") ")
        .next()
        .and_then(|rest| rest.chars().next());
    kill(pid, None).is_ok() && state != Some('Z')
}

/// Waits until `pid` no longer runs, at most `limit`; kills it past that.
pub(crate) async fn gone(pid: Pid, limit: Duration) {
    let deadline = Instant::now() + limit;
    while runs(pid) {
        if Instant::now() >= deadline {
            let _ = kill(pid, Signal::SIGKILL);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The machine's cores, read once before this process pins itself to one
/// (after which the count seen would be 1, and the servers would share the
/// load generator's core).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}
