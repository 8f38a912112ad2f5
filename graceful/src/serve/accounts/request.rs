//! One request's accounting: from its handler's start until its response
//! body has ended or been dropped (served, drained, cut off, disconnected or
//! panicked), and a refusal's, until its 503 is sent.

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use http::Method;

use super::roster::Roster;
use super::tally::{Stripe, Tally};
use super::{ConnState, Cut, log_cut_off};
use crate::lifecycle::Phase;
use crate::lifecycle::report::OpenRequest;

/// A refused request's accounting: `refused` once its 503 has been sent in
/// full; `disconnected` if the client went away before.
pub(crate) struct Refusal(Cell<Option<Arc<ConnState>>>);

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusal").finish_non_exhaustive()
    }
}

impl Refusal {
    pub(super) fn new(conn: Arc<ConnState>) -> Self {
        Refusal(Cell::new(Some(conn)))
    }

    /// The 503 was sent in full.
    pub(crate) fn sent(&self) {
        if let Some(conn) = self.0.take() {
            conn.server
                .stats
                .requests
                .mine()
                .refused
                .fetch_add(1, Relaxed);
        }
    }
}

impl Drop for Refusal {
    fn drop(&mut self) {
        if let Some(conn) = self.0.get_mut().take() {
            conn.server
                .stats
                .requests
                .mine()
                .disconnected
                .fetch_add(1, Relaxed);
        }
    }
}

/// Accounts for one request, from its handler's start until its response body
/// has ended or been dropped. Moves from the handler's future into the body,
/// so it is kept small: an HTTP/1 connection serves one request at a time,
/// whose name (for the cut-off report) is kept in the connection instead.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    conn: Arc<ConnState>,
    /// The request's name, for HTTP/2, where a connection serves many at
    /// once; its connection's task keeps it on a roster (see `roster`).
    own_name: Option<Arc<StreamName>>,
    end: Cell<End>,
    /// The stripe its start was counted on, where its end is counted too.
    stripe: u8,
}

/// How a request ended, as far as its guard knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Not yet: dropped like this, it was cut off or its client went away.
    Open,
    /// Its response was sent in full.
    Finished,
    /// Its handler panicked.
    Panicked,
}

/// The name of an HTTP/2 stream's request.
#[derive(Debug)]
pub(crate) struct StreamName {
    method: Method,
    path: String,
    /// A [`Clock`](crate::lifecycle::clock::Clock) stamp.
    started: u64,
}

impl StreamName {
    /// The request's name in the report, at `now`.
    pub(super) fn named(&self, server: &str, now: u64) -> OpenRequest {
        OpenRequest {
            server: server.to_owned(),
            method: Some(self.method.clone()),
            path: self.path.clone(),
            age: Duration::from_nanos(now.saturating_sub(self.started)),
        }
    }
}

/// The names of an HTTP/2 connection's streams, kept by its task, which
/// alone enters them; handed in to the connection when the task ends (see
/// [`ConnState::hand_in_streams`]).
#[derive(Debug, Default)]
/// Made at the first HTTP/2 request: an HTTP/1 connection carries one
/// pointer's room of it.
pub(crate) struct Streams(OnceCell<Box<RefCell<Roster<StreamName>>>>);

impl Streams {
    /// Enters a stream's name.
    fn enter(&self, name: &Arc<StreamName>) {
        self.0.get_or_init(Box::default).borrow_mut().enter(name);
    }

    /// The roster, for the connection to keep once its task has ended.
    pub(crate) fn take(&mut self) -> Option<Roster<StreamName>> {
        self.0.take().map(|roster| roster.into_inner())
    }
}

/// The name of an HTTP/1 connection's current request: its method, the
/// start of its path and its start time, in plain relaxed stores (no
/// allocation, no shared reference count, no lock).
#[derive(Debug, Default)]
pub(crate) struct CurrentRequest {
    pub(super) started: AtomicU64,
    method: AtomicU8,
    /// Path bytes, little-endian, and their count (the high bit: truncated).
    path: [AtomicU64; PATH_WORDS],
    path_len: AtomicU8,
}

const PATH_WORDS: usize = 4;
const PATH_BYTES: usize = PATH_WORDS * 8;
const TRUNCATED: u8 = 0x80;

/// The methods a request name records by index; 0 stands for any other.
const METHODS: [Method; 9] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::CONNECT,
    Method::TRACE,
];

impl CurrentRequest {
    #[inline]
    fn record(&self, method: &Method, path: &str, started: u64) {
        let mut len = path.len().min(PATH_BYTES);
        while !path.is_char_boundary(len) {
            len -= 1;
        }
        // One copy of a fixed size, then whole words.
        let mut bytes = [0u8; PATH_BYTES];
        bytes[..len].copy_from_slice(&path.as_bytes()[..len]);
        for (word, chunk) in self.path.iter().zip(bytes.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk);
            word.store(u64::from_le_bytes(le), Relaxed);
        }
        let truncated = if len < path.len() { TRUNCATED } else { 0 };
        self.path_len.store(len as u8 | truncated, Relaxed);
        let index = METHODS
            .iter()
            .position(|m| m == method)
            .map_or(0, |i| i + 1);
        self.method.store(index as u8, Relaxed);
        self.started.store(started, Relaxed);
    }

    fn method(&self) -> Option<Method> {
        match usize::from(self.method.load(Relaxed)) {
            0 => None,
            i => METHODS.get(i - 1).cloned(),
        }
    }

    /// The request's name in the report, at `now`.
    pub(super) fn named(&self, server: &str, now: u64) -> OpenRequest {
        OpenRequest {
            server: server.to_owned(),
            method: self.method(),
            path: self.path(),
            age: Duration::from_nanos(now.saturating_sub(self.started.load(Relaxed))),
        }
    }

    fn path(&self) -> String {
        let mut bytes = [0u8; PATH_BYTES];
        for (i, word) in self.path.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&word.load(Relaxed).to_le_bytes());
        }
        let len = self.path_len.load(Relaxed);
        let mut path =
            String::from_utf8_lossy(&bytes[..usize::from(len & !TRUNCATED)]).into_owned();
        if len & TRUNCATED != 0 {
            path.push('…');
        }
        path
    }
}

