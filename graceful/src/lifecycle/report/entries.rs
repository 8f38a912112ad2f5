//! The entries of a [`Report`](super::Report): one type per kind of line.

use std::fmt;
use std::time::Duration;

use graceful_values::When;

use crate::addr::ListenAddr;
use crate::lifecycle::Trigger;

/// A request that was still running when the drain deadline passed.
///
/// ```
/// # fn show(report: &graceful::Report) {
/// for request in &report.cut_off {
///     let method = request.method.as_ref().map_or("?", |m| m.as_str());
///     println!("{} {method} {} open for {:?}", request.server, request.path, request.age);
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenRequest {
    /// The server's name.
    pub server: String,
    /// The request's method; `None` where it was not kept (an extension
    /// method on a busy thread's record, or an HTTP/2 stream whose
    /// connection still runs).
    pub method: Option<http::Method>,
    /// The request's path, without the query.
    pub path: String,
    /// How long it had been running.
    pub age: Duration,
}

impl OpenRequest {
    /// The method's name, for logs: `(unknown)` where it was not kept.
    pub(crate) fn method_name(&self) -> &str {
        self.method
            .as_ref()
            .map_or("(unknown)", http::Method::as_str)
    }
}

/// A trigger of the shutdown and when it came.
///
/// ```
/// # fn show(report: &graceful::Report) {
/// for later in report.triggers.iter().skip(1) {
///     println!("then {} after {:?}", later.trigger, later.at);
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TriggerAt {
    /// What it was.
    pub trigger: Trigger,
    /// How long after the first trigger it came (zero for the first).
    pub at: Duration,
}

/// One server's requests and connections over the app's life.
///
/// ```
/// # fn show(report: &graceful::Report) {
/// for server in &report.servers {
///     println!("{}: {} served, {} drained, {} cut off", server.name, server.served, server.drained, server.cut_off);
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerReport {
    /// The server's name.
    pub name: String,
    /// The address it listened on.
    pub addr: ListenAddr,
    /// Responses completed before the shutdown began.
    pub served: u64,
    /// Responses completed after the shutdown began.
    pub drained: u64,
    /// Requests answered `503 Service Unavailable` because the server was stopping.
    pub refused: u64,
    /// Requests aborted at the drain deadline, and those still running when
    /// the report was taken (see [`in_flight`](Self::in_flight)).
    pub cut_off: u64,
    /// Requests whose client went away before the response ended.
    pub disconnected: u64,
    /// Requests whose handler (or response body) panicked: answered `500`
    /// over HTTP/1, reset with `INTERNAL_ERROR` over HTTP/2.
    pub panicked: u64,
    /// Requests still running when the report was taken, after everything
    /// that could be aborted was: their code blocks a thread, and the exit
    /// abandons them. Each is counted in [`cut_off`](Self::cut_off) too, and
    /// named in [`Report::cut_off`](crate::Report::cut_off).
    pub in_flight: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Connections that sent no complete request within the header grace during the drain.
    pub idle_closed: u64,
    /// Connections aborted at the drain deadline.
    pub connections_aborted: u64,
    /// Connections upgraded (`101 Switching Protocols`: WebSocket and the
    /// like) and handed to the app.
    pub upgraded: u64,
    /// Upgraded connections that ended before the drain deadline: the app
    /// (or the client) closed them.
    pub upgraded_closed: u64,
    /// Upgraded connections still open at the drain deadline, cut off (and
    /// named in [`Report::cut_off`](crate::Report::cut_off)).
    pub upgraded_cut_off: u64,
    /// HTTP/1 requests pipelined behind the response that closed their
    /// connection, read and never answered (RFC 9112 lets the client retry
    /// them; they are counted so that nothing goes unreported).
    pub unanswered: u64,
    /// Connections closed while serving because they sent no complete first
    /// request head within the header read timeout.
    pub header_timeouts: u64,
    /// TLS handshakes that failed (a client that does not trust the
    /// certificate, speaks no common protocol, or is not TLS at all).
    pub tls_handshakes_failed: u64,
    /// TLS connections closed because their handshake did not finish within
    /// `tls_handshake_timeout`, or was still under way a header grace after
    /// the shutdown began.
    pub tls_handshake_timeouts: u64,
    /// TLS connections closed at once, without a handshake, because
    /// `tls_max_handshakes` handshakes were under way on the server.
    pub tls_handshakes_shed: u64,
}

/// How a shutdown callback ended.
///
/// ```
/// use graceful::CallbackOutcome;
/// assert!(CallbackOutcome::Succeeded.is_success());
/// assert!(!CallbackOutcome::Failed("disk full".into()).is_success());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackOutcome {
    /// It returned `()` or `Ok(())` within its timeout.
    Succeeded,
    /// It returned an error, shown here.
    Failed(String),
    /// It panicked; the panic's message.
    Panicked(String),
    /// It was still running at its timeout. If it returned once its context
    /// fired, its error message is kept; if it did not return within the
    /// wind-down it was aborted.
    TimedOut {
        /// The error it returned after its context fired, if any.
        message: Option<String>,
        /// Whether it had to be aborted.
        aborted: bool,
    },
    /// It had not run, or not finished, when the exit was forced.
    NotFinished,
}

