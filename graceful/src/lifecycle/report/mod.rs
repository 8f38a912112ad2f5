//! The shutdown report: what happened, how long each phase took, what was lost.
//!
//! [`App::run`](crate::App::run) returns it and logs it through `tracing`; its
//! [`Display`](std::fmt::Display) form is the human-readable summary.
//!
//! - this module: [`Report`], its exit code, its log lines and its summary;
//! - `entries`: what it is made of, one type per kind of line (a server,
//!   a callback, a phase, a trigger, a request cut off, work abandoned);
//! - `tasks`: the lines of background tasks;
//! - `hook`: the app's hook that receives the final report.

mod entries;
mod hook;
mod tasks;

use std::fmt;
use std::time::Duration;

use crate::exit_code;
use crate::lifecycle::ForcedBy;

pub use entries::{
    Abandoned, CallbackOutcome, CallbackReport, OpenRequest, PhaseReport, ServerReport,
    ShutdownPhase, TriggerAt,
};
pub(crate) use hook::ReportHook;
pub use tasks::{TaskOutcome, TaskReport};

/// Everything the shutdown did, returned by [`App::run`](crate::App::run).
///
/// ```
/// # async fn example(app: graceful::App) {
/// let report = app.run().await.expect("started");
/// println!("{report}");
/// std::process::exit(report.exit_code().code());
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// What started the shutdown, then any later signals.
    pub triggers: Vec<TriggerAt>,
    /// Whether the shutdown began before the servers were started.
    pub during_startup: bool,
    /// Each phase that ran, in order.
    pub phases: Vec<PhaseReport>,
    /// Per server, its counters.
    pub servers: Vec<ServerReport>,
    /// The requests cut off at the drain deadline, oldest first.
    pub cut_off: Vec<OpenRequest>,
    /// Per callback, its outcome, in phase then name order.
    pub callbacks: Vec<CallbackReport>,
    /// Per background task, its outcome, in the order they were declared
    /// (sorted by moment, phase and name).
    pub tasks: Vec<TaskReport>,
    /// Set when the exit was forced.
    pub forced: Option<ForcedBy>,
    /// Work still running, which the exit abandons.
    pub abandoned: Vec<Abandoned>,
    /// From the first trigger to the end of the report.
    pub total: Duration,
}

impl Report {
    /// The documented exit code; see [`exit_code`].
    ///
    /// ```
    /// assert_eq!(graceful::Report::default().exit_code(), 0);
    /// ```
    pub fn exit_code(&self) -> exit_code::ExitCode {
        if self.forced.is_some() {
            exit_code::FORCED
        } else if self.servers.iter().any(|s| s.cut_off > 0) || !self.cut_off.is_empty() {
            exit_code::REQUESTS_CUT_OFF
        } else if self.callbacks.iter().any(|c| !c.outcome.is_success()) {
            exit_code::CALLBACK_FAILED
        } else if self.triggers.iter().any(|t| t.trigger.is_failure())
            || self.tasks.iter().any(|t| !t.outcome.is_success())
        {
            exit_code::APP_FAILED
        } else {
            exit_code::SUCCESS
        }
    }

