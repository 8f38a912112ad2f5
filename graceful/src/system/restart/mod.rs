//! Restart by listener handoff: the running process starts its successor
//! with every listener, waits until the successor serves, then runs its
//! ordinary graceful shutdown. Both accept on the same sockets in between,
//! so no connection is refused and none that was accepted is reset.
//!
//! 1. A restart signal (`SIGUSR2` by default: `restart_signals`) or
//!    [`ShutdownHandle::restart`](crate::ShutdownHandle::restart) asks.
//!    One restart at a time; one asked during the shutdown (or after a
//!    handover) is refused with a log line, and so is one that no service
//!    manager could follow: as PID 1 (the kernel ends every process of the
//!    namespace when it exits), or under a parent that tracks this process's
//!    pid with no notify protocol to be told of the successor.
//! 2. The successor is the program at the path this process was started as
//!    (see `origin`: a new binary installed there is the upgrade), with the
//!    same arguments and environment, started without a shell (see
//!    `launch`) through socket activation: every listener as an inherited
//!    descriptor named like its server (`LISTEN_FDS`, `LISTEN_FDNAMES`,
//!    `LISTEN_PID`), and a socket of this process to report to (see
//!    `successor`).
//! 3. The successor starts as any process does, and once it serves (where
//!    it would tell the service manager `READY=1`) it tells this process.
//! 4. Only then this process hands the service over: under systemd,
//!    `MAINPID=` names the successor; then its shutdown begins, as for a
//!    signal, except that it skips its `pre_stop_delay` (a successor serves:
//!    there is nothing to announce) and its listeners are let go as they
//!    are: what waits in their queue is the successor's to take.
//!
//! A successor that exits during its start, or is not ready within the
//! `restart_timeout`, is killed with its process group, the listeners'
//! shared flags are made non-blocking again (a successor may have changed
//! them), and this process keeps serving, with the reason logged: a bad
//! binary never takes the service down.

#[cfg(unix)]
mod launch;
mod origin;
mod sharing;
mod successor;

pub(crate) use origin::capture;
pub(crate) use sharing::Sharing;
pub(crate) use successor::{is_managed, is_successor, tell_predecessor_ready};

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::lifecycle::{Lifecycle, Phase, RestartAsks};
use crate::system::notify::Notifier;

/// How long an accept on a listener made blocking by a successor can hold
/// a worker thread, at most (`SO_RCVTIMEO`, set before a successor starts).
const ACCEPT_TIMEOUT: Duration = Duration::from_millis(50);

/// A listener to hand over.
#[derive(Debug, Clone)]
pub(crate) struct Handed {
    /// Its server's name, which names it in `LISTEN_FDNAMES`.
    pub(crate) name: Arc<str>,
    /// Its descriptor.
    pub(crate) fd: i32,
    /// Whether the service manager holds it too (a socket unit's).
    pub(crate) managed: bool,
}

/// Why a restart was not tried; the process keeps serving.
#[derive(Debug)]
enum Refusal {
    /// The shutdown has begun.
    ShuttingDown,
    /// This process handed over already.
    HandedOver,
    /// This process is PID 1.
    Pid1,
    /// Nothing would adopt the successor.
    NoAdopter { parent: u32 },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ShuttingDown => f.write_str("the shutdown has begun"),
            Refusal::HandedOver => f.write_str(
                "this process handed the service over already; restart its successor",
            ),
            Refusal::Pid1 => f.write_str(
                "this process is PID 1 (a container without an init): when it exits after a handover, the kernel ends its successor with it; restart through the orchestrator (a rolling update) instead",
            ),
            Refusal::NoAdopter { parent } => write!(
                f,
                "no service manager can adopt the successor: the parent (pid {parent}) tracks this process's pid, and NOTIFY_SOCKET is not set to tell it of another; run under systemd with Type=notify, or restart through the orchestrator"
            ),
        }
    }
}

/// Why a restart failed; the process keeps serving.
#[derive(Debug)]
enum Failure {
    /// The program to run cannot be found.
    NoProgram(io::Error),
    /// The socket to report to, or the successor, could not be made.
    Spawn(io::Error),
    /// The successor exited during its start.
    Exited(std::process::ExitStatus),
    /// The successor did not serve in time.
    NotReady(Duration),
    /// The shutdown began meanwhile.
    ShutdownBegan,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoProgram(err) => write!(f, "the program to restart is not found: {err}"),
            Failure::Spawn(err) => write!(f, "cannot start the successor: {err}"),
            Failure::Exited(status) => {
                write!(f, "the successor exited during its start ({status})")
            }
            Failure::NotReady(timeout) => {
                write!(
                    f,
                    "the successor did not serve within {timeout:?}; it was killed"
                )
            }
            Failure::ShutdownBegan => f.write_str("the shutdown began; the successor was killed"),
        }
    }
}

