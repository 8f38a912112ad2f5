//! The callbacks of one app, sorted, with their timeouts resolved; run
//! phase by phase, each under its timeout in a task of its own; and the
//! ledger that a forced exit reports from.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::callback::{CALLBACK_WIND_DOWN, Callback, ShutdownContext};
use graceful_values::When;

use crate::config::Overrides;
use crate::error::{Error, panic_message};
use crate::lifecycle::declared::{Declared, in_order};
use crate::lifecycle::report::{CallbackOutcome, CallbackReport};

/// The callbacks, sorted, with their timeouts resolved.
pub(crate) struct Plan {
    callbacks: Vec<Timed>,
    ledger: Arc<Ledger>,
}

/// A callback with its timeout resolved.
struct Timed {
    callback: Declared<ShutdownContext>,
    timeout: Duration,
}

/// What the callbacks did so far, readable at any instant: a forced exit
/// reports from it, from the runtime or from the sentinel.
#[derive(Debug)]
pub(crate) struct Ledger {
    planned: Vec<Planned>,
    /// Reports as callbacks end.
    done: Mutex<Vec<CallbackReport>>,
    /// Callbacks aborted at their timeout: their work may still run.
    aborted: Mutex<Vec<String>>,
}

/// A callback as planned.
#[derive(Debug)]
struct Planned {
    name: String,
    when: When,
    phase: i32,
    timeout: Duration,
}

impl Ledger {
    /// What a forced exit reports: finished callbacks as they ended, the
    /// others as not finished.
    pub(crate) fn outcomes_so_far(&self) -> Vec<CallbackReport> {
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        self.planned
            .iter()
            .map(|planned| {
                done.iter()
                    .find(|r| r.name == planned.name && r.phase == planned.phase)
                    .cloned()
                    .unwrap_or_else(|| CallbackReport {
                        name: planned.name.clone(),
                        when: planned.when,
                        phase: planned.phase,
                        timeout: planned.timeout,
                        outcome: CallbackOutcome::NotFinished,
                        duration: Duration::ZERO,
                    })
            })
            .collect()
    }

