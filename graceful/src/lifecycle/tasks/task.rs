//! A background task as the user declares it, and the context it is given.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use graceful_values::When;
use tokio_util::sync::CancellationToken;

use crate::hook::HookResult;
use crate::lifecycle::declared::Declared;
use crate::lifecycle::handle::ShutdownHandle;
use crate::site::Site;

/// Background work that runs beside the servers: a queue consumer, an
/// outbox relay, a cache refresher. Added with [`App::task`](crate::App::task)
/// or declared with `#[graceful::task]`.
///
/// It starts before the listeners serve, is told to stop at its moment
/// ([`When::Drained`] by default: once every server has drained, so that
/// nothing a handler handed it is left behind; [`When::Signal`]: at the
/// first signal, for work that pulls from outside), and has its stop budget
/// to return. A task that fails (an error, a panic) while the app runs
/// starts the shutdown, and the exit code says so
/// ([`APP_FAILED`](crate::exit_code::APP_FAILED)).
///
/// ```
/// use std::time::Duration;
/// use graceful::{Task, TaskContext, When};
///
/// let consume = Task::new("consume", |ctx: TaskContext| async move {
///     while !ctx.is_stopping() {
///         // take a batch, handle it...
///         tokio::select! {
///             _ = ctx.stopping() => {}
///             _ = tokio::time::sleep(Duration::from_millis(100)) => {}
///         }
///     }
///     Ok::<(), std::io::Error>(())
/// })
/// .stop(When::Signal)
/// .timeout(Duration::from_secs(10));
/// assert_eq!(consume.name(), "consume");
/// ```
pub struct Task {
    pub(super) declared: Declared<TaskContext>,
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.declared.debug(f, "Task", "stop")
    }
}

impl Task {
    /// A task named `name` that runs `f`. `f` gets a [`TaskContext`] and
    /// returns `()` or `Result<(), E>` with `E: Display`.
    ///
    /// ```
    /// let task = graceful::Task::new("refresh", |ctx| async move { ctx.stopping().await });
    /// # drop(task);
    /// ```
    #[track_caller]
    pub fn new<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: FnOnce(TaskContext) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HookResult,
    {
        Task {
            declared: Declared::new(name.into(), f),
        }
    }

    /// Sets when the task is told to stop. Default [`When::Drained`].
    ///
    /// ```
    /// let task = graceful::Task::new("consume", |ctx| async move { ctx.stopping().await })
    ///     .stop(graceful::When::Signal);
    /// # drop(task);
    /// ```
    pub fn stop(mut self, when: When) -> Self {
        self.declared.when = when;
        self
    }

    /// Sets the order among the tasks told at the same moment: every task
    /// of a lower phase has stopped before one of a higher phase is told,
    /// so that a producer stops before its consumer. Default 0.
    ///
    /// ```
    /// let produce = graceful::Task::new("produce", |ctx| async move { ctx.stopping().await });
    /// let consume = graceful::Task::new("consume", |ctx| async move { ctx.stopping().await }).phase(1);
    /// # drop((produce, consume));
    /// ```
    pub fn phase(mut self, phase: i32) -> Self {
        self.declared.phase = phase;
        self
    }

    /// Sets this task's stop budget, instead of the app's
    /// [`task_timeout`](crate::App::task_timeout): how long it may take to
    /// return once told to stop. `GRACEFUL_TASK_TIMEOUT_<NAME>` overrides
    /// it at run time.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let task = graceful::Task::new("flush", |ctx| async move { ctx.stopping().await })
    ///     .timeout(Duration::from_secs(20));
    /// # drop(task);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.declared.timeout = Some(timeout);
        self
    }

    /// Sets where the task was declared, for error messages.
    pub(crate) fn declared_at(mut self, source: Site) -> Self {
        self.declared.source = source;
        self
    }

    /// The task's name.
    ///
    /// ```
    /// let task = graceful::Task::new("consume", |_ctx| async {});
    /// assert_eq!(task.name(), "consume");
    /// ```
    pub fn name(&self) -> &str {
        &self.declared.name
    }
}

/// What a background task knows of its own run: when it is told to stop,
/// when its stop budget is spent, and the app's [`ShutdownHandle`].
///
/// ```
/// # async fn next_job() -> Option<u32> { None }
/// async fn consume(ctx: graceful::TaskContext) -> Result<(), String> {
///     loop {
///         tokio::select! {
///             // Told to stop: the current job is done, take no other.
///             _ = ctx.stopping() => return Ok(()),
///             job = next_job() => match job {
///                 Some(job) => { /* handle it */ }
///                 None => return Ok(()),
///             },
///         }
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct TaskContext {
    pub(super) name: Arc<str>,
    pub(super) stopping: CancellationToken,
    pub(super) cancelled: CancellationToken,
    pub(super) handle: ShutdownHandle,
}

impl TaskContext {
    /// The task's name.
    ///
    /// ```
    /// # fn f(ctx: graceful::TaskContext) {
    /// tracing::info!(task = ctx.name(), "started");
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the task has been told to stop.
    ///
    /// ```
    /// # fn f(ctx: graceful::TaskContext) {
    /// while !ctx.is_stopping() { /* one more batch */ break; }
    /// # }
    /// ```
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Completes when the task is told to stop: it then finishes its
    /// current batch and returns.
    ///
    /// ```
    /// # async fn f(ctx: graceful::TaskContext) {
    /// ctx.stopping().await;
    /// # }
    /// ```
    pub async fn stopping(&self) {
        self.stopping.cancelled().await
    }

    /// Whether its stop budget is spent.
    ///
    /// ```
    /// # fn f(ctx: graceful::TaskContext) {
    /// if ctx.is_cancelled() { /* leave the rest */ }
    /// # }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.is_cancelled()
    }

    /// Completes when its stop budget is spent. The task then has
    /// [`CALLBACK_WIND_DOWN`](crate::CALLBACK_WIND_DOWN) to return before it
    /// is aborted.
    ///
    /// ```
    /// # async fn f(ctx: graceful::TaskContext) {
    /// ctx.cancelled().await;
    /// # }
    /// ```
    pub async fn cancelled(&self) {
        self.cancelled.cancelled().await
    }

    /// The app's shutdown handle: to see the shutdown coming before the task
    /// is told, or to [`fail`](ShutdownHandle::fail) the app.
    ///
    /// ```
    /// # fn f(ctx: graceful::TaskContext) {
    /// let shutting_down = ctx.handle().is_shutting_down();
    /// # }
    /// ```
    pub fn handle(&self) -> &ShutdownHandle {
        &self.handle
    }
}