/// What the start gives the restart: the listeners, how long a successor
/// may take to serve, what a restart shares with the servers, and where
/// restarts are asked for.
#[derive(Debug)]
pub(crate) struct Setup {
    /// Each server's listener, in declaration order.
    pub(crate) listeners: Vec<Handed>,
    /// How long the successor may take to serve (`restart_timeout`).
    pub(crate) timeout: Duration,
    pub(crate) sharing: Arc<Sharing>,
    pub(crate) asks: Arc<RestartAsks>,
}

/// Runs the restarts asked for, on the runtime.
#[derive(Debug)]
pub(crate) struct Restarter {
    /// Each server's listener, in declaration order.
    listeners: Vec<Handed>,
    /// How long the successor may take to serve.
    timeout: Duration,
    lifecycle: Arc<Lifecycle>,
    sharing: Arc<Sharing>,
    asks: Arc<RestartAsks>,
    notifier: Notifier,
}

/// Numbers the report sockets of one process.
static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

impl Restarter {
    pub(crate) fn new(setup: Setup, lifecycle: Arc<Lifecycle>, notifier: Notifier) -> Restarter {
        let Setup {
            listeners,
            timeout,
            sharing,
            asks,
        } = setup;
        Restarter {
            listeners,
            timeout,
            asks,
            lifecycle,
            sharing,
            notifier,
        }
    }

    /// Serves restart requests for as long as the app runs: one at a
    /// time, each refused once the shutdown has begun.
    pub(crate) async fn run(self) {
        loop {
            let asked = self.asks.next().await;
            if let Some(refusal) = self.refusal() {
                tracing::warn!(restart = "refused", reason = %refusal, asked_by = %asked, "restart refused: {refusal}");
                continue;
            }
            let program = match origin::program() {
                Ok(program) => program,
                Err(err) => {
                    let failure = Failure::NoProgram(err);
                    tracing::error!(restart = "failed", reason = %failure, "restart failed; still serving");
                    continue;
                }
            };
            tracing::info!(restart = "starting", asked_by = %asked, program = %program.display(), "restart: starting a successor");
            self.sharing.set_starting(true);
            let outcome = self.successor(&program).await;
            self.sharing.set_starting(false);
            match outcome {
                Ok(pid) => self.hand_over(pid),
                Err(failure) => {
                    self.keep_listeners_non_blocking();
                    tracing::error!(restart = "failed", reason = %failure, "restart failed; still serving");
                }
            }
        }
    }

    /// Why a restart must not be tried now, if it must not.
    fn refusal(&self) -> Option<Refusal> {
        if self.lifecycle.is_handed_over() {
            return Some(Refusal::HandedOver);
        }
        if self.lifecycle.phase() != Phase::Running {
            return Some(Refusal::ShuttingDown);
        }
        if std::process::id() == 1 {
            return Some(Refusal::Pid1);
        }
        let parent = parent_pid();
        // A parent outside the namespace reads as 0.
        if !self.notifier.is_on() && parent <= 1 {
            return Some(Refusal::NoAdopter { parent });
        }
        None
    }

