//! The started tasks: each watched by a keeper of its own, told to stop at
//! its moment, phase by phase, and bounded by its budget; and the ledger a
//! report (a forced one too) reads them from.
//!
//! A keeper polls its task once in place, so that a task failing at its
//! start is known before the listeners serve (it fails the start), then
//! moves it to a task of its own: a panic is caught there, and a task
//! blocking its thread holds no keeper's timer. Until the start arms the
//! crew, a failure is kept for the start to report; from then on, it starts
//! the shutdown.

use std::future::poll_fn;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use graceful_values::When;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::plan::{Budgeted, TaskPlan};
use super::task::TaskContext;
use crate::error::panic_message;
use crate::lifecycle::callbacks::CALLBACK_WIND_DOWN;
use crate::lifecycle::declared::HookFn;
use crate::lifecycle::handle::ShutdownHandle;
use crate::lifecycle::report::{TaskOutcome, TaskReport};
use crate::lifecycle::{Lifecycle, Trigger};

/// How long an aborted task gets to end before it is reported abandoned.
const ABORT_WAIT: Duration = Duration::from_millis(200);

/// How long the start waits for every task's first poll.
const FIRST_POLL_WAIT: Duration = Duration::from_secs(1);

/// The started tasks.
#[derive(Debug)]
pub(crate) struct Crew {
    ledger: Arc<TaskLedger>,
    watch: Arc<Watch>,
    /// Dropped at the exit (or a failed start): every task still running is
    /// aborted with its keeper.
    _keepers: Vec<AbortOnDropHandle<()>>,
}

/// Every task's entry, readable at any instant.
#[derive(Debug)]
pub(crate) struct TaskLedger {
    entries: Vec<Arc<Entry>>,
}

/// One task on the books, shared by its keeper and the conductor.
#[derive(Debug)]
struct Entry {
    name: Arc<str>,
    stop: When,
    phase: i32,
    timeout: Duration,
    /// Fired to tell the task to stop: its context's `stopping`.
    told: CancellationToken,
    /// Fired once the task has been polled once (or ended).
    polled: CancellationToken,
    /// Fired once the keeper is done: the task ended, or was given up.
    done: CancellationToken,
    state: Mutex<EntryState>,
}

#[derive(Debug, Default)]
struct EntryState {
    told_at: Option<Instant>,
    outcome: Option<TaskOutcome>,
    stop_took: Option<Duration>,
}

/// Whether a failure fails the start or begins the shutdown.
#[derive(Debug)]
struct Watch {
    lifecycle: Arc<Lifecycle>,
    /// `None` once armed; until then, the first failure.
    starting: Mutex<Option<Option<TaskFailure>>>,
}

/// A task that failed: its name and its error.
#[derive(Clone, Debug)]
pub(crate) struct TaskFailure {
    pub(crate) task: String,
    pub(crate) error: String,
}

impl Watch {
    fn failed(&self, entry: &Entry, outcome: &TaskOutcome) {
        let error = outcome.message().unwrap_or("failed").to_owned();
        {
            let mut starting = self.starting.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(first) = starting.as_mut() {
                first.get_or_insert(TaskFailure {
                    task: entry.name.to_string(),
                    error,
                });
                return;
            }
        }
        tracing::error!(task = %entry.name, outcome = outcome.name(), error, "task failed: the shutdown begins");
        self.lifecycle.trigger(Trigger::TaskFailed {
            task: Arc::clone(&entry.name),
            error: Arc::from(error),
        });
    }
}

impl Entry {
    fn record(&self, outcome: TaskOutcome, stop_took: Option<Duration>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.outcome = Some(outcome);
        state.stop_took = stop_took;
    }

    fn tell(&self) {
        if !self.done.is_cancelled() && !self.told.is_cancelled() {
            self.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .told_at = Some(Instant::now());
            tracing::info!(task = %self.name, phase = self.phase, stop = %self.stop, "task told to stop");
            self.told.cancel();
        }
    }

    fn report(&self, first: Instant) -> TaskReport {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        TaskReport {
            name: self.name.to_string(),
            stop: self.stop,
            phase: self.phase,
            timeout: self.timeout,
            outcome: state.outcome.clone().unwrap_or(TaskOutcome::NotStopped),
            told_at: state.told_at.map(|at| at.saturating_duration_since(first)),
            stop_took: state.stop_took,
        }
    }
}

