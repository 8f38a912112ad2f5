//! The app: servers and callbacks assembled, and the lifecycle that runs them.

pub(crate) mod books;
pub(crate) mod process;
pub(crate) mod registry;
pub(crate) mod shutdown;
pub(crate) mod state;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::task::AbortOnDropHandle;

use crate::app::books::Books;
use crate::lifecycle::callbacks::{Callback, Plan};
use graceful_values::settings::{self, Value};

use crate::app::shutdown::Running;
use crate::config::{self, Config, Lookup};
use crate::error::{BoxError, Error};
use crate::lifecycle::handle::ShutdownHandle;
use crate::lifecycle::report::Report;
use crate::lifecycle::sentinel::Sentinel;
use crate::lifecycle::signals::Signal;
use crate::lifecycle::{Lifecycle, Phase};
use crate::serve::accounts::ServerShared;
use crate::serve::{self, Server};
use crate::system::notify::Notifier;
use crate::system::restart::{Handed, Restarter};
use process::run_to_exit;

type Startup = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// Named HTTP servers and shutdown callbacks, and the lifecycle that runs them.
///
/// Build it, then [`run`](App::run) it (or [`run_blocking`](App::run_blocking)
/// from a plain `fn main`). The lifecycle:
///
/// 1. **Start.** Signal handlers are installed, the start-up hook runs, then
///    every listener is bound before any is served. A bind failure releases
///    what was bound and fails the start.
/// 2. **Serve** until the first signal or [`ShutdownHandle::shutdown`].
/// 3. **Not ready.** The health endpoint answers 503; HTTP/1 responses carry
///    `Connection: close`; HTTP/2 connections get GOAWAY; during the
///    [`pre_stop_delay`](App::pre_stop_delay) new connections are still
///    accepted and served, so load balancers can deregister the instance.
/// 4. **Refuse.** The listeners close: new connections are refused. A request
///    on a connection that was asked to close gets `503` with `Retry-After`.
/// 5. **Drain.** In-flight requests finish; the phase ends the moment none is
///    left (counted, never slept) or at the [`drain_timeout`](App::drain_timeout),
///    which cuts off the rest and names them.
/// 6. **Callbacks**, phase by phase, each under its timeout.
/// 7. **Report** and exit code (see [`exit_code`](crate::exit_code)).
///
/// A second signal, or the [`shutdown_timeout`](App::shutdown_timeout) from
/// the first, ends the run at once with [`exit_code::FORCED`](crate::exit_code::FORCED).
/// Both are enforced by a sentinel thread, not by the runtime: with
/// [`run_blocking`](App::run_blocking), a runtime stalled by blocking code
/// cannot hold the exit.
///
/// ```no_run
/// use std::convert::Infallible;
/// use graceful::{App, Callback, Request, Server};
/// use graceful::hyper::{Response, service::service_fn};
///
/// async fn hello(_req: Request) -> Result<Response<String>, Infallible> {
///     Ok(Response::new("hello world".into()))
/// }
///
/// fn main() {
///     App::new()
///         .server(Server::new("service1", "127.0.0.1:8081", service_fn(hello)))
///         .on_shutdown(Callback::new("flush-cache", |_ctx| async { /* save */ }))
///         .health_path("/healthz")
///         .run_blocking()
/// }
/// ```
pub struct App {
    config: Config,
    servers: Vec<Server>,
    callbacks: Vec<Callback>,
    startup: Option<Startup>,
    lifecycle: Arc<Lifecycle>,
    /// Installed early by the generated `main`, before anything else runs.
    sentinel: Option<Sentinel>,
    /// Whether the process is the app's (`run_blocking`, `#[graceful::main]`):
    /// then a forced exit ends it even if the runtime is stalled.
    owns_process: bool,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .field("servers", &self.servers)
            .field("callbacks", &self.callbacks)
            .finish_non_exhaustive()
    }
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

impl App {
    /// An app with no servers and the default settings (see [`config`](crate::config)).
    ///
    /// ```
    /// let app = graceful::App::new();
    /// # drop(app);
    /// ```
    pub fn new() -> Self {
        App::with_lifecycle(Arc::new(Lifecycle::new()))
    }

