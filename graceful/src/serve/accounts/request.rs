//! One request's accounting: from its handler's start until its response
//! body has ended or been dropped (served, drained, cut off, disconnected or
//! panicked), and a refusal's, until its 503 is sent.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::connection::ConnState;
use super::cut::{Cut, log_cut_off};
use super::names::{StreamName, Streams};
use super::tally::{Stripe, Tally};
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
    /// Counts a refusal in: in flight until its 503 is sent.
    pub(crate) fn start(conn: &Arc<ConnState>) -> Self {
        conn.server
            .stats
            .requests
            .mine()
            .started
            .fetch_add(1, Relaxed);
        Refusal(Cell::new(Some(Arc::clone(conn))))
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
    /// What the duration histogram needs.
    #[cfg(feature = "metrics")]
    timing: Timing,
}

/// A request's start and labels, for the duration histogram.
#[cfg(feature = "metrics")]
#[derive(Debug)]
struct Timing {
    started: std::time::Instant,
    method: u8,
    version: u8,
    /// Its response's status, once the handler has answered (0 before).
    status: Cell<u16>,
    /// The pattern of the route that serves it, if the router said.
    route: Cell<Option<&'static str>>,
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
            let name = Arc::new(StreamName::new(
                req.method().clone(),
                req.uri().path().to_owned(),
                conn.lifecycle().clock.now(),
            ));
            streams.enter(&name);
            Some(name)
        };
        RequestGuard {
            conn: Arc::clone(conn),
            own_name,
            end: Cell::new(End::Open),
            stripe,
            #[cfg(feature = "metrics")]
            timing: Timing {
                started: std::time::Instant::now(),
                method: super::durations::method_number(req.method()),
                version: super::durations::version_number(req.version()),
                status: Cell::new(0),
                route: Cell::new(None),
            },
        }
    }

    /// Takes the route the router has just matched for this request, if
    /// any (see `durations::matched`); returns the guard, so that the
    /// handler's future is still built in place.
    #[inline]
    pub(crate) fn routed(self) -> Self {
        #[cfg(feature = "metrics")]
        self.timing.route.set(super::durations::take_matched());
        self
    }

    /// The handler answered with `status`.
    #[cfg(feature = "metrics")]
    #[inline]
    pub(crate) fn answered(&self, status: http::StatusCode) {
        self.timing.status.set(status.as_u16());
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
        #[cfg(feature = "metrics")]
        self.time(phase);
        conn.last_active.store(now, Relaxed);
        conn.add_in_flight(self.is_h1(), -1);
        counter.fetch_add(1, Relaxed);
        if phase != Phase::Running {
            conn.notify.notify_one();
        }
    }
}

impl RequestGuard {
    /// Adds the request's duration to the histogram, labelled with how it
    /// ended.
    #[cfg(feature = "metrics")]
    #[inline]
    fn time(&self, phase: Phase) {
        use super::durations::{Ended, Request, record};
        let t = &self.timing;
        let ended = match (self.end.get(), t.status.get()) {
            (End::Finished, 0) => Ended::Error("handler_error"),
            (End::Finished, status) => Ended::Status(status),
            (End::Panicked, _) => Ended::Error("panicked"),
            (End::Open, _) if phase == Phase::CutOff => Ended::Error("cut_off"),
            (End::Open, _) => Ended::Error("disconnected"),
        };
        let request = Request {
            method: t.method,
            version: t.version,
            route: t.route.get(),
        };
        record(&self.conn.server.name, request, ended, t.started.elapsed());
    }

    /// The counter of a request that ended without its response: cut off at
    /// the drain deadline (named in the report), or its client went away.
    fn cut<'a>(&self, phase: Phase, now: u64, mine: &'a Stripe) -> &'a AtomicU64 {
        let server = &*self.conn.server;
        if phase == Phase::CutOff {
            let request = self.name(now);
            log_cut_off("request", &request, &server.lifecycle, Cut::DrainDeadline);
            server.record_cut_off(request);
            &mine.cut_off
        } else {
            &mine.disconnected
        }
    }
}
