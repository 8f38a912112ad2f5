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
//! ```no_run
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use graceful::{App, Callback, Request, Server, ShutdownContext};
//! use graceful::hyper::{Response, service::service_fn};
//!
//! async fn hello(_req: Request) -> Result<Response<String>, Infallible> {
//!     Ok(Response::new("hello world".into()))
//! }
//!
//! async fn flush_cache(ctx: ShutdownContext) -> Result<(), String> {
//!     tokio::select! {
//!         _ = ctx.cancelled() => Err("cache not flushed in time".into()),
//!         _ = tokio::time::sleep(Duration::from_millis(100)) => Ok(()),
//!     }
//! }
//!
//! fn main() {
//!     App::new()
//!         .server(Server::new("service1", "127.0.0.1:8081", service_fn(hello)))
//!         .on_shutdown(Callback::new("flush-cache", flush_cache).timeout(Duration::from_secs(3)))
//!         .health_path("/healthz")
//!         .run_blocking()
//! }
//! ```
//!
//! See [`App`] for the lifecycle, [`config`] for every setting and its
//! environment variable, and [`exit_code`] for what the process returns.
//!
//! # Modules
//!
//! - [`config`]: defaults, duration parsing, environment variables.
//! - [`exit_code`]: the documented exit codes.
//! - Signals ([`Signal`]), serving ([`Server`]), draining, callbacks
//!   ([`Callback`], [`ShutdownContext`]) and the report ([`Report`]) are
//!   private modules whose public types are re-exported here.

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub, missing_debug_implementations)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod app;
mod callbacks;
pub mod config;
mod drain;
mod error;
mod handle;
mod registry;
mod report;
mod response;
mod serve;
mod signals;

#[doc(hidden)]
pub mod __private;

pub use app::{App, Running};
pub use callbacks::{CALLBACK_WIND_DOWN, Callback, CallbackResult, ShutdownContext};
pub use error::{BoxError, Error};
pub use handle::{ShutdownHandle, Trigger};
pub use registry::shutdown_handle;
pub use report::{
    CallbackOutcome, CallbackReport, ForcedBy, OpenRequest, PhaseReport, Report, ServerReport,
    exit_code,
};
pub use response::{Body, IntoBody, IntoResponse};
pub use serve::Server;

pub use graceful_macros::{main, on_shutdown, server};
pub use signals::Signal;

/// hyper, re-exported so that handlers need no version of their own.
pub use hyper;

/// The request a handler receives.
pub type Request<B = hyper::body::Incoming> = hyper::Request<B>;