impl CallbackOutcome {
    /// Whether the callback succeeded.
    ///
    /// ```
    /// assert!(graceful::CallbackOutcome::Succeeded.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, CallbackOutcome::Succeeded)
    }

    /// The outcome's name, as the metrics label it.
    #[cfg(feature = "metrics")]
    pub(crate) fn name(&self) -> &'static str {
        match self {
            CallbackOutcome::Succeeded => "succeeded",
            CallbackOutcome::Failed(_) => "failed",
            CallbackOutcome::Panicked(_) => "panicked",
            CallbackOutcome::TimedOut { .. } => "timed-out",
            CallbackOutcome::NotFinished => "not-finished",
        }
    }
}

impl fmt::Display for CallbackOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackOutcome::Succeeded => f.write_str("ok"),
            CallbackOutcome::Failed(msg) => write!(f, "failed: {msg}"),
            CallbackOutcome::Panicked(msg) => write!(f, "panicked: {msg}"),
            CallbackOutcome::TimedOut { message, aborted } => {
                f.write_str("timed out")?;
                if let Some(msg) = message {
                    write!(f, ": {msg}")?;
                }
                if *aborted {
                    f.write_str(" (aborted)")?;
                }
                Ok(())
            }
            CallbackOutcome::NotFinished => f.write_str("not finished"),
        }
    }
}

/// One shutdown callback's outcome.
///
/// ```
/// # fn show(report: &graceful::Report) {
/// for cb in &report.callbacks {
///     println!("{} (phase {}): {} in {:?}", cb.name, cb.phase, cb.outcome, cb.duration);
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackReport {
    /// The callback's name.
    pub name: String,
    /// When it ran: at the first signal, or once the servers had drained.
    pub when: When,
    /// Its phase.
    pub phase: i32,
    /// Its timeout.
    pub timeout: Duration,
    /// How it ended.
    pub outcome: CallbackOutcome,
    /// How long it ran.
    pub duration: Duration,
}

/// A phase of the shutdown, as the report and the logs name it.
///
/// ```
/// assert_eq!(graceful::ShutdownPhase::NotReady.to_string(), "not-ready");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShutdownPhase {
    /// Health answers 503, responses close their connections (the
    /// `pre_stop_delay`).
    NotReady,
    /// The listeners close.
    Refuse,
    /// In-flight requests and upgraded connections finish, or are cut off.
    Drain,
    /// The background tasks told to stop once the servers drained stop.
    Tasks,
    /// The shutdown callbacks run.
    Callbacks,
}

impl fmt::Display for ShutdownPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShutdownPhase::NotReady => "not-ready",
            ShutdownPhase::Refuse => "refuse",
            ShutdownPhase::Drain => "drain",
            ShutdownPhase::Tasks => "tasks",
            ShutdownPhase::Callbacks => "callbacks",
        })
    }
}

/// How long one phase of the shutdown took.
///
/// ```
/// # fn show(report: &graceful::Report) {
/// for phase in &report.phases {
///     println!("{}: {:?}", phase.name, phase.duration);
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PhaseReport {
    /// Which phase.
    pub name: ShutdownPhase,
    /// Its duration.
    pub duration: Duration,
}

/// Work still running when the report was taken, which the process's exit
/// abandons: code blocking a thread cannot be cancelled, only left behind.
///
/// ```
/// # fn show(report: &graceful::Report) {
/// for work in &report.abandoned {
///     eprintln!("abandoned: {work}");
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Abandoned {
    /// A callback aborted at its timeout: whatever blocking work it started
    /// (`spawn_blocking`, a blocked thread) may still run.
    Callback {
        /// The callback's name.
        name: String,
    },
    /// A background task that did not end when aborted: its code blocks a
    /// thread.
    Task {
        /// The task's name.
        name: String,
    },
    /// Connection or HTTP/2 stream tasks of a server that did not end when
    /// aborted: their code blocks a thread.
    Tasks {
        /// The server's name.
        server: String,
        /// How many.
        tasks: usize,
    },
}

impl fmt::Display for Abandoned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Abandoned::Callback { name } => write!(f, "callback {name} (aborted at its timeout)"),
            Abandoned::Task { name } => write!(f, "task {name} (it did not end when aborted)"),
            Abandoned::Tasks { server, tasks } => {
                write!(
                    f,
                    "{tasks} task(s) of server {server} that did not end when aborted"
                )
            }
        }
    }
}
