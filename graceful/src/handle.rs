//! The shared lifecycle state and [`ShutdownHandle`], its public face.

use std::net::SocketAddr;

use crate::serve::ListenAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::clock::Clock;
use crate::signals::Signal;

/// Where the app stands. Only ever moves forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Serving normally.
    Running = 0,
    /// The shutdown has begun: not ready, responses say `Connection: close`,
    /// still accepting during the pre-stop delay.
    Stopping = 1,
    /// The listeners are closed; new requests on old connections get 503.
    Refusing = 2,
    /// The drain deadline has passed: whatever still runs is cut off.
    Cancelled = 3,
}

/// What started the shutdown, or forced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// A signal from the operating system.
    Signal(Signal),
    /// [`ShutdownHandle::shutdown`] was called.
    Handle,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Signal(signal) => signal.fmt(f),
            Trigger::Handle => f.write_str("ShutdownHandle::shutdown"),
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

/// Every server's name and address.
pub(crate) type Addrs = Vec<(Arc<str>, ListenAddr)>;

/// The state every server, connection and handle shares.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    phase: AtomicU8,
    /// Cancelled when the shutdown begins (phase `Stopping`).
    begun: CancellationToken,
    /// Cancelled when the listeners must close (phase `Refusing`).
    refusing: CancellationToken,
    /// Cancelled at the drain deadline (phase `Cancelled`).
    cancelled: CancellationToken,
    /// The hot path's clock.
    pub(crate) clock: Clock,
    /// Every trigger received, with its time.
    triggers: Mutex<Vec<(Trigger, Instant)>>,
    /// Cancelled once the start is over, served or not.
    started: CancellationToken,
    /// Whether the servers were started, and where they listen.
    serving: Mutex<(bool, Addrs)>,
    /// Cancelled when the exit is forced; `forced_by` says why.
    forced: CancellationToken,
    forced_by: OnceLock<ForcedBy>,
    /// Wakes the watchdog when a trigger comes from code rather than a
    /// signal, so that it starts the global deadline's clock.
    watchdog: OnceLock<Waker>,
}

impl Lifecycle {
    pub(crate) fn new() -> Self {
        Lifecycle {
            phase: AtomicU8::new(Phase::Running as u8),
            begun: CancellationToken::new(),
            refusing: CancellationToken::new(),
            cancelled: CancellationToken::new(),
            clock: Clock::new(),
            triggers: Mutex::new(Vec::new()),
            started: CancellationToken::new(),
            serving: Mutex::new((false, Vec::new())),
            forced: CancellationToken::new(),
            forced_by: OnceLock::new(),
            watchdog: OnceLock::new(),
        }
    }

    /// Tells the watchdog of triggers from now on.
    pub(crate) fn set_watchdog(&self, waker: Waker) {
        let _ = self.watchdog.set(waker);
    }

    /// Forces the exit. Returns whether this was the first time.
    pub(crate) fn force(&self, by: ForcedBy) -> bool {
        let first = self.forced_by.set(by).is_ok();
        self.forced.cancel();
        first
    }

    /// Why the exit was forced, once it was.
    pub(crate) fn forced_by(&self) -> Option<&ForcedBy> {
        self.forced_by.get()
    }

    /// Completes when the exit is forced.
    pub(crate) fn forced(&self) -> WaitForCancellationFuture<'_> {
        self.forced.cancelled()
    }

    /// When the first trigger came, if one did.
    pub(crate) fn first_trigger(&self) -> Option<(Trigger, Instant)> {
        self.triggers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first()
            .copied()
    }

    /// Records the end of the start: whether the servers serve, and where.
    pub(crate) fn set_ready(&self, addrs: Addrs, serving: bool) {
        *self.serving.lock().unwrap_or_else(PoisonError::into_inner) = (serving, addrs);
        self.started.cancel();
    }

    /// The current phase: one relaxed load, cheap enough for every request.
    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Running,
            1 => Phase::Stopping,
            2 => Phase::Refusing,
            _ => Phase::Cancelled,
        }
    }

    /// Moves to `phase` (never backwards), then wakes whoever waits for it.
    /// The phase is stored before the token fires, so a task woken by the
    /// token always sees the new phase.
    pub(crate) fn advance(&self, phase: Phase) {
        self.phase.fetch_max(phase as u8, Ordering::SeqCst);
        if phase >= Phase::Stopping {
            self.begun.cancel();
        }
        if phase >= Phase::Refusing {
            self.refusing.cancel();
        }
        if phase >= Phase::Cancelled {
            self.cancelled.cancel();
        }
    }

    /// Records a trigger and begins the shutdown. Returns whether this was the first.
    pub(crate) fn trigger(&self, trigger: Trigger) -> bool {
        let first = {
            let mut triggers = self.triggers.lock().unwrap_or_else(PoisonError::into_inner);
            triggers.push((trigger, Instant::now()));
            triggers.len() == 1
        };
        self.advance(Phase::Stopping);
        if let Some(watchdog) = self.watchdog.get() {
            watchdog.wake_by_ref();
        }
        first
    }

    pub(crate) fn triggers(&self) -> Vec<(Trigger, Instant)> {
        self.triggers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// [`Lifecycle::begun`], owning what it waits on.
    pub(crate) fn begun_owned(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.begun.clone().cancelled_owned()
    }

    pub(crate) fn begun(&self) -> WaitForCancellationFuture<'_> {
        self.begun.cancelled()
    }

    pub(crate) fn refusing(&self) -> WaitForCancellationFuture<'_> {
        self.refusing.cancelled()
    }

    pub(crate) fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.cancelled.cancelled()
    }
}

