//! The app: servers and callbacks assembled, and the lifecycle that runs them.

pub(crate) mod books;
#[cfg(feature = "metrics")]
mod metrics;
pub(crate) mod one_shot;
pub(crate) mod params;
pub(crate) mod process;
pub(crate) mod registry;
mod settings;
pub(crate) mod shutdown;
mod start;
pub(crate) mod state;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::lifecycle::callbacks::Callback;
use crate::lifecycle::tasks::Task;

use crate::app::shutdown::Running;
use crate::config::{self, Config};
use crate::error::{BoxError, Error};
use crate::lifecycle::handle::ShutdownHandle;
use crate::lifecycle::report::{Report, ReportHook};
use crate::lifecycle::sentinel::Sentinel;
use crate::lifecycle::signals::Signal;
use crate::serve::Server;
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
    tasks: Vec<Task>,
    startup: Option<Startup>,
    report_hook: Option<ReportHook>,
    /// The app's lifecycle, and where its restarts are asked for.
    handle: ShutdownHandle,
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
            .field("tasks", &self.tasks)
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
        App::with_handle(ShutdownHandle::new())
    }

    pub(crate) fn with_handle(handle: ShutdownHandle) -> Self {
        // What the process was started as, before `main`'s body can change
        // its directory or start a helper that would inherit the listeners.
        crate::system::restart::capture();
        App {
            config: Config::default(),
            servers: Vec::new(),
            callbacks: Vec::new(),
            tasks: Vec::new(),
            startup: None,
            report_hook: None,
            handle,
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

    /// Adds a background task: started before the listeners serve, told to
    /// stop at its moment, and bounded by its stop budget (see [`Task`]).
    /// Every call adds one.
    ///
    /// ```
    /// use graceful::{Task, When};
    ///
    /// let app = graceful::App::new()
    ///     .task(Task::new("consume", |ctx| async move { ctx.stopping().await }).stop(When::Signal))
    ///     .task(Task::new("relay", |ctx| async move { ctx.stopping().await }));
    /// # drop(app);
    /// ```
    pub fn task(mut self, task: Task) -> Self {
        self.tasks.push(task);
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

    /// Gives the final [`Report`] to `hook` before the process exits, to
    /// export it (a file, a message, a metrics push). Under
    /// `#[graceful::main]`, name the function: `#[graceful::main(on_report =
    /// export)]`.
    ///
    /// The hook runs once the report is logged, on a thread of its own (it
    /// may block), and is waited for at most `callback_timeout`, and never
    /// past `shutdown_timeout` counted from the first signal: one that has
    /// not returned by then is left behind and the process exits. It does
    /// not run after a forced exit (the exit was told to be now), nor if the
    /// app could not start (there is no report). A panic in it is logged;
    /// the exit code stays the report's.
    ///
    /// ```
    /// let app = graceful::App::new().on_report(|report: &graceful::Report| {
    ///     eprintln!("shutdown over: exit code {}", report.exit_code().code());
    /// });
    /// # drop(app);
    /// ```
    pub fn on_report<F>(mut self, hook: F) -> Self
    where
        F: FnOnce(&Report) + Send + 'static,
    {
        self.report_hook = Some(ReportHook::new(hook));
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
        self.handle.clone()
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
        let handle = self.handle();
        run_to_exit(signals, &handle, |sentinel| {
            self.owning_process(sentinel).run()
        })
    }
}
