//! The successor's side of a restart: whether this process was started by
//! one, the listeners it was handed, and the report that it serves.
//!
//! A restart passes the listeners by socket activation (`LISTEN_FDS`,
//! `LISTEN_FDNAMES`, `LISTEN_PID`), and three variables of its own, all
//! bound to the successor's pid: a variable left in the environment (set by
//! hand, or inherited by a process the successor starts) means nothing to
//! any other process.

use std::ffi::OsString;

/// The socket the successor reports to once it serves.
pub(crate) const SOCKET_VAR: &str = "GRACEFUL_HANDOFF_SOCKET";
/// The pid the handoff is for: the successor's own.
pub(crate) const PID_VAR: &str = "GRACEFUL_HANDOFF_PID";
/// The names of the listeners the service manager holds too (it passed
/// them to the first process); the others are the successor's own.
pub(crate) const MANAGED_VAR: &str = "GRACEFUL_HANDOFF_MANAGED";

/// The socket to report to, if this process was started by a restart.
fn report_socket() -> Option<OsString> {
    let pid = std::env::var(PID_VAR).ok()?;
    if pid.parse::<u32>().ok()? != std::process::id() {
        return None;
    }
    std::env::var_os(SOCKET_VAR).filter(|path| !path.is_empty())
}

/// Whether this process was started by a restart, to take over.
pub(crate) fn is_successor() -> bool {
    report_socket().is_some()
}

/// In a successor: whether the service manager holds the listener named
/// `name` too. Outside one, every inherited listener is the service
/// manager's.
pub(crate) fn is_managed(name: &str) -> bool {
    if !is_successor() {
        return true;
    }
    std::env::var(MANAGED_VAR)
        .unwrap_or_default()
        .split(':')
        .any(|managed| managed == name)
}

/// In a successor, once it serves: tells the process that started it.
pub(crate) fn tell_predecessor_ready() {
    #[cfg(unix)]
    if let Some(path) = report_socket() {
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
