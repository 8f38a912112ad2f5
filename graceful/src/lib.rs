//! Correct, fast, observable graceful shutdown for HTTP services.
//!
//! `graceful` runs your hyper services and, when the orchestrator says stop,
//! shuts them down without losing a request: it stops being ready, refuses
//! new work with a retryable `503`, drains the requests in flight (counted,
//! never slept), runs your shutdown callbacks under their timeouts, reports
//! what happened and exits with a meaningful code.
//!
//! # Quick start
//!
//! A whole program is attributes on ordinary functions; the state they share
//! is built in `main`'s body and asked for by type with [`State`]:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use graceful::{Request, ShutdownContext, State};
//!
//! #[derive(Default)]
//! struct Visits(AtomicU64);
//!
//! #[graceful::server(name = "service1", addr = "127.0.0.1:8081")]
//! async fn hello(_req: Request, visits: State<Arc<Visits>>) -> &'static str {
//!     visits.0.0.fetch_add(1, Ordering::Relaxed);
//!     "hello world"
//! }
//!
//! #[graceful::on_shutdown(timeout = "3s")]
//! async fn save(ctx: ShutdownContext, visits: State<Arc<Visits>>) -> Result<(), String> {
//!     let count = visits.0.0.load(Ordering::Relaxed);
//!     tokio::select! {
//!         _ = ctx.cancelled() => Err(format!("{count} visits not saved in time")),
//!         _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => Ok(()),
//!     }
//! }
//!
//! #[graceful::main]
//! async fn main() {
//!     // Runs first (signals are already handled): logging, then shared state.
//!     graceful::provide(Arc::new(Visits::default()));
//! }
//! ```
//!
//! # Shared state: [`provide`] and [`State`]
//!
//! `main`'s body runs before anything is assembled; what it hands over with
//! [`provide`] reaches every handler, router function and shutdown callback
//! that takes a `State<T>` parameter of that type. It is looked up once, at
//! assembly: a state nobody provided is a start-up error naming the type and
//! the function, never a panic. A function returning an `axum::Router` takes
//! it too, and passes it on with `with_state`.
//!
//! # Handlers: `#[graceful::server]`
//!
//! - `name` (default: the function's name) and `addr` (`ip:port`, or
//!   `host:port` resolved at start-up; checked at compile time; overridden at
//!   run time by `GRACEFUL_ADDR_<NAME>`).
//! - An `async fn` taking [`Request`] and, optionally, a [`ShutdownHandle`]
//!   and [`State`]s,
//!   returning anything in [`IntoResponse`]: `&'static str`, `String`,
//!   `(StatusCode, String)`, `Response<B>`, `Result<T, E>` where an error is
//!   logged and answered `500`.
//! - Several functions can share one server with `path = "/..."`, like Go's
//!   `ServeMux`: a path is exact, a path ending in `/` serves its subtree, a
//!   function without `path` serves every other path; unmatched paths answer
//!   `404`. Give `addr` once per server.
//! - With the `tower` feature, a plain `fn` returning an `axum::Router` (any
//!   `tower::Service`) serves the whole server, routing and middleware kept.
//! - With the `grpc` feature, a plain `fn` returning a `Grpc` (tonic's
//!   services, added with `add_service`) serves gRPC over HTTP/2, with the
//!   health protocol built in.
//! - With the `tls` feature, `tls_cert = "..."` and `tls_key = "..."` (PEM
//!   files, given with `addr`) make the server serve TLS (see `Tls`);
//!   `GRACEFUL_TLS_CERT_<NAME>` and `GRACEFUL_TLS_KEY_<NAME>` override them.
//!   Without the feature, the attribute does not compile.
//!
//! ```no_run
//! use graceful::hyper::StatusCode;
//! use graceful::{Request, ShutdownHandle};
//!
//! #[graceful::server(name = "api", addr = "127.0.0.1:8080", path = "/users")]
//! async fn users(_req: Request) -> Result<String, std::io::Error> {
//!     Ok("[]".into())
//! }
//!
//! #[graceful::server(name = "api", path = "/admin/shutdown")]
//! async fn shutdown(_req: Request, handle: ShutdownHandle) -> StatusCode {
//!     handle.shutdown();
//!     StatusCode::ACCEPTED
//! }
//! # #[graceful::main] async fn main() {}
//! ```
//!
//! # Callbacks: `#[graceful::on_shutdown]`
//!
//! An `async fn` taking a [`ShutdownContext`] (or nothing) and [`State`]s,
//! returning `()` or `Result<(), E>` with `E: Display`. `timeout` (default 3 s) and `phase`
//! (default 0; lower phases finish before higher ones start) are optional.
//!
//! ```no_run
//! #[graceful::on_shutdown(phase = 1, timeout = "500ms")]
//! async fn close_database() {}
//! # #[graceful::main] async fn main() {}
//! ```
//!
//! # Background tasks: `#[graceful::task]`
//!
//! A queue consumer, an outbox relay, a cache refresher: an `async fn`
//! taking a [`TaskContext`] (or nothing) and [`State`]s, started before the
//! listeners serve and told to stop at its moment ([`When`]): once every
//! server has drained (`stop = "drained"`, the default, for work the
//! handlers feed), or at the first signal (`stop = "signal"`, for work
//! pulled from outside); `phase` orders the tasks of one moment. Told, it
//! has its `timeout` (or `task_timeout`) to return; then
//! [`TaskContext::cancelled`] fires, and it is aborted after the
//! wind-down. A task that fails or panics while the app runs starts the
//! shutdown, and the exit code is 5 ([`exit_code::APP_FAILED`]). The
//! builder's form is [`Task`].
//!
//! ```no_run
//! # use graceful::TaskContext;
//! # async fn next_job() {}
//! #[graceful::task(stop = "drained", timeout = "10s")]
//! async fn consume(ctx: TaskContext) -> Result<(), std::io::Error> {
//!     loop {
//!         tokio::select! {
//!             () = ctx.stopping() => return Ok(()),
//!             () = next_job() => { /* handle it */ }
//!         }
//!     }
//! }
//! # #[graceful::main] async fn main() {}
//! ```
//!
//! # `#[graceful::main]`
//!
//! On `async fn main()`, returning `()` or `Result<(), E>`; an error aborts the
//! start with exit code 2. Its optional arguments are the settings of
//! [`config`], each written as a string (`drain_timeout = "10s"`,
//! `signals = "TERM, INT"`, `health_path = "/healthz"`), checked at compile
//! time, and applied as the [`App`] method of the same name; the environment
//! overrides them all. No registered server is a start-up error. The body can reach
//! the app through [`shutdown_handle`]. `on_report = export` gives the final
//! [`Report`] to `fn export(&Report)` before the exit ([`App::on_report`]).
//!
//! ```no_run
//! # #[graceful::server(addr = "127.0.0.1:8080")] async fn api() -> &'static str { "" }
//! #[graceful::main(drain_timeout = "20s", health_path = "/healthz")]
//! async fn main() -> Result<(), std::io::Error> {
//!     tokio::spawn(async {
//!         if graceful::shutdown_handle().ready().await {
//!             tracing::info!("serving");
//!         }
//!     });
//!     Ok(())
//! }
//! ```
//!
//! # Bounded, whatever the code does
//!
//! The signals and `shutdown_timeout` belong to a sentinel thread that needs
//! nothing from the tokio runtime: every delivered signal counts, and if a
//! forced exit gets no answer from a runtime stalled by blocking code, the
//! sentinel reports what it can read and ends the process (with
//! [`App::run_blocking`] or `#[graceful::main]`). After the report the process
//! exits at once, without waiting for blocking threads; the report names the
//! work it abandons ([`Abandoned`]).
//!
//! # Upgraded connections and streams
//!
//! A WebSocket (any `101 Switching Protocols`) is counted, held in the drain
//! and cut off at the drain deadline like a request. The upgrade request
//! carries the [`ShutdownHandle`] in its extensions, so the socket's task
//! can say goodbye at the first signal; [`EndOnShutdown`] ends a streaming
//! body there.
//!
//! ```
//! use graceful::{Request, ShutdownHandle};
//!
//! fn on_upgrade(req: &Request) -> Option<ShutdownHandle> {
//!     req.extensions().get::<ShutdownHandle>().cloned()
//! }
//! # let _ = on_upgrade;
//! ```
//!
//! # Registering from a library crate
//!
//! Registrations are collected with `inventory` from every crate linked into
//! the binary. A library the binary never refers to is not linked at all, and
//! its registrations are lost with it ("no server is registered"). Refer to it
//! once in the binary:
//!
//! ```ignore
//! use my_library as _; // links the library's servers and callbacks
//!
//! #[graceful::main]
//! async fn main() {}
//! ```
//!
//! A `crate = path` argument serves users who renamed the dependency:
//! `#[g::server(addr = "...", crate = g)]` after `use graceful as g;`.
//!
//! # Without attributes
//!
//! Everything the attributes do is ordinary API: [`App`], [`Server`],
//! [`Callback`]. See [`App`] for the lifecycle, [`config`] for every setting
//! and its environment variable, [`exit_code`] for what the process returns.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use graceful::{App, Callback, Request, Server};
//! use graceful::hyper::{Response, service::service_fn};
//!
//! async fn hello(_req: Request) -> Result<Response<String>, Infallible> {
//!     Ok(Response::new("hello world".into()))
//! }
//!
//! fn main() {
//!     App::new()
//!         .server(Server::new("service1", "127.0.0.1:8081", service_fn(hello)))
//!         .on_shutdown(Callback::new("flush-cache", |_ctx| async { /* save */ }))
//!         .run_blocking()
//! }
//! ```
//!
//! # Under a service manager
//!
//! Nothing to write: with systemd's `NOTIFY_SOCKET`, the app says `READY=1`
//! once it serves, `STOPPING=1` at the signal, its progress in `STATUS=`
//! lines, asks for more stop time within its `shutdown_timeout`, and pets
//! the watchdog while the runtime runs. With listeners passed by a socket
//! unit (`LISTEN_FDS`), each server takes the one named like it, or they go
//! in declaration order; a mismatch is an [`ActivationError`] at start-up.
//! `SIGUSR2` or [`ShutdownHandle::restart`] restarts without refusing a
//! connection: a successor takes the listeners, and once it serves, this
//! process shuts down gracefully. README.md, "Deploying", has units that work
//! as written.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tower` | off | serve any `tower::Service`, such as an `axum::Router`: `Server::from_tower`, or a `#[graceful::server]` `fn` returning one (`TowerService`) |
//! | `tls` | off | terminate TLS: `Server::tls` with `Tls::from_pem_files` or a `rustls::ServerConfig` of your own (rustls, the `ring` provider given explicitly), ALPN `h2` and `http/1.1`, handshakes bounded by `tls_handshake_timeout` and `tls_max_handshakes` |
//! | `grpc` | off | serve tonic's services: `Server::grpc`, or a `#[graceful::server]` `fn` returning a `Grpc`; the health protocol (`grpc.health.v1`, tonic-health) answered from the lifecycle, `UNAVAILABLE` for an RPC refused in the drain, a `ShutdownHandle` in every request's extensions |
//! | `metrics` | off | the figures of the report, live, through the `metrics` facade to the recorder the app installs: requests in flight and by outcome, connections, the lifecycle's phase and each phase's duration, signals, restarts (the `graceful::metrics` module lists them) |
//! | `prometheus` | off | `metrics`, served in Prometheus' text format at the `metrics_path` on every server, through the pre-stop window and the drain (`metrics-exporter-prometheus`) |
//! | `tls-aws-lc-rs` | off | `tls` with the `aws-lc-rs` provider instead of `ring` (FIPS-capable; its first build takes minutes) |
//!
//! Without a feature, the build is hyper and tokio, and nothing else of the
//! HTTP ecosystem.
//!
//! # Modules
//!
//! Public: [`config`] (every setting, its default and its environment
//! variable) and [`exit_code`] (what the process returns). The rest are
//! private, their public types re-exported here, in four parts:
//!
//! - `app`: the builder ([`App`]), the registry of the attributes
//!   ([`App::registered`]), shared state ([`State`], [`provide`]), and the
//!   conductors of the start and of the shutdown ([`Running`]);
//! - `lifecycle`: phases and triggers ([`Trigger`]), signals ([`Signal`]),
//!   the sentinel thread that bounds the exit, the handle
//!   ([`ShutdownHandle`]), shutdown callbacks ([`Callback`],
//!   [`ShutdownContext`]), background tasks ([`Task`], [`TaskContext`]),
//!   and the report ([`Report`]);
//! - `serve`: servers ([`Server`]), binding and accepting, connections and
//!   their protocols, the accounts every request is counted in, the router
//!   and the responses ([`IntoResponse`]);
//! - `system`: the operating system and its service manager: socket
//!   activation, the notify protocol, restarts by listener handoff, and
//!   the supervision where the last two meet while the app runs.

