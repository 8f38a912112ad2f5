//! A server's books: its settings as its connections see them, its
//! counters, the upgraded connections holding its drain open, and what the
//! report names of the requests cut off.
//!
//! The books know a connection only as an [`OpenConnection`], so that they
//! stand below the connection's state, which points at them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::cut::{Cut, log_cut_off};
use super::roster::Roster;
use super::tally::Tally;
use crate::addr::ListenAddr;
use crate::lifecycle::handle::{Reloads, ShutdownHandle};
use crate::lifecycle::report::{OpenRequest, ServerReport};
use crate::lifecycle::{Lifecycle, RestartAsks};
use crate::system::restart::Sharing;

/// A connection as the books see it, once its requests may have to be cut
/// off or named: only at the drain deadline and in the report, never per
/// request.
pub(crate) trait OpenConnection: std::fmt::Debug + Send + Sync {
    /// Whether the app has dropped the (upgraded) socket.
    fn is_closed(&self) -> bool;
    /// Records that the app has dropped the socket.
    fn mark_closed(&self);
    /// Shuts the socket down both ways (see `ConnState::shut_down_socket`).
    fn shut_down_socket(&self);
    /// The name of its current (HTTP/1, or upgraded) request at `now`.
    fn current(&self, server: &str, now: u64) -> OpenRequest;
    /// Its requests still running at `now`, named.
    fn still_running(&self, now: u64) -> Vec<OpenRequest>;
}

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
    /// The metrics endpoint, if the app serves one.
    #[cfg(feature = "prometheus")]
    pub(crate) metrics: Option<Arc<crate::serve::exposition::Exposition>>,
    /// Whether the service manager holds its listener too (see
    /// `activation`), and keeps it once this process is gone.
    pub(crate) managed: bool,
    /// What a restart shares of the listeners (see `restart`).
    pub(crate) sharing: Arc<Sharing>,
    /// Where a handle given to an upgraded connection asks for restarts.
    pub(crate) restarts: Arc<RestartAsks>,
    /// Where [`ShutdownHandle::reload_tls`](crate::ShutdownHandle::reload_tls)
    /// asks for the certificates to be read again.
    pub(crate) reloads: Arc<Reloads>,
    /// Connection tasks and HTTP/2 stream tasks: the drain waits for it to empty.
    pub(crate) tasks: TaskTracker,
    pub(crate) stats: Stats,
    cut_off: Mutex<Vec<OpenRequest>>,
    /// Upgraded connections still open, each holding the drain open.
    upgraded: Mutex<Vec<Upgraded>>,
    /// Every connection the accept loop spawned, handed in once the
    /// listener closed: the report names what is still running.
    connections: OnceLock<Roster<dyn OpenConnection>>,
}

/// An upgraded connection on the books: its state, and the token that
/// keeps the drain waiting for it.
#[derive(Debug)]
struct Upgraded {
    conn: Arc<dyn OpenConnection>,
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
    pub(crate) tls_handshakes_failed: AtomicU64,
    pub(crate) tls_handshake_timeouts: AtomicU64,
    pub(crate) tls_handshakes_shed: AtomicU64,
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
            #[cfg(feature = "prometheus")]
            metrics: None,
            managed: false,
            sharing: Arc::default(),
            restarts: Arc::default(),
            reloads: Arc::default(),
            tasks: TaskTracker::new(),
            stats: Stats::default(),
            cut_off: Mutex::new(Vec::new()),
            upgraded: Mutex::new(Vec::new()),
            connections: OnceLock::new(),
        }
    }

    /// Hands in the roster of every connection the accept loop spawned,
    /// once the listener has closed.
    /// A handle on the app this server serves, for a request or an
    /// upgraded connection to see the shutdown coming; one that shares no
    /// reference count with any other (see [`ShutdownHandle::separate`]).
    pub(crate) fn handle(&self) -> ShutdownHandle {
        ShutdownHandle::from_parts(
            Arc::clone(&self.lifecycle),
            Arc::clone(&self.restarts),
            Arc::clone(&self.reloads),
        )
    }

    pub(crate) fn hand_in(&self, connections: Roster<dyn OpenConnection>) {
        let _ = self.connections.set(connections);
    }

    /// Puts a connection that hyper handed over to the app (after a `101`)
    /// on the books: counted, and held in the drain until its socket closes
    /// or the drain deadline cuts it.
    #[cold]
    pub(crate) fn upgraded(&self, conn: Arc<dyn OpenConnection>) {
        self.stats.upgraded.fetch_add(1, Relaxed);
        let mut upgraded = self.upgraded.lock().unwrap_or_else(PoisonError::into_inner);
        if conn.is_closed() {
            // The app dropped it already.
            self.stats.upgraded_closed.fetch_add(1, Relaxed);
        } else {
            upgraded.push(Upgraded {
                conn,
                _token: self.tasks.token(),
            });
        }
    }

    /// An upgraded connection's socket was dropped by the app.
    #[cold]
    pub(super) fn upgraded_closed(&self, conn: &dyn OpenConnection) {
        let mut upgraded = self.upgraded.lock().unwrap_or_else(PoisonError::into_inner);
        conn.mark_closed();
        if let Some(i) = upgraded
            .iter()
            .position(|u| std::ptr::addr_eq(Arc::as_ptr(&u.conn), conn))
        {
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
            let request = conn.current(&self.name, now);
            log_cut_off("upgraded connection", &request, &self.lifecycle, at);
            self.cut_off
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(request);
            // Counted and named: only now may the drain end on it.
            drop(hold);
        }
    }

    /// Keeps a request cut off at the drain deadline, for the report.
    #[cold]
    pub(super) fn record_cut_off(&self, request: OpenRequest) {
        self.cut_off
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
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
            tls_handshakes_failed: s.tls_handshakes_failed.load(Relaxed),
            tls_handshake_timeouts: s.tls_handshake_timeouts.load(Relaxed),
            tls_handshakes_shed: s.tls_handshakes_shed.load(Relaxed),
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
