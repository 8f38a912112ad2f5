//! [`ShutdownHandle`]: the lifecycle's public face.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::addr::ListenAddr;
use crate::lifecycle::{Lifecycle, Phase, RestartAsk, RestartAsks, Trigger};

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
    parts: Arc<Parts>,
}

/// What a [`ShutdownHandle`] reaches. Behind one pointer of its own, so
/// that a copy made for one connection ([`ShutdownHandle::separate`]) is
/// cloned per request without writing a reference count every connection
/// shares.
#[derive(Debug)]
struct Parts {
    lifecycle: Arc<Lifecycle>,
    /// Where [`restart`](ShutdownHandle::restart) asks (see `restart`).
    restarts: Arc<RestartAsks>,
    /// Where [`reload_tls`](ShutdownHandle::reload_tls) asks.
    reloads: Arc<Reloads>,
}

/// Asks to read the TLS servers' certificate files again: a count each
/// watch follows, so that no ask is lost while one reads.
#[derive(Debug)]
pub(crate) struct Reloads {
    asked: tokio::sync::watch::Sender<u64>,
}

impl Default for Reloads {
    fn default() -> Self {
        Reloads {
            asked: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Reloads {
    fn ask(&self) {
        self.asked.send_modify(|asked| *asked += 1);
    }

    /// What a watch follows: it changes at each ask.
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "only a TLS server's watch follows the asks")
    )]
    pub(crate) fn follow(&self) -> tokio::sync::watch::Receiver<u64> {
        self.asked.subscribe()
    }
}

impl ShutdownHandle {
    /// The handle of a new app: its lifecycle, and where its restarts are
    /// asked for.
    pub(crate) fn new() -> Self {
        ShutdownHandle::from_parts(Arc::new(Lifecycle::new()), Arc::default(), Arc::default())
    }

    /// A handle on these parts.
    pub(crate) fn from_parts(
        lifecycle: Arc<Lifecycle>,
        restarts: Arc<RestartAsks>,
        reloads: Arc<Reloads>,
    ) -> Self {
        ShutdownHandle {
            parts: Arc::new(Parts {
                lifecycle,
                restarts,
                reloads,
            }),
        }
    }

    /// A handle on the same app whose clones share no reference count with
    /// this one's: made once per connection, cloned per request.
    #[cfg_attr(
        not(feature = "grpc"),
        allow(
            dead_code,
            reason = "only gRPC connections hand every request a handle"
        )
    )]
    pub(crate) fn separate(&self) -> Self {
        ShutdownHandle::from_parts(
            Arc::clone(self.lifecycle()),
            Arc::clone(self.restarts()),
            Arc::clone(self.reloads()),
        )
    }

    /// The lifecycle this handle reads and triggers.
    pub(crate) fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.parts.lifecycle
    }

    /// Where restarts are asked for.
    pub(crate) fn restarts(&self) -> &Arc<RestartAsks> {
        &self.parts.restarts
    }

    /// Where TLS reloads are asked for.
    pub(crate) fn reloads(&self) -> &Arc<Reloads> {
        &self.parts.reloads
    }

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
        if self.lifecycle().phase() == Phase::Running {
            self.lifecycle().trigger(Trigger::Handle);
        }
    }

    /// Starts the shutdown because the app cannot go on: a fatal condition
    /// met in a handler, a task or a callback of your own. The shutdown
    /// runs as for a signal, its trigger names `reason`
    /// ([`Trigger::Failed`]), and the exit code is
    /// [`APP_FAILED`](crate::exit_code::APP_FAILED) instead of 0. Called
    /// during the shutdown, it still sets the exit code, and forces
    /// nothing.
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// handle.fail("the database schema is newer than this binary");
    /// assert!(handle.is_shutting_down());
    /// ```
    pub fn fail(&self, reason: impl Into<String>) {
        let reason: Arc<str> = Arc::from(reason.into());
        tracing::error!(reason = %reason, "the app failed: the shutdown begins");
        self.lifecycle().trigger(Trigger::Failed { reason });
    }

    /// Restarts the service without refusing a connection: starts a
    /// successor (the program at the path this process was started as, so
    /// a new binary installed there is the upgrade) with every listener,
    /// waits until it serves, then shuts this process down gracefully.
    /// `SIGUSR2` does the same. A successor that fails to start is killed
    /// and this process keeps serving; a restart asked during the shutdown,
    /// during another restart, or where no service manager could follow the
    /// successor (PID 1 in a container), is refused with a log line. See
    /// README.md, "Restarts that refuse no connection".
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// handle.restart(); // before the start: refused once the app runs, if shutting down
    /// ```
    pub fn restart(&self) {
        self.restarts().ask(RestartAsk::Handle);
    }

    /// Reads every TLS server's certificate and key files again now (they
    /// are also looked at every second): for an app that learns of a
    /// renewal itself. A pair that loads is used by new handshakes; one that
    /// does not is logged and the one before stays. Needs the `tls` feature
    /// to do anything.
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// handle.reload_tls();
    /// ```
    pub fn reload_tls(&self) {
        self.reloads().ask();
    }

    /// Whether the shutdown has begun.
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// assert!(!handle.is_shutting_down());
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        self.lifecycle().phase() >= Phase::NotReady
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
        self.lifecycle().begun().await
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
        self.lifecycle().started().await
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
        self.lifecycle().listen_addr(name)
    }

    /// Whether the drain deadline has passed.
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// assert!(!handle.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.lifecycle().phase() >= Phase::CutOff
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
        self.lifecycle().cancelled().await
    }
}
