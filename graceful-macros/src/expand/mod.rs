//! The generated code. It reaches the runtime only through
//! `<crate>::__private` (and the public `Request`, `ShutdownHandle`,
//! `ShutdownContext`, `TaskContext`, `Server`, `Signal`), so users never depend on
//! `inventory` themselves.
//!
//! - `parts`: what every expansion uses;
//! - `server`: `#[graceful::server]`, a handler or a service;
//! - `one_shot`: `#[graceful::on_shutdown]` and `#[graceful::task]`;
//! - `main`: `#[graceful::main]`.

mod main;
mod one_shot;
mod parts;
mod server;

pub(crate) use main::main;
pub(crate) use one_shot::{callback, task};
pub(crate) use server::{handler, service};
