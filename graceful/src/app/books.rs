//! The books of a shutdown: what it can report at any instant, from the
//! runtime at the end of the lifecycle, or from the sentinel without it.
//!
//! Everything here is read from atomics and short-held locks, never from a
//! task: a forced exit must be able to report while the runtime is stalled.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::lifecycle::callbacks::Ledger;
use crate::lifecycle::report::{
    Abandoned, CallbackOutcome, CallbackReport, PhaseReport, Report, ShutdownPhase, TriggerAt,
};
use crate::lifecycle::sentinel::ForcedReport;
use crate::lifecycle::tasks::TaskLedger;
use crate::lifecycle::{ForcedBy, Lifecycle, Trigger};
use crate::serve::accounts::ServerShared;

/// A started app's servers, callbacks and phases, as far as they got.
#[derive(Debug)]
pub(crate) struct Books {
    lifecycle: Arc<Lifecycle>,
    servers: Vec<Arc<ServerShared>>,
    callbacks: Arc<Ledger>,
    tasks: Arc<TaskLedger>,
    phases: Mutex<Vec<PhaseReport>>,
    /// The phase under way: 0 while running, then [`phase_number`]'s.
    current: AtomicU8,
    during_startup: bool,
}

/// A shutdown phase's number, from 1 in the order they run; after the last,
/// [`DONE`].
fn phase_number(phase: ShutdownPhase) -> u8 {
    match phase {
        ShutdownPhase::NotReady => 1,
        ShutdownPhase::Refuse => 2,
        ShutdownPhase::Drain => 3,
        ShutdownPhase::Tasks => 4,
        ShutdownPhase::Callbacks => 5,
    }
}

/// The shutdown is over: the report is final.
const DONE: u8 = 6;

impl Books {
    pub(crate) fn new(
        lifecycle: Arc<Lifecycle>,
        servers: Vec<Arc<ServerShared>>,
        callbacks: Arc<Ledger>,
        tasks: Arc<TaskLedger>,
        during_startup: bool,
    ) -> Self {
        Books {
            lifecycle,
            servers,
            callbacks,
            tasks,
            phases: Mutex::new(Vec::new()),
            current: AtomicU8::new(0),
            during_startup,
        }
    }

    pub(crate) fn servers(&self) -> &[Arc<ServerShared>] {
        &self.servers
    }

    /// Records that a phase starts now; returns the moment, for
    /// [`Books::phase_ended`].
    pub(crate) fn phase_started(&self, name: ShutdownPhase) -> Instant {
        self.current.store(phase_number(name), Relaxed);
        Instant::now()
    }

    /// Records (and logs) that a phase which started at `started` ended.
    pub(crate) fn phase_ended(&self, name: ShutdownPhase, started: Instant) {
        let duration = started.elapsed();
        tracing::info!(phase = %name, ?duration, "phase ended");
        self.phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(PhaseReport { name, duration });
    }

    /// The report of a shutdown that ran its course.
    pub(crate) fn completed(&self, callbacks: Vec<CallbackReport>) -> Report {
        Report {
            servers: self.servers.iter().map(|s| s.report()).collect(),
            cut_off: self.servers.iter().flat_map(|s| s.take_cut_off()).collect(),
            callbacks,
            tasks: self.tasks.reports(self.first_trigger_at()),
            ..Report::default()
        }
    }

    /// When the first trigger came (now, if none did).
    fn first_trigger_at(&self) -> Instant {
        self.lifecycle
            .first_trigger()
            .map_or_else(Instant::now, |(_, at)| at)
    }

    /// Logs what still runs at a forced exit, before it is cut off.
    pub(crate) fn log_still_running(&self) {
        for server in &self.servers {
            let in_flight = server.stats.in_flight();
            if in_flight > 0 {
                tracing::error!(server = %server.name, in_flight, "requests still running at the forced exit");
            }
        }
        for cb in self
            .callbacks
            .outcomes_so_far()
            .iter()
            .filter(|c| c.outcome == CallbackOutcome::NotFinished)
        {
            tracing::error!(callback = %cb.name, phase = cb.phase, "callback not finished at the forced exit");
        }
        for task in self.tasks.still_running() {
            tracing::error!(task = %task, "task still running at the forced exit");
        }
    }

    /// The report of a forced exit.
    pub(crate) fn forced(&self, by: ForcedBy) -> Report {
        Report {
            forced: Some(by),
            ..self.completed(self.callbacks.outcomes_so_far())
        }
    }

    /// Completes a report: triggers, phases, the true total since the first
    /// trigger (the moment it arrived, not the moment the runtime saw it),
    /// and the work the exit abandons.
    pub(crate) fn finish(&self, mut report: Report) -> Report {
        let first = self.first_trigger_at();
        report.during_startup = self.during_startup;
        report.phases = self
            .phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        report.triggers = self
            .lifecycle
            .triggers()
            .into_iter()
            .map(|(trigger, at)| TriggerAt {
                trigger,
                at: at.saturating_duration_since(first),
            })
            .collect();
        report.abandoned = self
            .callbacks
            .aborted()
            .into_iter()
            .map(|name| Abandoned::Callback { name })
            .chain(
                self.tasks
                    .abandoned()
                    .into_iter()
                    .map(|name| Abandoned::Task { name }),
            )
            .chain(self.servers.iter().filter_map(|s| {
                let tasks = s.tasks.len();
                (tasks > 0).then(|| Abandoned::Tasks {
                    server: s.name.to_string(),
                    tasks,
                })
            }))
            .collect();
        report.total = first.elapsed();
        self.current.store(DONE, Relaxed);
        report
    }

    /// The figures of the moment, for a publication of the metrics.
    #[cfg(feature = "metrics")]
    pub(crate) fn metrics_sources(&self) -> crate::metrics::Sources {
        crate::metrics::Sources {
            servers: self
                .servers
                .iter()
                .map(|s| crate::metrics::ServerFigures {
                    report: s.report(),
                    open_connections: s.stats.open_connections.load(Relaxed),
                })
                .collect(),
            phase: crate::metrics::PHASES[usize::from(self.current.load(Relaxed))],
            phases: self
                .phases
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            triggers: self
                .lifecycle
                .triggers()
                .into_iter()
                .map(|(trigger, _)| trigger)
                .collect(),
            callbacks: self
                .callbacks
                .outcomes_so_far()
                .iter()
                .map(|c| c.outcome.name())
                .filter(|&o| o != "not-finished")
                .collect(),
            tasks: self
                .tasks
                .reports(self.first_trigger_at())
                .iter()
                .map(|t| t.outcome.name())
                .filter(|&o| o != "not-stopped")
                .collect(),
        }
    }

    /// Whether the report is final: nothing will change any more.
    #[cfg(feature = "metrics")]
    pub(crate) fn is_final(&self) -> bool {
        self.current.load(Relaxed) == DONE
    }

    /// Publishes the metrics of the moment to the recorder installed.
    #[cfg(feature = "metrics")]
    pub(crate) fn publish_metrics(&self) {
        crate::metrics::publish(&self.metrics_sources());
    }

    /// What started the shutdown.
    pub(crate) fn first_trigger(&self) -> Trigger {
        self.lifecycle
            .first_trigger()
            .map_or(Trigger::Handle, |(trigger, _)| trigger)
    }
}

impl ForcedReport for Books {
    fn log_forced(&self, by: ForcedBy) {
        self.log_still_running();
        self.finish(self.forced(by)).log();
    }
}