    pub(crate) fn with_lifecycle(lifecycle: Arc<Lifecycle>) -> Self {
        // What the process was started as, before `main`'s body can change
        // its directory or start a helper that would inherit the listeners.
        crate::system::restart::capture();
        App {
            config: Config::default(),
            servers: Vec::new(),
            callbacks: Vec::new(),
            startup: None,
            lifecycle,
            sentinel: None,
            owns_process: false,
        }
    }

    /// The signals the app is configured with, before the environment's:
    /// those that start the shutdown, and those that restart.
    pub(crate) fn configured_signals(&self) -> (&[Signal], &[Signal]) {
        (&self.config.signals, &self.config.restart_signals)
    }

    /// Makes the process the app's: its sentinel, installed early, may end
    /// it on a forced exit even if the runtime is stalled.
    pub(crate) fn owning_process(mut self, sentinel: Sentinel) -> Self {
        self.sentinel = Some(sentinel);
        self.owns_process = true;
        self
    }

    /// Adds a server. Names must be unique.
    ///
    /// ```
    /// # use graceful::hyper::{Response, service::service_fn};
    /// # let svc = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
    /// let app = graceful::App::new().server(graceful::Server::new("api", "127.0.0.1:0", svc));
    /// # drop(app);
    /// ```
    pub fn server(mut self, server: Server) -> Self {
        self.servers.push(server);
        self
    }

    /// Adds a shutdown callback. Every call adds one: none overwrites
    /// another.
    ///
    /// ```
    /// let app = graceful::App::new()
    ///     .on_shutdown(graceful::Callback::new("flush", |_ctx| async {}))
    ///     .on_shutdown(graceful::Callback::new("close-db", |_ctx| async {}).phase(1));
    /// # drop(app);
    /// ```
    pub fn on_shutdown(mut self, callback: Callback) -> Self {
        self.callbacks.push(callback);
        self
    }

