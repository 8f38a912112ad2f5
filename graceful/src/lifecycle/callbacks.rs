//! Shutdown callbacks: flush a cache, close a pool, deregister from discovery.
//!
//! Callbacks run after every server has stopped, grouped
//! by phase: all callbacks of one phase run concurrently, and a phase starts
//! only when every callback of the phase before has ended. Each runs under its
//! own timeout, in its own task: an error, a panic or an overrun is reported
//! and never keeps the other callbacks from running.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::config::{self, Lookup};
use crate::error::{Error, panic_message};
use crate::hook::HookResult;
use crate::lifecycle::report::{CallbackOutcome, CallbackReport};
use crate::site::Site;

/// How long a callback may still take to return once its context has fired
/// at its timeout, before it is aborted: 250 ms. It lets a callback that
/// watches [`ShutdownContext::cancelled`] stop cleanly and say what it left
/// undone.
pub const CALLBACK_WIND_DOWN: Duration = Duration::from_millis(250);

type CallbackFn = Box<
    dyn FnOnce(ShutdownContext) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send,
>;

/// A shutdown callback, registered with [`App::on_shutdown`](crate::App::on_shutdown).
///
/// ```
/// use std::time::Duration;
/// use graceful::{Callback, ShutdownContext};
///
/// let flush = Callback::new("flush-cache", |ctx: ShutdownContext| async move {
///     tokio::select! {
///         _ = ctx.cancelled() => Err("cache not flushed in time"),
///         _ = tokio::time::sleep(Duration::from_millis(10)) => Ok(()),
///     }
/// })
/// .phase(0)
/// .timeout(Duration::from_secs(3));
/// assert_eq!(flush.name(), "flush-cache");
/// ```
pub struct Callback {
    name: String,
    phase: i32,
    timeout: Option<Duration>,
    source: Site,
    run: CallbackFn,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("name", &self.name)
            .field("phase", &self.phase)
            .field("timeout", &self.timeout)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Callback {
    /// A callback named `name` that runs `f`. `f` gets a [`ShutdownContext`]
    /// and returns `()` or `Result<(), E>` with `E: Display`.
    ///
    /// ```
    /// let cb = graceful::Callback::new("close-pool", |_ctx| async {});
    /// # drop(cb);
    /// ```
    #[track_caller]
    pub fn new<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: FnOnce(ShutdownContext) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HookResult,
    {
        Callback {
            name: name.into(),
            phase: 0,
            timeout: None,
            source: Site::caller(),
            run: Box::new(move |ctx| {
                let fut = f(ctx);
                Box::pin(async move { fut.await.into_result() })
            }),
        }
    }

    /// Sets the phase: every callback of a lower phase ends before this one
    /// starts. Callbacks of one phase run concurrently. Default 0.
    ///
    /// ```
    /// let close = graceful::Callback::new("close-db", |_ctx| async {}).phase(1);
    /// # drop(close);
    /// ```
    pub fn phase(mut self, phase: i32) -> Self {
        self.phase = phase;
        self
    }

    /// Sets this callback's timeout, instead of the app's
    /// [`callback_timeout`](crate::App::callback_timeout).
    /// `GRACEFUL_CALLBACK_TIMEOUT_<NAME>` overrides it at run time.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let cb = graceful::Callback::new("flush", |_ctx| async {}).timeout(Duration::from_secs(5));
    /// # drop(cb);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets where the callback was declared, for error messages.
    pub(crate) fn declared_at(mut self, source: Site) -> Self {
        self.source = source;
        self
    }

    /// The callback's name.
    ///
    /// ```
    /// assert_eq!(graceful::Callback::new("flush", |_ctx| async {}).name(), "flush");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What a callback knows of its own run. Its [`cancelled`](Self::cancelled)
/// future fires at the callback's timeout, so that it can stop cleanly.
///
/// ```
/// # async fn flush(_: &str) {}
/// async fn save(ctx: graceful::ShutdownContext) -> Result<(), String> {
///     for key in ["a", "b", "c"] {
///         if ctx.is_cancelled() {
///             return Err(format!("stopped at {key}: {:?} was not enough", ctx.timeout()));
///         }
///         flush(key).await;
///     }
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ShutdownContext {
    name: Arc<str>,
    started: Instant,
    timeout: Duration,
    token: CancellationToken,
}

impl ShutdownContext {
    /// The callback's name.
    ///
    /// ```
    /// # fn f(ctx: graceful::ShutdownContext) {
    /// tracing::info!(callback = ctx.name(), "flushing");
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The callback's timeout.
    ///
    /// ```
    /// # fn f(ctx: graceful::ShutdownContext) {
    /// let budget = ctx.timeout();
    /// # }
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The instant the callback's timeout passes.
    ///
    /// ```
    /// # async fn f(ctx: graceful::ShutdownContext) {
    /// tokio::time::timeout_at(ctx.deadline().into(), async { /* work */ }).await.ok();
    /// # }
    /// ```
    pub fn deadline(&self) -> Instant {
        self.started + self.timeout
    }

    /// The time left before the timeout.
    ///
    /// ```
    /// # fn f(ctx: graceful::ShutdownContext) {
    /// if ctx.remaining() < std::time::Duration::from_millis(100) { /* skip the optional step */ }
    /// # }
    /// ```
    pub fn remaining(&self) -> Duration {
        self.deadline().saturating_duration_since(Instant::now())
    }

    /// Whether the timeout has passed.
    ///
    /// ```
    /// # fn f(ctx: graceful::ShutdownContext) {
    /// while !ctx.is_cancelled() { /* one more batch */ break; }
    /// # }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes at the timeout. The callback then has
    /// [`CALLBACK_WIND_DOWN`] to return before it is aborted.
    ///
    /// ```
    /// # async fn f(ctx: graceful::ShutdownContext) {
    /// ctx.cancelled().await;
    /// # }
    /// ```
    pub async fn cancelled(&self) {
        self.token.cancelled().await
    }
}

/// The callbacks, sorted, with their timeouts resolved.
pub(crate) struct Plan {
    callbacks: Vec<(Callback, Duration)>,
    ledger: Arc<Ledger>,
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
        mut callbacks: Vec<Callback>,
        default_timeout: Duration,
        env: Lookup<'_>,
    ) -> Result<Self, Error> {
        // Names are unique across phases: sorted by name, repeats are neighbours.
        callbacks.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(pair) = callbacks
            .windows(2)
            .find(|pair| pair[0].name == pair[1].name)
        {
            return Err(Error::DuplicateCallback {
                name: pair[0].name.clone(),
                first: pair[0].source,
                second: pair[1].source,
            });
        }
        callbacks.sort_by(|a, b| (a.phase, &a.name).cmp(&(b.phase, &b.name)));
        let mut resolved = Vec::with_capacity(callbacks.len());
        for cb in callbacks {
            let var = format!(
                "{}{}",
                config::ENV_CALLBACK_TIMEOUT_PREFIX,
                config::env_suffix(&cb.name)
            );
            if let Some(timeout) = cb.timeout {
                config::check_duration(timeout).map_err(|reason| Error::Setting {
                    setting: format!("timeout of callback {:?}", cb.name),
                    reason,
                })?;
            }
            let timeout = config::duration_var(env, &var)?
                .or(cb.timeout)
                .unwrap_or(default_timeout);
            resolved.push((cb, timeout));
        }
        let planned = resolved
            .iter()
            .map(|(cb, timeout)| Planned {
                name: cb.name.clone(),
                phase: cb.phase,
                timeout: *timeout,
            })
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

    /// The longest the callbacks can take: per phase, the longest timeout
    /// plus the wind-down.
    pub(crate) fn budget(&self) -> Duration {
        let mut total = Duration::ZERO;
        let mut phase = None;
        let mut longest = Duration::ZERO;
        for (cb, timeout) in &self.callbacks {
            if phase != Some(cb.phase) {
                total += longest;
                longest = Duration::ZERO;
                phase = Some(cb.phase);
            }
            longest = longest.max(*timeout + CALLBACK_WIND_DOWN);
        }
        total + longest
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.callbacks.is_empty()
    }

    /// The ledger the callbacks write as they end.
    pub(crate) fn ledger(&self) -> Arc<Ledger> {
        Arc::clone(&self.ledger)
    }

    /// Runs every phase in order, and every callback of a phase concurrently.
    pub(crate) async fn run(self) -> Vec<CallbackReport> {
        let mut callbacks = self.callbacks.into_iter().peekable();
        while let Some((first, timeout)) = callbacks.next() {
            let phase = first.phase;
            let started = Instant::now();
            let mut set = JoinSet::new();
            set.spawn(run_one(first, timeout, Arc::clone(&self.ledger)));
            while let Some((cb, timeout)) = callbacks.next_if(|(cb, _)| cb.phase == phase) {
                set.spawn(run_one(cb, timeout, Arc::clone(&self.ledger)));
            }
            tracing::info!(phase, callbacks = set.len(), "callback phase started");
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
            tracing::info!(phase, duration = ?started.elapsed(), "callback phase ended");
        }
        let mut done = self
            .ledger
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        done.sort_by(|a, b| (a.phase, &a.name).cmp(&(b.phase, &b.name)));
        done
    }
}

/// Runs one callback in its own task, under its timeout, then the wind-down.
async fn run_one(cb: Callback, timeout: Duration, ledger: Arc<Ledger>) -> CallbackReport {
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
        Plan::new(callbacks, Duration::from_secs(3), &env).expect("a plan")
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
        assert_eq!(plan.budget(), expected);
        assert_eq!(super::tests::plan(Vec::new(), &[]).budget(), Duration::ZERO);
    }

    #[test]
    fn the_environment_overrides_a_callback_s_timeout() {
        let plan = plan(
            vec![Callback::new("flush-cache", |_| async {}).timeout(Duration::from_secs(1))],
            &[("GRACEFUL_CALLBACK_TIMEOUT_FLUSH_CACHE", "7s")],
        );
        assert_eq!(plan.budget(), Duration::from_secs(7) + CALLBACK_WIND_DOWN);
    }

    #[test]
    fn two_callbacks_with_one_name_are_refused() {
        let env = |_: &str| None;
        let err = Plan::new(
            vec![
                Callback::new("flush", |_| async {}),
                Callback::new("mail", |_| async {}),
                Callback::new("flush", |_| async {}).phase(1),
            ],
            Duration::from_secs(3),
            &env,
        )
        .err()
        .expect("refused");
        assert!(matches!(err, Error::DuplicateCallback { .. }), "{err}");
    }
}
