//! What starts the shutdown, what forces it, and what asks for a restart
//! (and where those asks wait for the restarter).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use graceful_values::Signal;

/// What started the shutdown, or forced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// A signal from the operating system.
    Signal(Signal),
    /// [`ShutdownHandle::shutdown`](crate::ShutdownHandle::shutdown) was called.
    Handle,
    /// A restart handed the listeners over to a successor that serves:
    /// this process shuts down (see [`ShutdownHandle::restart`](crate::ShutdownHandle::restart)).
    HandedOver,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Signal(signal) => signal.fmt(f),
            Trigger::Handle => f.write_str("ShutdownHandle::shutdown"),
            Trigger::HandedOver => f.write_str("handover to a successor"),
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
    /// The first signal after a handover: this process is shutting down
    /// gracefully already, and its successor serves (a service manager
    /// stopping the service signals both).
    AfterHandover,
    /// Any later one: it forces the exit.
    Again,
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
