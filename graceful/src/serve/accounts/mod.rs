//! In-flight accounting: what every server and connection is doing.
//!
//! This is the hot path. A request costs one counter increment when its
//! handler starts and one when its response body ends or is dropped, each on
//! the stripe of the thread that runs it (see `tally`: no cache line is
//! written by two threads); one increment and one decrement on its
//! connection (plain loads and stores for HTTP/1, whose connection is only
//! touched by its own task); one reference count; two reads of the coarse
//! clock (the request's age and the connection's last activity; see
//! `clock`); and, for HTTP/1, a copy of the path's first 32 bytes into the
//! connection. No lock, no allocation (an HTTP/2 request boxes its name).
//! The lists that name requests are only written once the drain deadline has
//! passed.
//!
//! The parts, from the bottom: `tally` (the per-thread counters), `roster`
//! (the lists walked at the deadline), `names` (what a request is called in
//! the report), `cut` (the moments that cut off); then `server`, a server's
//! books, which know a connection only as an [`OpenConnection`]; then
//! `connection`, which points at its server's books; and `request`, whose
//! guard updates a connection and its books. Metrics go beside the
//! accounts, fed from the same counters.

mod connection;
mod cut;
#[cfg(feature = "metrics")]
pub(crate) mod durations;
mod names;
mod request;
mod roster;
mod server;
mod tally;

pub(crate) use connection::ConnState;
pub(crate) use cut::Cut;
pub(crate) use names::Streams;
pub(crate) use request::{Refusal, RequestGuard};
pub(crate) use roster::Roster;
pub(crate) use server::{OpenConnection, ServerShared};
