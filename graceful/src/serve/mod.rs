//! Serving: binding the listeners, accepting connections, and handing each to
//! hyper (HTTP/1.1 with keep-alive, and HTTP/2) through hyper-util.
//!
//! - [`Server`] (`server`) and what it serves (`http_service`);
//! - before serving: `bind` (validate, resolve, bind or adopt), `listen`
//!   (TCP and Unix listeners), `handshakes` (the close that resets nothing);
//! - serving: `accept`, `conn` (one connection), `protocol` (HTTP/1 and
//!   HTTP/2, and the executor of HTTP/2 streams), `io`, `service` (each
//!   request counted), `answers` (what we answer ourselves), [`accounts`]
//!   (the books every request is kept in);
//! - what handlers meet: `router`, `response`, `stream`.
//!
//! TLS goes beside the protocols (`tls`); gRPC beside the router (`grpc`,
//! with its health service); metrics beside the accounts.

mod accept;
pub(crate) mod accounts;
#[cfg(feature = "prometheus")]
pub(crate) mod admin;
mod answers;
mod bind;
mod conn;
#[cfg(feature = "prometheus")]
pub(crate) mod exposition;
#[cfg(feature = "grpc")]
mod grpc;
mod handshakes;
pub(crate) mod http_service;
mod io;
pub(crate) mod listen;
mod protocol;
pub(crate) mod response;
pub(crate) mod router;
pub(crate) mod server;
mod service;
pub(crate) mod stream;
#[cfg(feature = "tls")]
pub(crate) mod tls;
#[cfg(not(feature = "tls"))]
#[path = "tls/off.rs"]
pub(crate) mod tls;

pub(crate) use bind::{Bound, bind_all, validate};
#[cfg(feature = "grpc")]
pub use grpc::Grpc;
#[cfg(feature = "tower")]
pub use http_service::TowerService;
pub use http_service::{HttpService, Request};
pub use server::Server;
#[cfg(feature = "tls")]
pub use tls::Tls;