    /// Runs `startup` after the signal handlers are installed and before any
    /// listener is bound: open pools, warm caches. An error aborts the start;
    /// a signal meanwhile ends the app without ever serving.
    ///
    /// ```
    /// let app = graceful::App::new().on_startup(async {
    ///     // connect to the database...
    ///     Ok::<(), std::io::Error>(())
    /// });
    /// # drop(app);
    /// ```
    pub fn on_startup<F, E>(mut self, startup: F) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.startup = Some(Box::pin(async move { startup.await.map_err(Into::into) }));
        self
    }

    /// The global deadline, from the first signal to a forced exit with
    /// code 1. Default 30 s; `GRACEFUL_SHUTDOWN_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().shutdown_timeout(Duration::from_secs(45));
    /// # drop(app);
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::SHUTDOWN_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// How long in-flight requests may take to finish once the listeners are
    /// closed; then they are cut off. Default 10 s; `GRACEFUL_DRAIN_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().drain_timeout(Duration::from_secs(20));
    /// # drop(app);
    /// ```
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::DRAIN_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// The timeout of callbacks that set none. Default 3 s;
    /// `GRACEFUL_CALLBACK_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().callback_timeout(Duration::from_secs(5));
    /// # drop(app);
    /// ```
    pub fn callback_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::CALLBACK_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// How long to keep accepting and serving after the signal while the
    /// health endpoint already answers 503, so load balancers stop sending
    /// traffic first (the Kubernetes endpoint-removal race). Responses carry
    /// `Connection: close` meanwhile. Default 0; `GRACEFUL_PRE_STOP_DELAY`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().pre_stop_delay(Duration::from_secs(5));
    /// # drop(app);
    /// ```
    pub fn pre_stop_delay(mut self, delay: Duration) -> Self {
        self.config
            .set(&settings::PRE_STOP_DELAY, Value::Duration(delay));
        self
    }

    /// How long an HTTP/1 keep-alive connection that was just active may
    /// still deliver a request once the shutdown has begun. A request already
    /// on its way is served (with `Connection: close`) instead of meeting a
    /// closed socket. Default 100 ms; `GRACEFUL_READ_GRACE`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().read_grace(Duration::from_millis(250));
    /// # drop(app);
    /// ```
    pub fn read_grace(mut self, grace: Duration) -> Self {
        self.config
            .set(&settings::READ_GRACE, Value::Duration(grace));
        self
    }

    /// How long a connection asked to close may take to send a complete
    /// request before it is dropped: one that never sends anything, or sends
    /// its headers a byte at a time, cannot hold the drain open. Default 1 s;
    /// `GRACEFUL_HEADER_GRACE`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().header_grace(Duration::from_millis(500));
    /// # drop(app);
    /// ```
    pub fn header_grace(mut self, grace: Duration) -> Self {
        self.config
            .set(&settings::HEADER_GRACE, Value::Duration(grace));
        self
    }

    /// How long a new connection may take, while serving, to send its first
    /// complete request head: a client that connects and sends nothing, or
    /// trickles its headers, is disconnected. An idle keep-alive connection
    /// between requests is not timed: its client closes it (closing it under
    /// a load balancer's own idle timeout would race its next request).
    /// Zero turns it off. Default 30 s; `GRACEFUL_HEADER_READ_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().header_read_timeout(Duration::from_secs(10));
    /// # drop(app);
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::HEADER_READ_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// How long upgraded connections (WebSocket and the like) may stay open
    /// once the shutdown begins, counted from the first signal: they are
    /// told at once (the upgrade request carries the [`ShutdownHandle`]),
    /// and cut off at this deadline even while requests still drain.
    /// Default: the drain deadline, which they then share;
    /// `GRACEFUL_UPGRADE_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().upgrade_timeout(Duration::from_secs(2));
    /// # drop(app);
    /// ```
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::UPGRADE_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// How often the drain logs what is still in flight. Default 1 s;
    /// `GRACEFUL_PROGRESS_INTERVAL`. Zero fails the start.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().progress_interval(Duration::from_millis(500));
    /// # drop(app);
    /// ```
    pub fn progress_interval(mut self, interval: Duration) -> Self {
        self.config
            .set(&settings::PROGRESS_INTERVAL, Value::Duration(interval));
        self
    }

    /// The signals that start the shutdown (a second one forces the exit).
    /// Default `TERM,INT,QUIT,HUP`; `GRACEFUL_SIGNALS`.
    ///
    /// ```
    /// use graceful::Signal;
    /// let app = graceful::App::new().signals([Signal::Term, Signal::Int]);
    /// # drop(app);
    /// ```
    pub fn signals(mut self, signals: impl IntoIterator<Item = Signal>) -> Self {
        self.config.set(
            &settings::SIGNALS,
            Value::Signals(signals.into_iter().collect()),
        );
        self
    }

    /// The signals that restart by handing the listeners over to a
    /// successor (see [`ShutdownHandle::restart`]); none may also start the
    /// shutdown. Default `USR2`; `GRACEFUL_RESTART_SIGNALS`.
    ///
    /// ```
    /// use graceful::Signal;
    /// let app = graceful::App::new().restart_signals([Signal::Usr1]);
    /// # drop(app);
    /// ```
    pub fn restart_signals(mut self, signals: impl IntoIterator<Item = Signal>) -> Self {
        self.config.set(
            &settings::RESTART_SIGNALS,
            Value::Signals(signals.into_iter().collect()),
        );
        self
    }

    /// How long a restart's successor may take to serve before it is
    /// killed and this process keeps serving. Default 30 s;
    /// `GRACEFUL_RESTART_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().restart_timeout(Duration::from_secs(60));
    /// # drop(app);
    /// ```
    pub fn restart_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::RESTART_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// Serves a health endpoint at `path` on every server: `200` while
    /// running, `503` from the first signal on. Health requests are not
    /// counted. Default none; `GRACEFUL_HEALTH_PATH` (empty turns it off).
    ///
    /// ```
    /// let app = graceful::App::new().health_path("/healthz");
    /// # drop(app);
    /// ```
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        self.config.set(&settings::HEALTH_PATH, Value::Path(path));
        self
    }

    /// A handle that starts the shutdown from code and lets handlers see it
    /// coming. Take it before [`run`](App::run) and give it to your handlers.
    ///
    /// ```
    /// let app = graceful::App::new();
    /// let handle = app.handle();
    /// assert!(!handle.is_shutting_down());
    /// ```
    pub fn handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            lifecycle: Arc::clone(&self.lifecycle),
        }
    }

    /// Starts the app: installs the signal handlers, runs the start-up hook,
    /// binds every listener, then serves. Returns once every server accepts
    /// connections; [`Running::wait`] runs the rest of the lifecycle.
    ///
    /// ```
    /// # use graceful::hyper::{Response, service::service_fn};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let svc = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
    /// let running = graceful::App::new()
    ///     .server(graceful::Server::new("api", "127.0.0.1:0", svc))
    ///     .start()
    ///     .await
    ///     .expect("started");
    /// let addr = running.local_addr("api").unwrap();
    /// assert_ne!(addr.port(), 0);
    /// running.handle().shutdown();
    /// running.wait().await;
    /// # }
    /// ```
    pub async fn start(mut self) -> Result<Running, Error> {
        let startup = self.startup.take();
        self.start_with(&config::process_env, startup).await
    }

    /// [`App::start`], with the environment and the start-up hook given.
    /// The hook need not be `Send`: it runs inside this future.
    pub(crate) async fn start_with<S>(
        self,
        env: Lookup<'_>,
        startup: Option<S>,
    ) -> Result<Running, Error>
    where
        S: Future<Output = Result<(), BoxError>>,
    {
        let lifecycle = Arc::clone(&self.lifecycle);
        let started = self.start_inner(env, startup).await;
        if started.is_err() {
            lifecycle.set_ready(Vec::new(), false);
        }
        started
    }

    async fn start_inner<S>(self, env: Lookup<'_>, startup: Option<S>) -> Result<Running, Error>
    where
        S: Future<Output = Result<(), BoxError>>,
    {
        let App {
            mut config,
            servers,
            callbacks,
            startup: _,
            lifecycle,
            sentinel,
            owns_process,
        } = self;
        config.validate()?;
        config.apply_env(env)?;
        config.check_together()?;
        let plan = Plan::new(callbacks, config.callback_timeout, env)?;
        serve::validate(&servers)?;

        // Handlers first: from here on, a signal goes through the lifecycle.
        let sentinel = match sentinel {
            Some(sentinel) => sentinel,
            None => Sentinel::start(
                &config.signals,
                &config.restart_signals,
                Arc::clone(&lifecycle),
            )?,
        };
        if let Some(startup) = startup {
            tokio::select! {
                result = startup => result.map_err(Error::Startup)?,
                () = lifecycle.begun() => {}
            }
        }
        let mut bound = Vec::new();
        if lifecycle.phase() == Phase::Running {
            bound = serve::bind_all(servers, env).await?;
        }
        let during_startup = lifecycle.phase() != Phase::Running;
        if during_startup {
            // Never ready: release the listeners without serving.
            drop(bound);
            tracing::info!("shutdown requested during start-up; no server was started");
            bound = Vec::new();
        }

        // Each listener's descriptor, for a restart's successor.
        #[cfg(unix)]
        let handed: Vec<Handed> = bound
            .iter()
            .map(|b| Handed {
                name: Arc::clone(&b.name),
                fd: b.raw_fd(),
                managed: b.managed,
            })
            .collect();
        #[cfg(not(unix))]
        let handed: Vec<Handed> = Vec::new();
        let health_path: Option<Box<str>> = config.health_path.as_deref().map(Box::from);
        let mut servers = Vec::with_capacity(bound.len());
        let mut accept_loops = Vec::with_capacity(bound.len());
        for b in bound {
            let mut shared = ServerShared::new(
                Arc::clone(&b.name),
                b.addr.clone(),
                Arc::clone(&lifecycle),
                config.read_grace,
                config.header_grace,
                config.header_read_timeout,
                health_path.clone(),
            );
            shared.managed = b.managed;
            let shared = Arc::new(shared);
            match &b.inherited {
                Some(inherited) => {
                    tracing::info!(name = %b.name, addr = %b.addr, inherited = %inherited, "listening");
                }
                None => tracing::info!(name = %b.name, addr = %b.addr, "listening"),
            }
            accept_loops.push(b.serve(Arc::clone(&shared)));
            servers.push(shared);
        }

        lifecycle.set_ready(
            servers
                .iter()
                .map(|s| (Arc::clone(&s.name), s.addr.clone()))
                .collect(),
            !during_startup,
        );

        let budget = config.pre_stop_delay + config.drain_timeout + plan.budget();
        if budget > config.shutdown_timeout {
            tracing::warn!(
                pre_stop_delay = ?config.pre_stop_delay,
                drain_timeout = ?config.drain_timeout,
                callbacks = ?plan.budget(),
                shutdown_timeout = ?config.shutdown_timeout,
                "the shutdown budget exceeds shutdown_timeout: a slow shutdown would be forced mid-cleanup"
            );
        }
        let books = Arc::new(Books::new(
            Arc::clone(&lifecycle),
            servers,
            plan.ledger(),
            during_startup,
        ));
        sentinel.arm(
            config.shutdown_timeout,
            Arc::clone(&books) as Arc<dyn crate::lifecycle::sentinel::ForcedReport>,
            owns_process,
        );
        let notifier = Notifier::from_env();
        if !during_startup && crate::system::restart::is_successor() {
            // The service is ready already: the predecessor, told now,
            // names this process to the service manager (`MAINPID=`).
            crate::system::restart::tell_predecessor_ready();
        } else if !during_startup {
            notifier.ready(
                books
                    .servers()
                    .iter()
                    .map(|s| (&*s.name, s.addr.to_string())),
            );
        }
        let pets = AbortOnDropHandle::new(tokio::spawn(notifier.clone().pet_watchdog()));
        let restarter = (!during_startup).then(|| {
            let restarter = Restarter::new(
                handed,
                config.restart_timeout,
                Arc::clone(&lifecycle),
                notifier.clone(),
            );
            AbortOnDropHandle::new(tokio::spawn(restarter.run()))
        });
        Ok(Running {
            books,
            accept_loops,
            lifecycle,
            sentinel,
            plan,
            config,
            notifier,
            _pets: pets,
            _restarter: restarter,
        })
    }

    /// Starts the app and runs its whole lifecycle; returns the report once
    /// the shutdown is over. Errors only if the app could not start.
    ///
    /// ```
    /// # use graceful::hyper::{Response, service::service_fn};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let svc = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
    /// let app = graceful::App::new().server(graceful::Server::new("api", "127.0.0.1:0", svc));
    /// app.handle().shutdown(); // a shutdown requested before the start ends it at once
    /// let report = app.run().await.expect("started");
    /// assert!(report.during_startup);
    /// # }
    /// ```
    pub async fn run(self) -> Result<Report, Error> {
        Ok(self.start().await?.wait().await)
    }

    /// Builds a multi-threaded tokio runtime, runs the lifecycle, and exits
    /// the process with its code (see [`exit_code`](crate::exit_code)).
    ///
    /// Installs a human-readable `tracing` subscriber on standard error
    /// unless one is already set.
    ///
    /// ```no_run
    /// use graceful::hyper::{Response, service::service_fn};
    ///
    /// fn main() {
    ///     let svc = service_fn(|_req: graceful::Request| async {
    ///         Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
    ///     });
    ///     graceful::App::new()
    ///         .server(graceful::Server::new("api", "127.0.0.1:8080", svc))
    ///         .run_blocking()
    /// }
    /// ```
    pub fn run_blocking(self) -> ! {
        crate::logging::install_default();
        let (shutdown, restart) = self.configured_signals();
        let signals = (shutdown.to_vec(), restart.to_vec());
        let lifecycle = Arc::clone(&self.lifecycle);
        run_to_exit(signals, &lifecycle, |sentinel| {
            self.owning_process(sentinel).run()
        })
    }
}
