//! The report hook: the app's own code, given the final report before the
//! process exits (to export it: a file, a message, a metrics push).
//!
//! It runs on a thread of its own, so that blocking code in it cannot
//! starve the runtime, and is waited for at most `callback_timeout` and
//! never past the global deadline (the sentinel still watches): a hook that
//! does not return by then is left behind, and the exit goes on. After a
//! forced exit it does not run: the exit was told to be now.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use super::Report;

/// How the hook ended, as its log line says (`report_hook = ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookEnd {
    /// It returned.
    Returned,
    /// It panicked; the exit goes on with the report's code.
    Panicked,
    /// It had not returned by its timeout; it was left behind.
    TimedOut,
    /// Its thread could not be started.
    NotStarted,
    /// The exit was forced: it was not run.
    Skipped,
}

impl HookEnd {
    fn name(self) -> &'static str {
        match self {
            HookEnd::Returned => "returned",
            HookEnd::Panicked => "panicked",
            HookEnd::TimedOut => "timed-out",
            HookEnd::NotStarted => "not-started",
            HookEnd::Skipped => "skipped",
        }
    }
}

/// The app's hook for the final report.
pub(crate) struct ReportHook(Box<dyn FnOnce(&Report) + Send>);

impl ReportHook {
    pub(crate) fn new<F: FnOnce(&Report) + Send + 'static>(hook: F) -> Self {
        ReportHook(Box::new(hook))
    }

    /// Gives `report` to the hook on its own thread and waits for it at most
    /// `timeout`; logs how it ended.
    pub(crate) async fn run(self, report: &Report, timeout: Duration) -> HookEnd {
        if let Some(by) = &report.forced {
            tracing::warn!(report_hook = HookEnd::Skipped.name(), forced_by = %by, "the exit was forced: the report hook is not run");
            return HookEnd::Skipped;
        }
        let (done, ended) = tokio::sync::oneshot::channel();
        let given = report.clone();
        let hook = self.0;
        let spawned = std::thread::Builder::new()
            .name("graceful-report".into())
            .spawn(move || {
                let returned = catch_unwind(AssertUnwindSafe(|| hook(&given))).is_ok();
                let _ = done.send(returned);
            });
        let end = match spawned {
            Err(err) => {
                tracing::error!(report_hook = HookEnd::NotStarted.name(), error = %err, "the report hook's thread could not be started");
                return HookEnd::NotStarted;
            }
            Ok(_) => match tokio::time::timeout(timeout, ended).await {
                Ok(Ok(true)) => HookEnd::Returned,
                Ok(Ok(false) | Err(_)) => HookEnd::Panicked,
                Err(_) => HookEnd::TimedOut,
            },
        };
        match end {
            HookEnd::Returned => tracing::debug!(report_hook = end.name(), "report hook returned"),
            HookEnd::Panicked => tracing::error!(
                report_hook = end.name(),
                "the report hook panicked; the exit code is the report's"
            ),
            _ => {
                tracing::error!(report_hook = end.name(), timeout = ?timeout, "the report hook did not return in time (callback_timeout, or what was left of shutdown_timeout); the process exits without it")
            }
        }
        end
    }
}

impl std::fmt::Debug for ReportHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportHook")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hook_sees_the_report_and_one_that_hangs_is_left_behind() {
        let report = Report::default();
        let (seen, saw) = std::sync::mpsc::channel();
        let hook = ReportHook::new(move |r: &Report| seen.send(r.exit_code()).unwrap_or(()));
        assert_eq!(
            hook.run(&report, Duration::from_secs(5)).await,
            HookEnd::Returned
        );
        assert_eq!(saw.recv().ok(), Some(report.exit_code()));

        let panics = ReportHook::new(|_: &Report| panic!("export failed"));
        assert_eq!(
            panics.run(&report, Duration::from_secs(5)).await,
            HookEnd::Panicked
        );

        let forced = Report {
            forced: Some(crate::lifecycle::ForcedBy::Deadline(Duration::ZERO)),
            ..Report::default()
        };
        let never = ReportHook::new(|_: &Report| unreachable!("not run after a forced exit"));
        assert_eq!(
            never.run(&forced, Duration::from_secs(5)).await,
            HookEnd::Skipped
        );

        let (_keep, hold) = std::sync::mpsc::channel::<()>();
        let hangs = ReportHook::new(move |_: &Report| {
            let _ = hold.recv();
        });
        assert_eq!(
            hangs.run(&report, Duration::from_millis(50)).await,
            HookEnd::TimedOut
        );
    }
}