    /// The callbacks aborted at their timeout, whose work the exit abandons.
    pub(crate) fn aborted(&self) -> Vec<String> {
        self.aborted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Plan {
    /// Sorts the callbacks by phase then name (so runs are deterministic) and
    /// resolves every timeout, environment first.
    pub(crate) fn new(
        callbacks: Vec<Callback>,
        default_timeout: Duration,
        overrides: &Overrides,
    ) -> Result<Self, Error> {
        let resolved: Vec<Timed> = in_order(
            callbacks.into_iter().map(|cb| cb.declared).collect(),
            default_timeout,
            |name| overrides.callback_timeout(name),
        )
        .map_err(|disorder| {
            disorder.into_error("callback", |name, first, second| Error::DuplicateCallback {
                name,
                first,
                second,
            })
        })?
        .into_iter()
        .map(|(callback, timeout)| Timed { callback, timeout })
        .collect();
        let planned = resolved
            .iter()
            .map(
                |Timed {
                     callback: cb,
                     timeout,
                 }| Planned {
                    name: cb.name.clone(),
                    when: cb.when,
                    phase: cb.phase,
                    timeout: *timeout,
                },
            )
            .collect();
        Ok(Plan {
            callbacks: resolved,
            ledger: Arc::new(Ledger {
                planned,
                done: Mutex::default(),
                aborted: Mutex::default(),
            }),
        })
    }

    /// The longest the callbacks of `when` can take: per phase, the
    /// longest timeout plus the wind-down.
    pub(crate) fn budget(&self, when: When) -> Duration {
        let mut total = Duration::ZERO;
        let mut phase = None;
        let mut longest = Duration::ZERO;
        for Timed {
            callback: cb,
            timeout,
        } in self.callbacks.iter().filter(|t| t.callback.when == when)
        {
            if phase != Some(cb.phase) {
                total += longest;
                longest = Duration::ZERO;
                phase = Some(cb.phase);
            }
            longest = longest.max(*timeout + CALLBACK_WIND_DOWN);
        }
        total + longest
    }

    /// Whether no callback runs at `when`.
    pub(crate) fn is_empty(&self, when: When) -> bool {
        !self.callbacks.iter().any(|t| t.callback.when == when)
    }

    /// The ledger the callbacks write as they end.
    pub(crate) fn ledger(&self) -> Arc<Ledger> {
        Arc::clone(&self.ledger)
    }

    /// Runs the callbacks of `when`: every phase in order, and every
    /// callback of a phase concurrently. Returns every callback's report so
    /// far, of either moment.
    pub(crate) async fn run(&mut self, when: When) -> Vec<CallbackReport> {
        let (now, later) = std::mem::take(&mut self.callbacks)
            .into_iter()
            .partition(|t| t.callback.when == when);
        self.callbacks = later;
        let mut callbacks = Vec::into_iter(now).peekable();
        while let Some(first) = callbacks.next() {
            let phase = first.callback.phase;
            let started = Instant::now();
            let mut set = JoinSet::new();
            set.spawn(run_one(first, Arc::clone(&self.ledger)));
            while let Some(next) = callbacks.next_if(|next| next.callback.phase == phase) {
                set.spawn(run_one(next, Arc::clone(&self.ledger)));
            }
            tracing::info!(phase, callbacks = set.len(), %when, "callback phase started");
            while let Some(joined) = set.join_next().await {
                // `run_one` never panics: the callback runs in a task of its own.
                if let Ok(report) = joined {
                    self.ledger
                        .done
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(report);
                }
            }
            tracing::info!(phase, duration = ?started.elapsed(), %when, "callback phase ended");
        }
        self.reports()
    }

    /// The reports of every callback that has run, in moment, phase and
    /// name order.
    pub(crate) fn reports(&self) -> Vec<CallbackReport> {
        let mut done = self
            .ledger
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        done.sort_by(|a, b| (a.when, a.phase, &a.name).cmp(&(b.when, b.phase, &b.name)));
        done
    }
}

/// Runs one callback in its own task, under its timeout, then the wind-down.
async fn run_one(timed: Timed, ledger: Arc<Ledger>) -> CallbackReport {
    let Timed {
        callback: cb,
        timeout,
    } = timed;
    let started = Instant::now();
    let token = CancellationToken::new();
    let ctx = ShutdownContext {
        name: Arc::from(cb.name.as_str()),
        started,
        timeout,
        token: token.clone(),
    };
    tracing::debug!(name = %cb.name, phase = cb.phase, ?timeout, "callback started");
    let mut task = AbortOnDropHandle::new(tokio::spawn((cb.run)(ctx)));
    let outcome = tokio::select! {
        joined = &mut task => outcome_of(joined),
        () = tokio::time::sleep(timeout) => {
            token.cancel();
            match tokio::time::timeout(CALLBACK_WIND_DOWN, &mut task).await {
                Ok(joined) => CallbackOutcome::TimedOut {
                    message: match outcome_of(joined) {
                        CallbackOutcome::Succeeded => None,
                        CallbackOutcome::Failed(msg) | CallbackOutcome::Panicked(msg) => Some(msg),
                        other => Some(other.to_string()),
                    },
                    aborted: false,
                },
                Err(_) => {
                    task.abort();
                    ledger.aborted.lock().unwrap_or_else(PoisonError::into_inner).push(cb.name.clone());
                    CallbackOutcome::TimedOut { message: None, aborted: true }
                }
            }
        }
    };
    CallbackReport {
        name: cb.name,
        when: cb.when,
        phase: cb.phase,
        timeout,
        outcome,
        duration: started.elapsed(),
    }
}

fn outcome_of(joined: Result<Result<(), String>, tokio::task::JoinError>) -> CallbackOutcome {
    match joined {
        Ok(Ok(())) => CallbackOutcome::Succeeded,
        Ok(Err(msg)) => CallbackOutcome::Failed(msg),
        Err(err) if err.is_panic() => {
            let payload = err.into_panic();
            CallbackOutcome::Panicked(panic_message(&*payload).to_owned())
        }
        Err(_) => CallbackOutcome::TimedOut {
            message: None,
            aborted: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(callbacks: Vec<Callback>, env: &[(&'static str, &'static str)]) -> Plan {
        let env = |var: &str| {
            env.iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        };
        let names: Vec<String> = callbacks.iter().map(|cb| cb.name().to_owned()).collect();
        let named = crate::config::Named {
            callbacks: names.iter().map(String::as_str).collect(),
            ..crate::config::Named::default()
        };
        let overrides = Overrides::read(&env, &named).expect("overrides");
        Plan::new(callbacks, Duration::from_secs(3), &overrides).expect("a plan")
    }

    #[test]
    fn the_budget_is_the_longest_timeout_of_each_phase_plus_its_wind_down() {
        let secs = Duration::from_secs;
        let plan = plan(
            vec![
                Callback::new("a", |_| async {}).timeout(secs(1)),
                Callback::new("b", |_| async {}).timeout(secs(5)),
                Callback::new("c", |_| async {}).phase(1),
                Callback::new("d", |_| async {}).phase(-1).timeout(secs(2)),
            ],
            &[],
        );
        let expected = (secs(2) + CALLBACK_WIND_DOWN)
            + (secs(5) + CALLBACK_WIND_DOWN)
            + (secs(3) + CALLBACK_WIND_DOWN);
        assert_eq!(plan.budget(When::Drained), expected);
        assert_eq!(
            super::tests::plan(Vec::new(), &[]).budget(When::Drained),
            Duration::ZERO
        );
    }

    #[test]
    fn the_environment_overrides_a_callback_s_timeout() {
        let plan = plan(
            vec![Callback::new("flush-cache", |_| async {}).timeout(Duration::from_secs(1))],
            &[("GRACEFUL_CALLBACK_TIMEOUT_FLUSH_CACHE", "7s")],
        );
        assert_eq!(
            plan.budget(When::Drained),
            Duration::from_secs(7) + CALLBACK_WIND_DOWN
        );
    }

    #[test]
    fn two_callbacks_with_one_name_are_refused() {
        let err = Plan::new(
            vec![
                Callback::new("flush", |_| async {}),
                Callback::new("mail", |_| async {}),
                Callback::new("flush", |_| async {}).phase(1),
            ],
            Duration::from_secs(3),
            &Overrides::default(),
        )
        .err()
        .expect("refused");
        assert!(matches!(err, Error::DuplicateCallback { .. }), "{err}");
    }
}