    /// The successor serves: names it to the service manager and begins
    /// this process's shutdown, unless a signal came first.
    fn hand_over(&self, pid: u32) {
        let handed = self.lifecycle.hand_over(|| {
            tracing::info!(
                restart = "handed-over",
                successor = pid,
                "restart: the successor serves; handing over and shutting down"
            );
            self.notifier.hand_over(pid);
        });
        if !handed {
            // A signal came as the successor became ready: this process
            // stops as asked, and so does the successor, gracefully, for it
            // may have accepted connections.
            tracing::warn!(
                restart = "stopped",
                successor = pid,
                "restart: the shutdown began as the successor became ready; asking it to stop"
            );
            #[cfg(unix)]
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }

    /// Starts the successor and waits until it serves; returns its pid.
    async fn successor(&self, program: &Path) -> Result<u32, Failure> {
        let report = ReportSocket::bind().map_err(Failure::Spawn)?;
        // From the fork on, the successor holds the listeners too.
        self.sharing.share();
        for listener in &self.listeners {
            bound_accepts(listener.fd);
        }
        let mut child = self.spawn(program, &report.path).map_err(Failure::Spawn)?;
        let pid = child.id().unwrap_or_default();
        let expected = format!("MAINPID={pid}");
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut buf = [0u8; 512];
        let failure = loop {
            tokio::select! {
                received = report.socket.recv(&mut buf) => {
                    let Ok(n) = received else { continue };
                    let message = String::from_utf8_lossy(&buf[..n]);
                    if message.lines().any(|l| l == "READY=1") && message.lines().any(|l| l == expected) {
                        return Ok(pid);
                    }
                }
                status = child.wait() => match status {
                    Ok(status) => break Failure::Exited(status),
                    Err(err) => break Failure::Spawn(err),
                },
                () = &mut deadline => break Failure::NotReady(self.timeout),
                () = self.lifecycle.begun() => break Failure::ShutdownBegan,
                asked = self.asks.next() => {
                    tracing::warn!(restart = "refused", reason = "one is under way", asked_by = %asked, "restart refused: one is under way");
                }
            }
        };
        // Its children too: they would hold the listeners.
        #[cfg(unix)]
        launch::kill_group(pid);
        let _ = child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        Err(failure)
    }

    /// Starts `program` with the listeners at descriptors 3 and up.
    #[cfg(unix)]
    fn spawn(&self, program: &Path, report: &Path) -> io::Result<tokio::process::Child> {
        let names: Vec<&str> = self.listeners.iter().map(|l| &*l.name).collect();
        let managed: Vec<&str> = self
            .listeners
            .iter()
            .filter(|l| l.managed)
            .map(|l| &*l.name)
            .collect();
        let count = self.listeners.len().to_string();
        let (names, managed) = (names.join(":"), managed.join(":"));
        let set = [
            ("LISTEN_FDS", OsStr::new(&count)),
            ("LISTEN_FDNAMES", OsStr::new(&names)),
            (successor::SOCKET_VAR, report.as_os_str()),
            (successor::MANAGED_VAR, OsStr::new(&managed)),
        ];
        let fds = self.listeners.iter().map(|l| l.fd).collect();
        launch::Launch::new(program, &origin::args(), &set, fds)?.spawn()
    }

    #[cfg(not(unix))]
    fn spawn(&self, _program: &Path, _report: &Path) -> io::Result<tokio::process::Child> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    /// After a failed restart: the listeners' file status flags are shared
    /// with the successor, which may have made them blocking (a program
    /// that knows nothing of non-blocking sockets); an accept would then
    /// hold a worker thread. Made non-blocking again, and checked.
    fn keep_listeners_non_blocking(&self) {
        for listener in &self.listeners {
            if let Err(err) = keep_non_blocking(listener.fd) {
                tracing::error!(name = %listener.name, error = %err, "cannot make the listener non-blocking again");
            }
        }
    }
}

/// Makes the listener at `fd` non-blocking if something made it blocking;
/// says whether it had to.
#[cfg(unix)]
#[allow(unsafe_code)]
pub(crate) fn keep_non_blocking(fd: i32) -> io::Result<bool> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    // SAFETY: `fd` is one of this process's listeners, open while the app
    // serves, which is when this runs.
    let listener = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let flags = OFlag::from_bits_retain(fcntl(listener, FcntlArg::F_GETFL)?);
    if flags.contains(OFlag::O_NONBLOCK) {
        return Ok(false);
    }
    fcntl(listener, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    let again = OFlag::from_bits_retain(fcntl(listener, FcntlArg::F_GETFL)?);
    if !again.contains(OFlag::O_NONBLOCK) {
        return Err(io::Error::other("the listener stays blocking"));
    }
    tracing::warn!(
        fd,
        "a listener was made blocking by another process; it is non-blocking again"
    );
    Ok(true)
}

#[cfg(not(unix))]
pub(crate) fn keep_non_blocking(_fd: i32) -> io::Result<bool> {
    Ok(false)
}

/// Bounds how long an accept can wait on the listener at `fd`, should it
/// be made blocking while a successor holds it too (`SO_RCVTIMEO`, which
/// a non-blocking accept ignores).
#[cfg(unix)]
#[allow(unsafe_code)]
fn bound_accepts(fd: i32) {
    use nix::sys::socket::{setsockopt, sockopt::ReceiveTimeout};
    use nix::sys::time::TimeVal;
    // SAFETY: as in `keep_non_blocking`.
    let listener = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let timeout = TimeVal::new(0, ACCEPT_TIMEOUT.as_micros() as _);
    if let Err(err) = setsockopt(&listener, ReceiveTimeout, &timeout) {
        tracing::debug!(fd, error = %err, "cannot bound the accepts of a listener");
    }
}

#[cfg(not(unix))]
fn bound_accepts(_fd: i32) {}

/// This process's parent.
fn parent_pid() -> u32 {
    #[cfg(unix)]
    {
        nix::unistd::getppid().as_raw().try_into().unwrap_or(0)
    }
    #[cfg(not(unix))]
    0
}

/// The socket a successor reports to; its file goes with it.
struct ReportSocket {
    socket: tokio::net::UnixDatagram,
    path: PathBuf,
}

impl ReportSocket {
    fn bind() -> io::Result<ReportSocket> {
        let path = std::env::temp_dir().join(format!(
            "graceful-handoff-{}-{}.sock",
            std::process::id(),
            ATTEMPTS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let socket = tokio::net::UnixDatagram::bind(&path)?;
        Ok(ReportSocket { socket, path })
    }
}

impl Drop for ReportSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
