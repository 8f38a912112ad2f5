//! The report's lines of background tasks: how each ended, when it was
//! told to stop, and how long its stop took.

use std::fmt;
use std::time::Duration;

use graceful_values::When;

/// How a background task ended.
///
/// ```
/// use graceful::TaskOutcome;
/// assert!(TaskOutcome::Stopped.is_success());
/// assert!(!TaskOutcome::Failed("broker gone".into()).is_success());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskOutcome {
    /// It returned `()` or `Ok(())` before it was told to stop: its work
    /// was done.
    Finished,
    /// It returned `()` or `Ok(())` once told to stop, within its budget.
    Stopped,
    /// It returned an error, shown here (before it was told to stop, this
    /// began the shutdown).
    Failed(String),
    /// It panicked; the panic's message.
    Panicked(String),
    /// It was still running at the end of its stop budget. If it returned
    /// once its context was cancelled, its error message is kept; if it did
    /// not return within the wind-down, it was aborted.
    TimedOut {
        /// The error it returned after its context was cancelled, if any.
        message: Option<String>,
        /// Whether it had to be aborted.
        aborted: bool,
    },
    /// Aborted, it still did not end: its code blocks a thread, and the
    /// exit abandons it.
    Abandoned,
    /// It was still running when the exit was forced.
    NotStopped,
}

impl TaskOutcome {
    /// Whether the task ended as it should: finished its work, or stopped
    /// when told.
    ///
    /// ```
    /// assert!(graceful::TaskOutcome::Finished.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, TaskOutcome::Finished | TaskOutcome::Stopped)
    }

    /// The outcome's name in the logs (`outcome=` of a task report).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            TaskOutcome::Finished => "finished",
            TaskOutcome::Stopped => "stopped",
            TaskOutcome::Failed(_) => "failed",
            TaskOutcome::Panicked(_) => "panicked",
            TaskOutcome::TimedOut { .. } => "timed-out",
            TaskOutcome::Abandoned => "abandoned",
            TaskOutcome::NotStopped => "not-stopped",
        }
    }

    /// The message that came with it, if any.
    pub(crate) fn message(&self) -> Option<&str> {
        match self {
            TaskOutcome::Failed(msg) | TaskOutcome::Panicked(msg) => Some(msg),
            TaskOutcome::TimedOut { message, .. } => message.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for TaskOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        if let Some(message) = self.message() {
            write!(f, ": {message}")?;
        }
        if let TaskOutcome::TimedOut { aborted: true, .. } = self {
            f.write_str(" (aborted)")?;
        }
        Ok(())
    }
}

/// One background task's line in the report.
///
/// ```
/// # fn show(report: &graceful::Report) {
/// for task in &report.tasks {
///     println!("{}: {} (stop took {:?})", task.name, task.outcome, task.stop_took);
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskReport {
    /// The task's name.
    pub name: String,
    /// When it was to be told to stop.
    pub stop: When,
    /// Its phase among the tasks told at the same moment.
    pub phase: i32,
    /// Its stop budget.
    pub timeout: Duration,
    /// How it ended.
    pub outcome: TaskOutcome,
    /// When it was told to stop, from the first trigger; `None` if it
    /// ended before.
    pub told_at: Option<Duration>,
    /// How long it took to return once told; `None` if it was not told,
    /// or never returned.
    pub stop_took: Option<Duration>,
}
