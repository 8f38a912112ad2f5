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

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::addr::ListenAddr;
use crate::lifecycle::Lifecycle;
use crate::report::{OpenRequest, ServerReport};

mod request;
mod tally;

use request::CurrentRequest;
pub(crate) use request::{Refusal, RequestGuard};
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
    /// Whether its listener was inherited from the service manager, which
    /// may hold it too (see `activation`).
    pub(crate) inherited: bool,
    /// Connection tasks and HTTP/2 stream tasks: the drain waits for it to empty.
    pub(crate) tasks: TaskTracker,
    pub(crate) stats: Stats,
    cut_off: Mutex<Vec<OpenRequest>>,
    /// Upgraded connections still open, each holding the drain open.
    upgraded: Mutex<Vec<Upgraded>>,
}

/// Which deadline cuts upgraded connections off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The drain deadline, or a forced exit.
    DrainDeadline,
    /// [`App::upgrade_timeout`](crate::App::upgrade_timeout).
    UpgradeDeadline,
}

/// Logs what was cut off, saying which deadline cut it.
fn log_cut_off(what: &str, request: &OpenRequest, lifecycle: &Lifecycle, cut: Cut) {
    let forced_by = lifecycle.forced_by().map(ToString::to_string);
    let at = match (&forced_by, cut) {
        (Some(_), _) => "the forced exit",
        (None, Cut::UpgradeDeadline) => "the upgrade deadline",
        (None, Cut::DrainDeadline) => "the drain deadline",
    };
    tracing::warn!(
        server = %request.server,
        method = %request.method,
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
            inherited: false,
            tasks: TaskTracker::new(),
            stats: Stats::default(),
            cut_off: Mutex::new(Vec::new()),
            upgraded: Mutex::new(Vec::new()),
        }
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
            let request = OpenRequest {
                server: self.name.to_string(),
                method: conn.current.method(),
                path: conn.current.path(),
                age: Duration::from_nanos(now.saturating_sub(conn.current.started.load(Relaxed))),
            };
            log_cut_off("upgraded connection", &request, &self.lifecycle, at);
            self.cut_off
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(request);
            // Counted and named: only now may the drain end on it.
            drop(hold);
        }
    }

    /// A snapshot of the counters, for the report.
    pub(crate) fn report(&self) -> ServerReport {
        let s = &self.stats;
        let requests = s.requests.counts();
        ServerReport {
            name: self.name.to_string(),
            addr: self.addr.clone(),
            served: requests.served,
            drained: requests.drained,
            refused: requests.refused,
            cut_off: requests.cut_off,
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

    /// The requests cut off at the drain deadline, oldest first.
    pub(crate) fn take_cut_off(&self) -> Vec<OpenRequest> {
        let mut list =
            std::mem::take(&mut *self.cut_off.lock().unwrap_or_else(PoisonError::into_inner));
        list.sort_by_key(|r| std::cmp::Reverse(r.age));
        list
    }
}

const H2: u8 = 1;
const REFUSING: u8 = 2;
const WRITE_PENDING: u8 = 4;
const READ_ANY: u8 = 8;
const STARTED_ANY: u8 = 16;
const LINGER: u8 = 32;
const UPGRADED: u8 = 64;
const IO_CLOSED: u8 = 128;

/// One connection's state, shared by its task, its service and its requests.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) server: Arc<ServerShared>,
    /// Requests started and not ended. On an HTTP/1 connection, only its own
    /// task touches it (hyper calls the service, and drops the response
    /// body, inside the connection's future), so a plain load and store
    /// update it; HTTP/2 streams run in tasks of their own and add to it
    /// atomically. See [`ConnState::add_in_flight`].
    in_flight: AtomicU32,
    /// When the last response ended (or the connection was accepted): a
    /// [`Clock`](crate::clock::Clock) stamp.
    last_active: AtomicU64,
    flags: AtomicU8,
    /// Woken when a request ends during the shutdown.
    pub(crate) notify: Notify,
    /// The HTTP/1 request in progress, named for the cut-off report.
    current: CurrentRequest,
    /// The socket: peeked at by the connection's own task (see
    /// [`ConnState::has_unread_bytes`]), and shut down to cut off an
    /// upgraded connection whose socket the app holds, only while it is on
    /// the upgraded books, where it is known to be open.
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl ConnState {
    pub(crate) fn new(server: Arc<ServerShared>, stream: &super::Stream) -> Self {
        let now = server.lifecycle.clock.now();
        #[cfg(not(unix))]
        let _ = stream;
        ConnState {
            server,
            in_flight: AtomicU32::new(0),
            last_active: AtomicU64::new(now),
            flags: AtomicU8::new(0),
            notify: Notify::new(),
            current: CurrentRequest::default(),
            #[cfg(unix)]
            fd: std::os::fd::AsRawFd::as_raw_fd(stream),
        }
    }

    /// The response is a `101 Switching Protocols`: hyper hands the socket
    /// to the app once it is written.
    #[cold]
    pub(crate) fn mark_upgraded(&self) {
        self.set_flag(UPGRADED, true);
    }

    pub(crate) fn is_upgraded(&self) -> bool {
        self.flag(UPGRADED)
    }

    /// The socket is being dropped: an upgraded one leaves the books.
    pub(crate) fn io_closed(&self) {
        if self.flag(UPGRADED) {
            self.server.upgraded_closed(self);
        }
    }

    /// Shuts the socket down both ways: the client sees the end of the
    /// stream, the app's next read an end and its next write an error.
    /// Only called on a connection on the upgraded books, under their lock,
    /// so the socket is open (its owner's drop takes that lock first, see
    /// [`ConnState::io_closed`]).
    fn shut_down_socket(&self) {
        #[cfg(unix)]
        {
            use nix::sys::socket::{Shutdown, shutdown};
            let _ = shutdown(self.fd, Shutdown::Both);
        }
    }

    #[inline]
    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.server.lifecycle
    }

    #[inline]
    fn flag(&self, flag: u8) -> bool {
        self.flags.load(Relaxed) & flag != 0
    }

    #[inline]
    fn set_flag(&self, flag: u8, on: bool) {
        if self.flag(flag) != on {
            if on {
                self.flags.fetch_or(flag, Relaxed);
            } else {
                self.flags.fetch_and(!flag, Relaxed);
            }
        }
    }

    /// Marks the connection as HTTP/2: it can be told to go away at once.
    #[inline]
    pub(crate) fn mark_h2(&self) {
        self.set_flag(H2, true);
    }

    pub(crate) fn is_h2(&self) -> bool {
        self.flag(H2)
    }

    /// The connection has been asked to close: a request that starts on it
    /// now, once the listeners are closed, is refused with 503.
    pub(crate) fn set_refusing(&self) {
        self.set_flag(REFUSING, true);
    }

    #[inline]
    pub(crate) fn is_refusing(&self) -> bool {
        self.flag(REFUSING)
    }

    /// Records whether the socket is full: a client that stops reading keeps
    /// its response alive until the drain deadline, not just the header grace.
    #[inline]
    pub(crate) fn set_write_pending(&self, pending: bool) {
        self.set_flag(WRITE_PENDING, pending);
    }

    /// Records that the client sent bytes (set once per connection).
    #[inline]
    pub(crate) fn mark_read(&self) {
        self.set_flag(READ_ANY, true);
    }

    /// Records that a request reached the service (set once per connection).
    #[inline]
    pub(crate) fn mark_started(&self) {
        self.set_flag(STARTED_ANY, true);
    }

    /// A request was answered with its body unread: when the connection
    /// closes, what the client still sends is read and discarded for a while
    /// (see `TrackedIo`), so that the close resets nothing and the client
    /// reads its answer.
    pub(crate) fn set_linger(&self) {
        self.set_flag(LINGER, true);
    }

    pub(crate) fn lingers(&self) -> bool {
        self.flag(LINGER)
    }

    /// Counts a refusal in: in flight until its 503 is sent (see [`Refusal`]).
    pub(crate) fn refusal(self: &Arc<Self>) -> Refusal {
        self.server
            .stats
            .requests
            .mine()
            .started
            .fetch_add(1, Relaxed);
        Refusal::new(Arc::clone(self))
    }

    /// A request has reached the service on this connection.
    pub(crate) fn started_any(&self) -> bool {
        self.flag(STARTED_ANY)
    }

    /// Whether bytes the client sent wait in the kernel, not read yet: a
    /// request that arrived while the task was busy (the reactor has not
    /// told it yet). Closing now would reset it.
    pub(crate) fn has_unread_bytes(&self) -> bool {
        #[cfg(unix)]
        {
            use nix::sys::socket::{MsgFlags, recv};
            let mut byte = [0u8; 1];
            matches!(
                recv(self.fd, &mut byte, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT),
                Ok(n) if n > 0
            )
        }
        #[cfg(not(unix))]
        false
    }

    /// The client sent bytes, but no request is complete yet: its first
    /// request is on its way. hyper-util, still telling HTTP/1 from HTTP/2,
    /// would drop those bytes if asked to shut down now.
    pub(crate) fn first_request_partial(&self) -> bool {
        self.flag(READ_ANY) && !self.flag(STARTED_ANY)
    }

    /// Counts a request in (`1`) or out (`-1`). A read-modify-write locks the
    /// bus; HTTP/1 does without it (see the `in_flight` field).
    #[inline]
    fn add_in_flight(&self, h1: bool, delta: i32) {
        if h1 {
            let n = self.in_flight.load(Relaxed);
            self.in_flight.store(n.wrapping_add_signed(delta), Relaxed);
        } else if delta > 0 {
            self.in_flight.fetch_add(1, Relaxed);
        } else {
            self.in_flight.fetch_sub(1, Relaxed);
        }
    }

    /// No request in flight, nothing left to write, no lingering close.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Relaxed) == 0 && !self.flag(WRITE_PENDING) && !self.flag(LINGER)
    }

    /// How long until this connection has been quiet (no request in
    /// flight, none ended) for `grace`: zero if it has, `None` while a
    /// request is in flight. Read on the coarse clock at both ends, so that a
    /// zero grace means "no request in flight", whatever the clock's tick.
    pub(crate) fn quiet_in(&self, grace: Duration) -> Option<Duration> {
        if self.in_flight.load(Relaxed) > 0 {
            return None;
        }
        let last = self.last_active.load(Relaxed);
        let grace = u64::try_from(grace.as_nanos()).unwrap_or(u64::MAX);
        let quiet = last.saturating_add(grace);
        Some(Duration::from_nanos(
            quiet.saturating_sub(self.lifecycle().clock.now()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Bytes a client sent that the server has not read are seen in the
    /// kernel, so that a connection holding them is not closed as idle.
    #[tokio::test]
    async fn unread_bytes_waiting_in_the_kernel_are_seen() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let stream = super::super::listen::Stream::Tcp(accepted);
        let server = Arc::new(ServerShared::new(
            Arc::from("test"),
            ListenAddr::Tcp(addr),
            Arc::new(Lifecycle::new()),
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
            None,
        ));
        let conn = ConnState::new(server, &stream);
        assert!(!conn.has_unread_bytes());
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        // Loopback delivers within the write; wait for it without sleeping.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !conn.has_unread_bytes() {
            assert!(
                std::time::Instant::now() < deadline,
                "the bytes never arrived"
            );
            tokio::task::yield_now().await;
        }
        drop(stream);
    }
}