impl TaskLedger {
    /// Every task's line, in plan order; one still running is not stopped.
    pub(crate) fn reports(&self, first: Instant) -> Vec<TaskReport> {
        self.entries.iter().map(|e| e.report(first)).collect()
    }

    /// The tasks still running, by name.
    pub(crate) fn still_running(&self) -> Vec<Arc<str>> {
        self.entries
            .iter()
            .filter(|e| !e.done.is_cancelled())
            .map(|e| Arc::clone(&e.name))
            .collect()
    }

    /// The tasks whose code did not end when aborted.
    pub(crate) fn abandoned(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| {
                e.state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .outcome
                    == Some(TaskOutcome::Abandoned)
            })
            .map(|e| e.name.to_string())
            .collect()
    }

    /// The names of the tasks told at `when`.
    pub(crate) fn told_at(&self, when: When) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.stop == when && !e.done.is_cancelled())
            .map(|e| &*e.name)
            .collect()
    }
}

impl Crew {
    /// Starts every task, each with its keeper, on the runtime.
    pub(crate) fn start(plan: TaskPlan, handle: &ShutdownHandle) -> Crew {
        let watch = Arc::new(Watch {
            lifecycle: Arc::clone(handle.lifecycle()),
            starting: Mutex::new(Some(None)),
        });
        let mut entries = Vec::with_capacity(plan.tasks.len());
        let mut keepers = Vec::with_capacity(plan.tasks.len());
        for Budgeted { task, timeout } in plan.tasks {
            let entry = Arc::new(Entry {
                name: Arc::from(task.name.as_str()),
                stop: task.when,
                phase: task.phase,
                timeout,
                told: CancellationToken::new(),
                polled: CancellationToken::new(),
                done: CancellationToken::new(),
                state: Mutex::default(),
            });
            let ctx = TaskContext {
                name: Arc::clone(&entry.name),
                stopping: entry.told.clone(),
                cancelled: CancellationToken::new(),
                handle: handle.clone(),
            };
            tracing::debug!(task = %entry.name, stop = %entry.stop, phase = entry.phase, ?timeout, "task started");
            keepers.push(AbortOnDropHandle::new(tokio::spawn(keep(
                Arc::clone(&entry),
                task.run,
                ctx,
                Arc::clone(&watch),
            ))));
            entries.push(entry);
        }
        Crew {
            ledger: Arc::new(TaskLedger { entries }),
            watch,
            _keepers: keepers,
        }
    }

    /// Waits until every task has been polled once (for a second at most),
    /// then arms the crew: a failure from now on begins the shutdown. A
    /// task that failed before is the start's failure.
    pub(crate) async fn arm(&self) -> Result<(), TaskFailure> {
        let polled = async {
            for entry in &self.ledger.entries {
                entry.polled.cancelled().await;
            }
        };
        let _ = tokio::time::timeout(FIRST_POLL_WAIT, polled).await;
        let failure = self
            .watch
            .starting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .flatten();
        failure.map_or(Ok(()), Err)
    }

    /// The ledger the report reads.
    pub(crate) fn ledger(&self) -> Arc<TaskLedger> {
        Arc::clone(&self.ledger)
    }

    /// Tells the first phase of the tasks of `when` at once, without
    /// waiting for the runtime to run [`Crew::stop`] (which tells it again,
    /// to no effect).
    pub(crate) fn tell_first_phase(&self, when: When) {
        let mut entries = self.ledger.entries.iter().filter(|e| e.stop == when);
        if let Some(first) = entries.next() {
            first.tell();
            for entry in entries.take_while(|e| e.phase == first.phase) {
                entry.tell();
            }
        }
    }

    /// Tells the tasks of `when` to stop, phase by phase: every task of a
    /// phase has ended (or been given up) before the next phase is told.
    pub(crate) async fn stop(&self, when: When) {
        let entries: Vec<&Arc<Entry>> = self
            .ledger
            .entries
            .iter()
            .filter(|e| e.stop == when)
            .collect();
        for phase in entries.chunk_by(|a, b| a.phase == b.phase) {
            for entry in phase {
                entry.tell();
            }
            for entry in phase {
                entry.done.cancelled().await;
            }
        }
    }
}