// `unsafe` is allowed item by item, each block with its SAFETY comment, for
// what the operating system offers no safe wrapper of: adopting the
// descriptors the service manager passed (`activation::adopt`); starting a
// restart's successor without allocating between fork and exec
// (`restart::launch`); a listener's flags and accept timeout
// (`restart::keep_non_blocking`, `restart::bound_accepts`); and when the
// kernel last received data on a connection (`TCP_INFO`,
// `serve::accounts::connection`).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
#![deny(missing_docs, unreachable_pub, missing_debug_implementations)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod addr;
mod app;
pub mod config;
mod error;
pub mod exit_code;
mod hook;
mod lifecycle;
mod logging;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
mod serve;
mod site;
mod system;

#[doc(hidden)]
pub mod __private;

pub use addr::ListenAddr;
pub use app::App;
pub use app::registry::shutdown_handle;
pub use app::shutdown::Running;
pub use app::state::{State, provide};
pub use error::ActivationError;
pub use error::{BoxError, Error, Problem};
pub use hook::HookResult;
pub use lifecycle::callbacks::{CALLBACK_WIND_DOWN, Callback, ShutdownContext};
pub use lifecycle::handle::ShutdownHandle;
pub use lifecycle::report::{
    Abandoned, CallbackOutcome, CallbackReport, OpenRequest, PhaseReport, Report, ServerReport,
    ShutdownPhase, TaskOutcome, TaskReport, TriggerAt,
};
pub use lifecycle::signals::Signal;
pub use lifecycle::tasks::{Task, TaskContext};
pub use lifecycle::{ForcedBy, Trigger};
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub use serve::Grpc;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use serve::Tls;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use serve::TowerService;
pub use serve::response::{Body, IntoBody, IntoResponse};
pub use serve::stream::EndOnShutdown;
pub use serve::{HttpService, Request, Server};
pub use site::Site;

pub use graceful_values::When;

pub use graceful_macros::{main, on_shutdown, server, task};

/// hyper, re-exported so that handlers need no version of their own.
pub use hyper;
/// tonic, re-exported so that a gRPC server's services and graceful agree on
/// its version.
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub use tonic;
