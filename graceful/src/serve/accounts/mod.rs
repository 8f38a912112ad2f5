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
//! A server's books ([`ServerShared`], here), a connection's state
//! (`connection`) and a request's guard (`request`) refer to each other by
//! nature: a connection points at its server, a server walks its
//! connections at the deadline, a guard updates both. `tally` (the
//! per-thread counters) and `roster` (the list walked at the deadline)
//! stand alone. Metrics go beside the accounts, fed from the same counters.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::addr::ListenAddr;
use crate::lifecycle::Lifecycle;
use crate::lifecycle::report::{OpenRequest, ServerReport};
use crate::system::restart::Sharing;

mod connection;
mod request;
mod roster;
mod tally;

pub(crate) use connection::ConnState;
use connection::IO_CLOSED;
pub(crate) use request::{Refusal, RequestGuard, Streams};
pub(crate) use roster::Roster;
use tally::Tally;

/// What every connection of one server shares.
#[derive(Debug)]
pub(crate) struct ServerShared {
    pub(crate) name: Arc<str>,
    pub(crate) addr: ListenAddr,
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) read_grace: Duration,
    pub(crate) header_grace: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) health_path: Option<Box<str>>,
    /// Whether the service manager holds its listener too (see
    /// `activation`), and keeps it once this process is gone.
    pub(crate) managed: bool,
    /// What a restart shares of the listeners (see `restart`).
    pub(crate) sharing: Arc<Sharing>,
    /// Connection tasks and HTTP/2 stream tasks: the drain waits for it to empty.
    pub(crate) tasks: TaskTracker,
    pub(crate) stats: Stats,
    cut_off: Mutex<Vec<OpenRequest>>,
    /// Upgraded connections still open, each holding the drain open.
    upgraded: Mutex<Vec<Upgraded>>,
    /// Every connection the accept loop spawned, handed in once the
    /// listener closed: the report names what is still running.
    connections: OnceLock<Roster<ConnState>>,
}

/// Which moment cuts requests and upgraded connections off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The drain deadline, or a forced exit.
    DrainDeadline,
    /// [`App::upgrade_timeout`](crate::App::upgrade_timeout).
    UpgradeDeadline,
    /// The report: the request still runs (its code blocks a thread).
    Report,
}

/// Logs what was cut off, saying which moment cut it.
fn log_cut_off(what: &str, request: &OpenRequest, lifecycle: &Lifecycle, cut: Cut) {
    let forced_by = lifecycle.forced_by().map(ToString::to_string);
    let (cut_at, at) = match (&forced_by, cut) {
        (_, Cut::Report) => ("report", "the report: its code blocks a thread"),
        (Some(_), _) => ("forced-exit", "the forced exit"),
        (None, Cut::UpgradeDeadline) => ("upgrade-deadline", "the upgrade deadline"),
        (None, Cut::DrainDeadline) => ("drain-deadline", "the drain deadline"),
    };
    tracing::warn!(
        cut = what,
        cut_at,
        server = %request.server,
        method = request.method_name(),
        path = %request.path,
        age = ?request.age,
        forced_by,
        "{what} cut off at {at}"
    );
}

/// An upgraded connection on the books: its state, and the token that
/// keeps the drain waiting for it.
#[derive(Debug)]
struct Upgraded {
    conn: Arc<ConnState>,
    _token: TaskTrackerToken,
}

/// A server's counters: those of requests striped by thread (see
/// [`Tally`]), the rest written once per connection at most.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) requests: Tally,
    pub(crate) connections: AtomicU64,
    pub(crate) open_connections: AtomicU64,
    pub(crate) idle_closed: AtomicU64,
    pub(crate) header_timeouts: AtomicU64,
    pub(crate) connections_aborted: AtomicU64,
    pub(crate) upgraded: AtomicU64,
    pub(crate) upgraded_closed: AtomicU64,
    pub(crate) upgraded_cut_off: AtomicU64,
    pub(crate) unanswered: AtomicU64,
}

impl Stats {
    /// Requests whose handler started (or whose refusal was decided) and whose
    /// response has not ended.
    pub(crate) fn in_flight(&self) -> u64 {
        self.requests.counts().in_flight
    }
}

impl ServerShared {
    pub(crate) fn new(
        name: Arc<str>,
        addr: ListenAddr,
        lifecycle: Arc<Lifecycle>,
        read_grace: Duration,
        header_grace: Duration,
        header_read_timeout: Duration,
        health_path: Option<Box<str>>,
    ) -> Self {
        ServerShared {
            name,
            addr,
            lifecycle,
            read_grace,
            header_grace,
            header_read_timeout,
            health_path,
            managed: false,
            sharing: Arc::default(),
            tasks: TaskTracker::new(),
            stats: Stats::default(),
            cut_off: Mutex::new(Vec::new()),
            upgraded: Mutex::new(Vec::new()),
            connections: OnceLock::new(),
        }
    }