impl RequestGuard {
    /// Counts a request in; an HTTP/2 one is named on its connection's
    /// `streams`.
    #[inline]
    pub(crate) fn start<B>(
        conn: &Arc<ConnState>,
        req: &http::Request<B>,
        h1: bool,
        streams: &Streams,
    ) -> Self {
        let stripe = Tally::my_stripe();
        let requests = &conn.server.stats.requests;
        requests.stripe(stripe).started.fetch_add(1, Relaxed);
        conn.add_in_flight(h1, 1);
        let own_name = if h1 {
            let started = conn.lifecycle().clock.now();
            conn.current.record(req.method(), req.uri().path(), started);
            None
        } else {
            let name = Arc::new(StreamName {
                method: req.method().clone(),
                path: req.uri().path().to_owned(),
                started: conn.lifecycle().clock.now(),
            });
            streams.enter(&name);
            Some(name)
        };
        RequestGuard {
            conn: Arc::clone(conn),
            own_name,
            end: Cell::new(End::Open),
            stripe,
        }
    }

    /// The request's connection.
    pub(crate) fn conn(&self) -> &ConnState {
        &self.conn
    }

    /// Whether the request came over HTTP/1 (whose connection keeps its name).
    #[inline]
    pub(crate) fn is_h1(&self) -> bool {
        self.own_name.is_none()
    }

    /// The lifecycle's phase, as this request sees it.
    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        self.conn.lifecycle().phase()
    }

    /// The response was sent in full (or the handler failed: hyper closes
    /// the connection then, which is the handler's own answer).
    #[inline]
    pub(crate) fn finish(&self) {
        if self.end.get() == End::Open {
            self.end.set(End::Finished);
        }
    }

    /// The handler (or its response body) panicked: logged here, counted
    /// as `panicked` when the guard drops.
    #[cold]
    pub(crate) fn panicked(&self, payload: &(dyn std::any::Any + Send)) {
        self.end.set(End::Panicked);
        let request = self.name(self.conn.lifecycle().clock.now());
        let message = crate::error::panic_message(payload);
        tracing::error!(
            server = %request.server,
            method = request.method_name(),
            path = %request.path,
            panic = message,
            "handler panicked"
        );
    }

    /// The request's name, for the cut-off report.
    fn name(&self, now: u64) -> OpenRequest {
        let conn = &*self.conn;
        match &self.own_name {
            Some(own) => own.named(&conn.server.name, now),
            None => conn.current.named(&conn.server.name, now),
        }
    }
}

impl Drop for RequestGuard {
    #[inline]
    fn drop(&mut self) {
        let conn = &*self.conn;
        let server = &*conn.server;
        let lifecycle = &*server.lifecycle;
        let phase = lifecycle.phase();
        let now = lifecycle.clock.now();
        let mine = server.stats.requests.stripe(self.stripe);
        let counter = match self.end.get() {
            End::Finished if phase == Phase::Running => &mine.served,
            End::Finished => &mine.drained,
            End::Panicked => &mine.panicked,
            End::Open => self.cut(phase, now, mine),
        };
        conn.last_active.store(now, Relaxed);
        conn.add_in_flight(self.is_h1(), -1);
        counter.fetch_add(1, Relaxed);
        if phase != Phase::Running {
            conn.notify.notify_one();
        }
    }
}

impl RequestGuard {
    /// The counter of a request that ended without its response: cut off at
    /// the drain deadline (named in the report), or its client went away.
    fn cut<'a>(&self, phase: Phase, now: u64, mine: &'a Stripe) -> &'a AtomicU64 {
        let server = &*self.conn.server;
        if phase == Phase::CutOff {
            let request = self.name(now);
            log_cut_off("request", &request, &server.lifecycle, Cut::DrainDeadline);
            server
                .cut_off
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(request);
            &mine.cut_off
        } else {
            &mine.disconnected
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_current_request_keeps_its_method_and_the_start_of_its_path() {
        let current = CurrentRequest::default();
        current.record(&Method::PATCH, "/users/42", 7);
        assert_eq!(
            (current.method(), current.path()),
            (Some(Method::PATCH), "/users/42".to_owned())
        );
        assert_eq!(current.started.load(Relaxed), 7);

        let long = format!("/{}", "é".repeat(40));
        current.record(&Method::from_bytes(b"PURGE").unwrap(), &long, 9);
        let path = current.path();
        assert!(
            path.ends_with('…') && long.starts_with(path.trim_end_matches('…')),
            "{path}"
        );
        assert_eq!(current.method(), None);
    }
}