/// Watches for a lifecycle moment from inside a busy future's `poll`, without
/// polling the moment's future every time.
///
/// Polling a waiting [`WaitForCancellationFuture`] takes a mutex shared by
/// every waiter. A connection's task is polled for every read and write, so
/// the moment's future is polled once, to register the task's waker, and after
/// that the phase, one relaxed load, tells whether it has come. A tokio task
/// keeps one waker for its whole life, so the first registration stays valid.
pub(crate) struct Moment<'m, 'a> {
    lifecycle: &'a Lifecycle,
    phase: Phase,
    wait: Pin<&'m mut WaitForCancellationFuture<'a>>,
    registered: bool,
}

impl<'m, 'a> Moment<'m, 'a> {
    pub(crate) fn new(
        lifecycle: &'a Lifecycle,
        phase: Phase,
        wait: Pin<&'m mut WaitForCancellationFuture<'a>>,
    ) -> Self {
        Moment {
            lifecycle,
            phase,
            wait,
            registered: false,
        }
    }

    /// Whether the moment has come; registers the task's waker on first call.
    pub(crate) fn has_come(&mut self, cx: &mut Context<'_>) -> bool {
        if self.lifecycle.phase() >= self.phase {
            return true;
        }
        if !self.registered {
            self.registered = true;
            return self.wait.as_mut().poll(cx).is_ready();
        }
        false
    }
}

/// Starts the shutdown from code, and lets handlers see it coming.
///
/// Cloning is cheap. Two moments are never confused:
///
/// - [`shutting_down`](ShutdownHandle::shutting_down): the shutdown has
///   begun. In-flight requests keep running and are not cancelled; a
///   long-lived stream (long poll, SSE, websocket) should wind down now,
///   because nothing else will end it.
/// - [`cancelled`](ShutdownHandle::cancelled): the drain deadline has passed.
///   Whatever still runs is being cut off; work a handler spawned should stop.
///
/// ```
/// use graceful::{App, Server, ShutdownHandle};
/// use graceful::hyper::{Response, service::service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = App::new();
/// let handle: ShutdownHandle = app.handle();
/// let app = app.server(Server::new("api", "127.0.0.1:0", service_fn(|_req| async {
///     Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
/// })));
///
/// let running = app.start().await.unwrap();
/// assert!(!handle.is_shutting_down());
/// handle.shutdown(); // as an admin endpoint or a fatal error would
/// let report = running.wait().await;
/// assert!(handle.is_shutting_down());
/// assert_eq!(report.exit_code(), 0);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    pub(crate) lifecycle: Arc<Lifecycle>,
}

impl ShutdownHandle {
    /// Starts the graceful shutdown, exactly as the first signal would.
    /// Calling it again does nothing.
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// handle.shutdown();
    /// handle.shutdown(); // idempotent
    /// assert!(handle.is_shutting_down());
    /// ```
    pub fn shutdown(&self) {
        if self.lifecycle.phase() == Phase::Running {
            self.lifecycle.trigger(Trigger::Handle);
        }
    }

    /// Whether the shutdown has begun.
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// assert!(!handle.is_shutting_down());
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        self.lifecycle.phase() >= Phase::Stopping
    }

    /// Completes when the shutdown has begun: the moment for a long-lived
    /// response to wind down. In-flight requests are not cancelled by it.
    ///
    /// ```
    /// # async fn stream(handle: graceful::ShutdownHandle) {
    /// loop {
    ///     tokio::select! {
    ///         _ = handle.shutting_down() => break, // send a last event, then end
    ///         _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => { /* tick */ }
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn shutting_down(&self) {
        self.lifecycle.begun().await
    }

    /// Completes once the start is over. Returns `true` if every server
    /// is accepting connections, `false` if the start was interrupted by the
    /// shutdown (or the app failed to start).
    ///
    /// ```
    /// # async fn f() {
    /// let handle = graceful::shutdown_handle();
    /// if handle.ready().await {
    ///     let addr = handle.local_addr("api");
    ///     // tell systemd, run a self-test...
    /// }
    /// # }
    /// ```
    pub async fn ready(&self) -> bool {
        self.lifecycle.started.cancelled().await;
        self.lifecycle
            .serving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// The TCP address the named server listens on, once
    /// [`ready`](Self::ready); `None` for a Unix socket (see
    /// [`listen_addr`](Self::listen_addr)).
    ///
    /// ```
    /// let handle = graceful::App::new().handle();
    /// assert_eq!(handle.local_addr("api"), None); // not started
    /// ```
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listen_addr(name).and_then(|addr| addr.tcp())
    }

    /// Where the named server listens, TCP or Unix socket, once
    /// [`ready`](Self::ready).
    ///
    /// ```
    /// let handle = graceful::App::new().handle();
    /// assert_eq!(handle.listen_addr("api"), None); // not started
    /// ```
    pub fn listen_addr(&self, name: &str) -> Option<ListenAddr> {
        self.lifecycle
            .serving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, addr)| addr.clone())
    }

    /// Whether the drain deadline has passed.
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// assert!(!handle.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.lifecycle.phase() >= Phase::Cancelled
    }

    /// Completes when the drain deadline has passed and whatever still runs
    /// is cut off. Work a handler spawned should stop here.
    ///
    /// ```
    /// # async fn job(handle: graceful::ShutdownHandle) {
    /// tokio::spawn(async move {
    ///     tokio::select! {
    ///         _ = handle.cancelled() => { /* roll back */ }
    ///         _ = async { /* long work */ } => {}
    ///     }
    /// });
    /// # }
    /// ```
    pub async fn cancelled(&self) {
        self.lifecycle.cancelled().await
    }
}
