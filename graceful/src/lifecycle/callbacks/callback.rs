//! A shutdown callback as the user declares it, and the context it is given.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use graceful_values::When;

use crate::hook::HookResult;
use crate::lifecycle::declared::Declared;
use crate::site::Site;

/// How long a callback may still take to return once its context has fired
/// at its timeout, before it is aborted: 250 ms. It lets a callback that
/// watches [`ShutdownContext::cancelled`] stop cleanly and say what it left
/// undone.
pub const CALLBACK_WIND_DOWN: Duration = Duration::from_millis(250);

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
    pub(super) declared: Declared<ShutdownContext>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.declared.debug(f, "Callback", "when")
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
            declared: Declared::new(name.into(), f),
        }
    }

    /// Sets when the callback runs: once every server has drained
    /// ([`When::Drained`], the default: nothing a request does can reach a
    /// pool it closes), or at the first signal ([`When::Signal`]: during
    /// the pre-stop window, while the app still serves, to deregister it
    /// from service discovery or flip an external health check). The
    /// listeners stay open until the callbacks of the signal have ended,
    /// however short the `pre_stop_delay`.
    ///
    /// ```
    /// let deregister = graceful::Callback::new("deregister", |_ctx| async {})
    ///     .when(graceful::When::Signal);
    /// # drop(deregister);
    /// ```
    pub fn when(mut self, when: When) -> Self {
        self.declared.when = when;
        self
    }

    /// Sets the phase: every callback of a lower phase ends before this one
    /// starts. Callbacks of one phase run concurrently. Default 0.
    ///
    /// ```
    /// let close = graceful::Callback::new("close-db", |_ctx| async {}).phase(1);
    /// # drop(close);
    /// ```
    pub fn phase(mut self, phase: i32) -> Self {
        self.declared.phase = phase;
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
        self.declared.timeout = Some(timeout);
        self
    }

    /// Sets where the callback was declared, for error messages.
    pub(crate) fn declared_at(mut self, source: Site) -> Self {
        self.declared.source = source;
        self
    }

    /// The callback's name.
    ///
    /// ```
    /// assert_eq!(graceful::Callback::new("flush", |_ctx| async {}).name(), "flush");
    /// ```
    pub fn name(&self) -> &str {
        &self.declared.name
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
    pub(super) name: Arc<str>,
    pub(super) started: Instant,
    pub(super) timeout: Duration,
    pub(super) token: CancellationToken,
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