    /// Hands in the roster of every connection the accept loop spawned,
    /// once the listener has closed.
    pub(crate) fn hand_in(&self, connections: Roster<ConnState>) {
        let _ = self.connections.set(connections);
    }

    /// Puts a connection that hyper handed over to the app (after a `101`)
    /// on the books: counted, and held in the drain until its socket closes
    /// or the drain deadline cuts it.
    #[cold]
    pub(crate) fn upgraded(&self, conn: &Arc<ConnState>) {
        self.stats.upgraded.fetch_add(1, Relaxed);
        let mut upgraded = self.upgraded.lock().unwrap_or_else(PoisonError::into_inner);
        if conn.flag(IO_CLOSED) {
            // The app dropped it already.
            self.stats.upgraded_closed.fetch_add(1, Relaxed);
        } else {
            upgraded.push(Upgraded {
                conn: Arc::clone(conn),
                _token: self.tasks.token(),
            });
        }
    }

    /// An upgraded connection's socket was dropped by the app.
    #[cold]
    fn upgraded_closed(&self, conn: &ConnState) {
        let mut upgraded = self.upgraded.lock().unwrap_or_else(PoisonError::into_inner);
        conn.set_flag(IO_CLOSED, true);
        if let Some(i) = upgraded.iter().position(|u| std::ptr::eq(&*u.conn, conn)) {
            // Counted before the entry (and its hold on the drain) goes:
            // the drain may end, and the report be read, the moment it does.
            self.stats.upgraded_closed.fetch_add(1, Relaxed);
            upgraded.swap_remove(i);
        }
    }

    /// Cuts off every upgraded connection still open (the drain deadline, or
    /// a forced exit): its socket is shut down, whatever its task is doing,
    /// and it is named in the report like a cut-off request.
    pub(crate) fn cut_upgraded(&self, at: Cut) {
        let cut = {
            let mut upgraded = self.upgraded.lock().unwrap_or_else(PoisonError::into_inner);
            // Under the lock: no socket here is closed meanwhile.
            for u in upgraded.iter() {
                u.conn.shut_down_socket();
            }
            std::mem::take(&mut *upgraded)
        };
        let now = self.lifecycle.clock.now();
        for Upgraded { conn, _token: hold } in cut {
            self.stats.upgraded_cut_off.fetch_add(1, Relaxed);
            let request = conn.current.named(&self.name, now);
            log_cut_off("upgraded connection", &request, &self.lifecycle, at);
            self.cut_off
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(request);
            // Counted and named: only now may the drain end on it.
            drop(hold);
        }
    }

    /// A snapshot of the counters, for the report. A request still in
    /// flight now is cut off: everything that could be aborted was, so its
    /// code blocks a thread, and the exit abandons it.
    pub(crate) fn report(&self) -> ServerReport {
        let s = &self.stats;
        let requests = s.requests.counts();
        ServerReport {
            name: self.name.to_string(),
            addr: self.addr.clone(),
            served: requests.served,
            drained: requests.drained,
            refused: requests.refused,
            cut_off: requests.cut_off + requests.in_flight,
            disconnected: requests.disconnected,
            panicked: requests.panicked,
            in_flight: requests.in_flight,
            connections: s.connections.load(Relaxed),
            idle_closed: s.idle_closed.load(Relaxed),
            upgraded: s.upgraded.load(Relaxed),
            upgraded_closed: s.upgraded_closed.load(Relaxed),
            upgraded_cut_off: s.upgraded_cut_off.load(Relaxed),
            unanswered: s.unanswered.load(Relaxed),
            header_timeouts: s.header_timeouts.load(Relaxed),
            connections_aborted: s.connections_aborted.load(Relaxed),
        }
    }

    /// The requests cut off, oldest first: at the drain deadline, and those
    /// still running now, named (and logged) here.
    pub(crate) fn take_cut_off(&self) -> Vec<OpenRequest> {
        let mut list =
            std::mem::take(&mut *self.cut_off.lock().unwrap_or_else(PoisonError::into_inner));
        if self.stats.in_flight() > 0 {
            let now = self.lifecycle.clock.now();
            for conn in self.connections.get().into_iter().flat_map(Roster::open) {
                for request in conn.still_running(now) {
                    log_cut_off("request", &request, &self.lifecycle, Cut::Report);
                    list.push(request);
                }
            }
        }
        list.sort_by_key(|r| std::cmp::Reverse(r.age));
        list
    }
}
