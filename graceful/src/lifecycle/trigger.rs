//! What starts the shutdown, what forces it, and what asks for a restart
//! (and where those asks wait for the restarter).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use graceful_values::Signal;

/// What started the shutdown, or forced it.
///
/// ```
/// use graceful::Trigger;
///
/// # fn show(report: &graceful::Report) {
/// match report.triggers.first().map(|t| &t.trigger) {
///     Some(Trigger::TaskFailed { task, error }) => eprintln!("task {task} failed: {error}"),
///     Some(trigger) => println!("stopped by {trigger}"),
///     None => {}
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// A signal from the operating system.
    Signal(Signal),
    /// [`ShutdownHandle::shutdown`](crate::ShutdownHandle::shutdown) was called.
    Handle,
    /// A restart handed the listeners over to a successor that serves:
    /// this process shuts down (see [`ShutdownHandle::restart`](crate::ShutdownHandle::restart)).
    HandedOver,
    /// A background task (see [`Task`](crate::Task)) returned an error or
    /// panicked while the app ran; the exit code is
    /// [`APP_FAILED`](crate::exit_code::APP_FAILED).
    TaskFailed {
        /// The task's name.
        task: Arc<str>,
        /// Its error, or its panic's message.
        error: Arc<str>,
    },
    /// [`ShutdownHandle::fail`](crate::ShutdownHandle::fail) was called; the
    /// exit code is [`APP_FAILED`](crate::exit_code::APP_FAILED).
    Failed {
        /// The reason given.
        reason: Arc<str>,
    },
}

impl Trigger {
    /// Whether it asks for the shutdown from outside the app's work (a
    /// signal, the handle): a second such ask forces the exit. A failure
    /// or a handover is not one: a signal after it is the shutdown's
    /// first ask, and does not force it.
    pub(crate) fn is_ask(&self) -> bool {
        matches!(self, Trigger::Signal(_) | Trigger::Handle)
    }

    /// Whether it says the app failed.
    pub(crate) fn is_failure(&self) -> bool {
        matches!(self, Trigger::TaskFailed { .. } | Trigger::Failed { .. })
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Signal(signal) => signal.fmt(f),
            Trigger::Handle => f.write_str("ShutdownHandle::shutdown"),
            Trigger::HandedOver => f.write_str("handover to a successor"),
            Trigger::TaskFailed { task, error } => write!(f, "task {task} failed: {error}"),
            Trigger::Failed { reason } => write!(f, "ShutdownHandle::fail: {reason}"),
        }
    }
}

/// Why the exit was forced.
///
/// ```
/// # fn show(report: &graceful::Report) {
/// if let Some(reason) = &report.forced {
///     eprintln!("forced: {reason}");
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForcedBy {
    /// A second signal.
    Trigger(Trigger),
    /// The global `shutdown_timeout` passed.
    Deadline(Duration),
}

impl std::fmt::Display for ForcedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForcedBy::Trigger(trigger) => write!(f, "second {trigger}"),
            ForcedBy::Deadline(limit) => write!(f, "shutdown timeout of {limit:?} passed"),
        }
    }
}

/// What a trigger is, in the order they come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Triggered {
    /// The first: the shutdown begins.
    First,
    /// The first ask (a signal) of a shutdown that a handover or a failure
    /// began: this process is shutting down gracefully already (after a
    /// handover, its successor serves; a service manager stopping the
    /// service signals both).
    Underway,
    /// Any later ask: it forces the exit.
    Again,
    /// A failure, once the shutdown has begun: recorded, never forcing.
    Recorded,
}

/// What asked for a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RestartAsk {
    /// A restart signal.
    Signal(Signal),
    /// [`ShutdownHandle::restart`](crate::ShutdownHandle::restart).
    Handle,
}

impl std::fmt::Display for RestartAsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartAsk::Signal(signal) => signal.fmt(f),
            RestartAsk::Handle => f.write_str("ShutdownHandle::restart"),
        }
    }
}

/// Restarts asked for (a restart signal, or the handle), waiting for the
/// restarter, which refuses one during the shutdown or while another is
/// under way. The signals' thread and every handle ask; only the restarter
/// (see `restart`) reads.
#[derive(Debug, Default)]
pub(crate) struct RestartAsks {
    asked: tokio::sync::Notify,
    /// What asked for the last restart.
    by: Mutex<Option<RestartAsk>>,
}

impl RestartAsks {
    /// Asks for a restart.
    pub(crate) fn ask(&self, by: RestartAsk) {
        *self.by.lock().unwrap_or_else(PoisonError::into_inner) = Some(by);
        self.asked.notify_one();
    }

    /// Completes at the next restart asked for; tells what asked.
    pub(crate) async fn next(&self) -> RestartAsk {
        self.asked.notified().await;
        self.by
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or(RestartAsk::Handle)
    }
}
