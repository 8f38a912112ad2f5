//! Restart by listener handoff: the running process starts its successor
//! with every listener, waits until the successor serves, then runs its
//! ordinary graceful shutdown. Both accept on the same sockets in between,
//! so no connection is refused and none that was accepted is reset.
//!
//! 1. A restart signal (`SIGUSR2` by default: `restart_signals`) or
//!    [`ShutdownHandle::restart`](crate::ShutdownHandle::restart) asks.
//!    One restart at a time; one asked during the shutdown is refused, with
//!    a log line.
//! 2. The successor is the same program path (a new binary installed there
//!    is the upgrade), with the same arguments and environment, started
//!    through socket activation (see `activation`): every listener as an
//!    inherited descriptor named like its server (`LISTEN_FDS`,
//!    `LISTEN_FDNAMES`, `LISTEN_PID`), and a socket of this process to
//!    report to (`GRACEFUL_HANDOFF_SOCKET`).
//! 3. The successor starts as any process does, and once it serves (where
//!    it would tell the service manager `READY=1`) it tells this process.
//! 4. Only then this process hands the service over: under systemd,
//!    `MAINPID=` names the successor; then its shutdown begins, as for a
//!    signal, except that its listeners are let go as they are: what waits
//!    in their queue is the successor's to take.
//!
//! A successor that exits during its start, or is not ready within the
//! `restart_timeout`, is killed, and this process keeps serving, with the reason
//! logged: a bad binary never takes the service down.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::lifecycle::{Lifecycle, Phase};
use crate::notify::Notifier;

/// The variable that gives a successor the socket to report to.
const HANDOFF_VAR: &str = "GRACEFUL_HANDOFF_SOCKET";

/// Starts the successor from the shell, so that `LISTEN_PID` (and
/// `WATCHDOG_PID`, if the service manager watches) are its own pid, which
/// is the shell's until `exec` replaces it.
const LAUNCH: &str = "LISTEN_PID=$$; export LISTEN_PID; \
    if [ -n \"$WATCHDOG_USEC\" ]; then WATCHDOG_PID=$$; export WATCHDOG_PID; fi; \
    exec \"$0\" \"$@\"";

/// At most this many listeners are handed over.
const MAX_LISTENERS: usize = 64;

/// In a successor, once it serves: tells the process that started it.
pub(crate) fn tell_predecessor_ready() {
    #[cfg(unix)]
    if let Some(path) = std::env::var_os(HANDOFF_VAR) {
        // The notify protocol's datagram, to a socket of our own: the
        // service manager's (`NOTIFY_SOCKET`) is not where this goes.
        let message = format!("READY=1\nMAINPID={}\n", std::process::id());
        let sent = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|socket| socket.send_to(message.as_bytes(), &path));
        if let Err(err) = sent {
            tracing::warn!(error = %err, "cannot tell the process that started this one that it serves");
        }
    }
}

/// Whether this process was started by a restart, to take over.
pub(crate) fn is_successor() -> bool {
    std::env::var_os(HANDOFF_VAR).is_some()
}

/// Why a restart failed; the process keeps serving.
#[derive(Debug)]
enum Failure {
    /// The program path is unknown.
    NoProgram(io::Error),
    /// Too many listeners to hand over.
    TooManyListeners(usize),
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
            Failure::NoProgram(err) => write!(f, "this program's path is unknown: {err}"),
            Failure::TooManyListeners(n) => {
                write!(f, "{n} listeners; at most {MAX_LISTENERS} are handed over")
            }
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

/// Runs the restarts asked for, on the runtime.
#[derive(Debug)]
pub(crate) struct Restarter {
    /// The program's path at the start, so that a binary installed there
    /// since is the one started.
    program: io::Result<PathBuf>,
    args: Vec<OsString>,
    /// Each server's name and listener descriptor, in declaration order.
    listeners: Vec<(Arc<str>, i32)>,
    /// How long the successor may take to serve.
    timeout: Duration,
    lifecycle: Arc<Lifecycle>,
    notifier: Notifier,
}

/// Numbers the report sockets of one process.
static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

impl Restarter {
    pub(crate) fn new(
        listeners: Vec<(Arc<str>, i32)>,
        timeout: Duration,
        lifecycle: Arc<Lifecycle>,
        notifier: Notifier,
    ) -> Restarter {
        Restarter {
            program: std::env::current_exe(),
            args: std::env::args_os().skip(1).collect(),
            listeners,
            timeout,
            lifecycle,
            notifier,
        }
    }