    /// Logs the report through `tracing`, one stable line per item.
    pub(crate) fn log(&self) {
        for server in &self.servers {
            tracing::info!(
                name = %server.name,
                served = server.served,
                drained = server.drained,
                refused = server.refused,
                cut_off = server.cut_off,
                disconnected = server.disconnected,
                panicked = server.panicked,
                in_flight = server.in_flight,
                connections = server.connections,
                idle_closed = server.idle_closed,
                connections_aborted = server.connections_aborted,
                header_timeouts = server.header_timeouts,
                tls_handshakes_failed = server.tls_handshakes_failed,
                tls_handshake_timeouts = server.tls_handshake_timeouts,
                tls_handshakes_shed = server.tls_handshakes_shed,
                upgraded = server.upgraded,
                upgraded_closed = server.upgraded_closed,
                upgraded_cut_off = server.upgraded_cut_off,
                unanswered = server.unanswered,
                "server report"
            );
        }
        for cb in &self.callbacks {
            if cb.outcome.is_success() {
                tracing::info!(name = %cb.name, when = %cb.when, phase = cb.phase, outcome = %cb.outcome, duration = ?cb.duration, "callback report");
            } else {
                tracing::warn!(name = %cb.name, when = %cb.when, phase = cb.phase, outcome = %cb.outcome, duration = ?cb.duration, "callback report");
            }
        }
        for task in &self.tasks {
            let told_at = task.told_at.map(|at| format!("{at:?}"));
            let stop_took = task.stop_took.map(|took| format!("{took:?}"));
            if task.outcome.is_success() {
                tracing::info!(name = %task.name, stop = %task.stop, phase = task.phase, outcome = task.outcome.name(), message = task.outcome.message(), told_at, stop_took, "task report");
            } else {
                tracing::warn!(name = %task.name, stop = %task.stop, phase = task.phase, outcome = task.outcome.name(), message = task.outcome.message(), told_at, stop_took, "task report");
            }
        }
        for work in &self.abandoned {
            match work {
                Abandoned::Callback { name } => {
                    tracing::warn!(callback = %name, "abandoned at exit");
                }
                Abandoned::Task { name } => {
                    tracing::warn!(task = %name, "abandoned at exit");
                }
                Abandoned::Tasks { server, tasks } => {
                    tracing::warn!(server = %server, tasks, "abandoned at exit");
                }
            }
        }
        let code = self.exit_code().code();
        if code == exit_code::SUCCESS {
            tracing::info!(exit_code = code, total = ?self.total, "shutdown complete");
        } else {
            tracing::warn!(exit_code = code, total = ?self.total, "shutdown complete");
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "shutdown report (exit code {})", self.exit_code())?;
        for (i, TriggerAt { trigger, at }) in self.triggers.iter().enumerate() {
            if i == 0 {
                writeln!(f, "  trigger: {trigger}")?;
            } else {
                writeln!(f, "  then: {trigger} after {at:?}")?;
            }
        }
        if self.during_startup {
            writeln!(
                f,
                "  the shutdown began during start-up; no server was started"
            )?;
        }
        if let Some(forced) = &self.forced {
            writeln!(f, "  forced: {forced}")?;
        }
        for phase in &self.phases {
            writeln!(f, "  phase {:<10} {:?}", phase.name, phase.duration)?;
        }
        for s in &self.servers {
            write!(
                f,
                "  server {} ({}): {} served, {} drained, {} refused, {} cut off, {} disconnected, {} panicked",
                s.name,
                s.addr,
                s.served,
                s.drained,
                s.refused,
                s.cut_off,
                s.disconnected,
                s.panicked
            )?;
            if s.in_flight > 0 {
                write!(f, ", {} still in flight", s.in_flight)?;
            }
            writeln!(f)?;
        }
        for r in &self.cut_off {
            writeln!(
                f,
                "  cut off: {} {} {} after {:?}",
                r.server,
                r.method_name(),
                r.path,
                r.age
            )?;
        }
        for cb in &self.callbacks {
            writeln!(
                f,
                "  callback {} (phase {}): {} in {:?}",
                cb.name, cb.phase, cb.outcome, cb.duration
            )?;
        }
        for task in &self.tasks {
            write!(
                f,
                "  task {} (stop {}): {}",
                task.name, task.stop, task.outcome
            )?;
            if let Some(took) = task.stop_took {
                write!(f, ", stopped in {took:?}")?;
            }
            writeln!(f)?;
        }
        for work in &self.abandoned {
            writeln!(f, "  abandoned: {work}")?;
        }
        write!(f, "  total {:?}", self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::ListenAddr;

    fn server(cut_off: u64) -> ServerReport {
        ServerReport {
            name: "api".into(),
            addr: ListenAddr::Tcp(([127, 0, 0, 1], 80).into()),
            served: 1,
            drained: 0,
            refused: 0,
            cut_off,
            disconnected: 0,
            panicked: 0,
            in_flight: 0,
            connections: 1,
            idle_closed: 0,
            connections_aborted: 0,
            upgraded: 0,
            upgraded_closed: 0,
            upgraded_cut_off: 0,
            unanswered: 0,
            header_timeouts: 0,
            tls_handshakes_failed: 0,
            tls_handshake_timeouts: 0,
            tls_handshakes_shed: 0,
        }
    }

    fn callback(outcome: CallbackOutcome) -> CallbackReport {
        CallbackReport {
            name: "flush".into(),
            when: graceful_values::When::Drained,
            phase: 0,
            timeout: Duration::from_secs(1),
            outcome,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn the_lowest_non_zero_exit_code_wins() {
        let clean = Report {
            servers: vec![server(0)],
            callbacks: vec![callback(CallbackOutcome::Succeeded)],
            ..Report::default()
        };
        assert_eq!(clean.exit_code(), exit_code::SUCCESS);

        let failed_callback = Report {
            callbacks: vec![callback(CallbackOutcome::Failed("disk full".into()))],
            ..clean.clone()
        };
        assert_eq!(failed_callback.exit_code(), exit_code::CALLBACK_FAILED);

        let cut_and_failed = Report {
            servers: vec![server(1)],
            ..failed_callback.clone()
        };
        assert_eq!(cut_and_failed.exit_code(), exit_code::REQUESTS_CUT_OFF);

        let upgraded_cut = Report {
            cut_off: vec![OpenRequest {
                server: "api".into(),
                method: Some(http::Method::GET),
                path: "/ws".into(),
                age: Duration::from_secs(3),
            }],
            ..failed_callback
        };
        assert_eq!(upgraded_cut.exit_code(), exit_code::REQUESTS_CUT_OFF);

        let forced = Report {
            forced: Some(ForcedBy::Deadline(Duration::from_secs(30))),
            ..cut_and_failed
        };
        assert_eq!(forced.exit_code(), exit_code::FORCED);
    }

    #[test]
    fn a_timed_out_or_unfinished_callback_is_a_failure() {
        for outcome in [
            CallbackOutcome::Panicked("boom".into()),
            CallbackOutcome::TimedOut {
                message: None,
                aborted: true,
            },
            CallbackOutcome::NotFinished,
        ] {
            let report = Report {
                callbacks: vec![callback(outcome)],
                ..Report::default()
            };
            assert_eq!(report.exit_code(), exit_code::CALLBACK_FAILED);
        }
    }
}