/// Runs one task to its end: polled once in place, then in a task of its
/// own until it ends, or until it is told to stop and its budget is spent.
async fn keep(entry: Arc<Entry>, run: HookFn<TaskContext>, ctx: TaskContext, watch: Arc<Watch>) {
    let cancelled = ctx.cancelled.clone();
    let mut future = run(ctx);
    let first =
        poll_fn(|cx| Poll::Ready(catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)))))
            .await;
    let first = match first {
        Ok(Poll::Pending) => None,
        Ok(Poll::Ready(result)) => Some(Ok(result)),
        Err(payload) => Some(Err(panic_message(&*payload).to_owned())),
    };
    if let Some(ended) = first {
        ended_unasked(&entry, ended, &watch);
        entry.polled.cancel();
        entry.done.cancel();
        return;
    }
    entry.polled.cancel();
    let mut task = AbortOnDropHandle::new(tokio::spawn(future));
    // Told first: a task that returns as it is told has stopped, not finished.
    let joined = tokio::select! {
        biased;
        () = entry.told.cancelled() => None,
        joined = &mut task => Some(joined),
    };
    if let Some(joined) = joined {
        ended_unasked(&entry, result_of(joined), &watch);
        entry.done.cancel();
        return;
    }
    let told = Instant::now();
    let (outcome, stop_took) = tokio::select! {
        joined = &mut task => {
            let outcome = match result_of(joined) {
                Ok(Ok(())) => TaskOutcome::Stopped,
                Ok(Err(message)) => TaskOutcome::Failed(message),
                Err(message) => TaskOutcome::Panicked(message),
            };
            (outcome, Some(told.elapsed()))
        }
        () = tokio::time::sleep(entry.timeout) => overrun(&entry, &mut task, &cancelled, told).await,
    };
    log_stopped(&entry, &outcome, stop_took);
    entry.record(outcome, stop_took);
    entry.done.cancel();
}

/// A task ended before it was told to stop: its work is done, or it failed.
fn ended_unasked(entry: &Entry, ended: Result<Result<(), String>, String>, watch: &Watch) {
    let outcome = match ended {
        Ok(Ok(())) => TaskOutcome::Finished,
        Ok(Err(message)) => TaskOutcome::Failed(message),
        Err(message) => TaskOutcome::Panicked(message),
    };
    if outcome.is_success() {
        tracing::info!(task = %entry.name, outcome = outcome.name(), "task finished before it was told to stop");
        entry.record(outcome, None);
    } else {
        entry.record(outcome.clone(), None);
        watch.failed(entry, &outcome);
    }
}

/// The budget is spent: the context is cancelled, the wind-down given, then
/// the task is aborted; one that does not end even then is abandoned.
async fn overrun(
    entry: &Entry,
    task: &mut AbortOnDropHandle<Result<(), String>>,
    cancelled: &CancellationToken,
    told: Instant,
) -> (TaskOutcome, Option<Duration>) {
    cancelled.cancel();
    if let Ok(joined) = tokio::time::timeout(CALLBACK_WIND_DOWN, &mut *task).await {
        let message = match result_of(joined) {
            Ok(Ok(())) => None,
            Ok(Err(message)) | Err(message) => Some(message),
        };
        return (
            TaskOutcome::TimedOut {
                message,
                aborted: false,
            },
            Some(told.elapsed()),
        );
    }
    task.abort();
    match tokio::time::timeout(ABORT_WAIT, &mut *task).await {
        Ok(_) => (
            TaskOutcome::TimedOut {
                message: None,
                aborted: true,
            },
            None,
        ),
        Err(_) => {
            tracing::error!(task = %entry.name, "task did not end when aborted: its code blocks a thread");
            (TaskOutcome::Abandoned, None)
        }
    }
}

fn log_stopped(entry: &Entry, outcome: &TaskOutcome, stop_took: Option<Duration>) {
    let stop_took = stop_took.map(|took| format!("{took:?}"));
    if outcome.is_success() {
        tracing::info!(task = %entry.name, outcome = outcome.name(), stop_took, "task stopped");
    } else {
        tracing::warn!(task = %entry.name, outcome = outcome.name(), message = outcome.message(), stop_took, "task stopped badly");
    }
}

/// What a task's own tokio task gave: its result, or its panic's message.
fn result_of(
    joined: Result<Result<(), String>, tokio::task::JoinError>,
) -> Result<Result<(), String>, String> {
    match joined {
        Ok(result) => Ok(result),
        Err(err) if err.is_panic() => Err(panic_message(&*err.into_panic()).to_owned()),
        Err(_) => Err("aborted".to_owned()),
    }
}