    /// Serves restart requests until one hands the service over.
    pub(crate) async fn run(self) {
        loop {
            let asked = self.lifecycle.restart_asked().await;
            if self.lifecycle.phase() != Phase::Running {
                tracing::warn!(asked_by = %asked, "restart refused: the shutdown has begun");
                continue;
            }
            tracing::info!(asked_by = %asked, "restart: starting a successor");
            match self.successor().await {
                Ok(pid) => {
                    let handed = self.lifecycle.hand_over(|| {
                        tracing::info!(
                            successor = pid,
                            "restart: the successor serves; handing over and shutting down"
                        );
                        self.notifier.hand_over(pid);
                    });
                    if !handed {
                        // A signal came as the successor became ready: this
                        // process stops as asked, and so does the successor,
                        // gracefully, for it may have accepted connections.
                        tracing::warn!(
                            successor = pid,
                            "restart: the shutdown began as the successor became ready; asking it to stop"
                        );
                        #[cfg(unix)]
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid as i32),
                            nix::sys::signal::Signal::SIGTERM,
                        );
                    }
                    return;
                }
                Err(failure) => {
                    tracing::error!(reason = %failure, "restart failed; still serving");
                }
            }
        }
    }

    /// Starts the successor and waits until it serves; returns its pid.
    async fn successor(&self) -> Result<u32, Failure> {
        let program = self
            .program
            .as_ref()
            .map_err(|err| Failure::NoProgram(io::Error::new(err.kind(), err.to_string())))?;
        if self.listeners.len() > MAX_LISTENERS {
            return Err(Failure::TooManyListeners(self.listeners.len()));
        }
        let report = ReportSocket::bind().map_err(Failure::Spawn)?;
        // From the fork on, the successor holds the listeners too.
        self.lifecycle.share_listeners();
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
                    Ok(status) => return Err(Failure::Exited(status)),
                    Err(err) => break Failure::Spawn(err),
                },
                () = &mut deadline => break Failure::NotReady(self.timeout),
                () = self.lifecycle.begun() => break Failure::ShutdownBegan,
                asked = self.lifecycle.restart_asked() => {
                    tracing::warn!(asked_by = %asked, "restart refused: one is under way");
                }
            }
        };
        let _ = child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        Err(failure)
    }

    /// Starts `program` with the listeners at descriptors 3 and up.
    #[cfg(unix)]
    fn spawn(&self, program: &Path, report: &Path) -> io::Result<tokio::process::Child> {
        let names: Vec<&str> = self.listeners.iter().map(|(name, _)| &**name).collect();
        let fds: Vec<i32> = self.listeners.iter().map(|(_, fd)| *fd).collect();
        let mut command = tokio::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(LAUNCH)
            .arg(program)
            .args(&self.args)
            .env("LISTEN_FDS", fds.len().to_string())
            .env("LISTEN_FDNAMES", names.join(":"))
            .env(HANDOFF_VAR, report);
        place_listeners(&mut command, fds);
        command.spawn()
    }

    #[cfg(not(unix))]
    fn spawn(&self, _program: &Path, _report: &Path) -> io::Result<tokio::process::Child> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Puts `fds` at descriptors 3, 4, ... of the child, as socket activation
/// wants them: first copied out of the way (above every target, closed at
/// exec), then duplicated into place (kept at exec).
#[cfg(unix)]
#[allow(unsafe_code)]
fn place_listeners(command: &mut tokio::process::Command, fds: Vec<i32>) {
    use std::os::fd::BorrowedFd;

    use nix::fcntl::{FcntlArg, fcntl};
    // SAFETY: the closure runs in the forked child before exec, and calls
    // only async-signal-safe functions (fcntl, dup2) on a fixed array: it
    // allocates nothing. The descriptors it borrows are this process's
    // listeners, open while it runs (a restart is refused once the shutdown,
    // which closes them, has begun; the child is forked before that).
    unsafe {
        command.pre_exec(move || {
            let first = 3;
            let mut moved = [0; MAX_LISTENERS];
            for (i, &fd) in fds.iter().enumerate() {
                let listener = BorrowedFd::borrow_raw(fd);
                moved[i] = fcntl(
                    listener,
                    FcntlArg::F_DUPFD_CLOEXEC(first + fds.len() as i32),
                )?;
            }
            for (i, &fd) in moved[..fds.len()].iter().enumerate() {
                let placed = nix::unistd::dup2_raw(BorrowedFd::borrow_raw(fd), first + i as i32)?;
                // Kept open for the program the child becomes.
                std::mem::forget(placed);
            }
            Ok(())
        });
    }
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
