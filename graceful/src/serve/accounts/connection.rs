//! One connection's state, shared by its task, its service and its
//! requests: its requests in flight, its last activity, its flags, the name
//! of its current HTTP/1 request, and what the kernel knows of its socket.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;

use super::names::{CurrentRequest, StreamName};
use super::roster::Roster;
use super::server::{OpenConnection, ServerShared};
use crate::lifecycle::Lifecycle;
use crate::lifecycle::report::OpenRequest;

pub(super) const H2: u8 = 1;
pub(super) const REFUSING: u8 = 2;
pub(super) const WRITE_PENDING: u8 = 4;
pub(super) const READ_ANY: u8 = 8;
pub(super) const STARTED_ANY: u8 = 16;
pub(super) const LINGER: u8 = 32;
pub(super) const UPGRADED: u8 = 64;
pub(super) const IO_CLOSED: u8 = 128;

/// One connection's state, shared by its task, its service and its requests.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) server: Arc<ServerShared>,
    /// Requests started and not ended. On an HTTP/1 connection, only its own
    /// task touches it (hyper calls the service, and drops the response
    /// body, inside the connection's future), so a plain load and store
    /// update it; HTTP/2 streams run in tasks of their own and add to it
    /// atomically. See [`ConnState::add_in_flight`].
    pub(super) in_flight: AtomicU32,
    /// When the last response ended (or the connection was accepted): a
    /// [`Clock`](crate::lifecycle::clock::Clock) stamp.
    pub(super) last_active: AtomicU64,
    pub(super) flags: AtomicU8,
    /// Woken when a request ends during the shutdown.
    pub(crate) notify: Notify,
    /// The HTTP/1 request in progress, named for the cut-off report.
    pub(super) current: CurrentRequest,
    /// An HTTP/2 connection's streams, handed in when its task ends.
    streams: OnceLock<Box<Roster<StreamName>>>,
    /// The socket: peeked at by the connection's own task (see
    /// [`ConnState::has_unread_bytes`]), and shut down to cut off an
    /// upgraded connection whose socket the app holds, only while it is on
    /// the upgraded books, where it is known to be open.
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl ConnState {
    pub(crate) fn new(server: Arc<ServerShared>, stream: &crate::serve::listen::Stream) -> Self {
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
            streams: OnceLock::new(),
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

    #[inline]
    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.server.lifecycle
    }

    #[inline]
    pub(super) fn flag(&self, flag: u8) -> bool {
        self.flags.load(Relaxed) & flag != 0
    }

    #[inline]
    pub(super) fn set_flag(&self, flag: u8, on: bool) {
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

    /// Whether the last bytes the client sent (the request just read)
    /// reached this host before the refusal began: the kernel knows when it
    /// last received data on the connection. Such a request was sent before
    /// the client could know of the shutdown, however late the server reads
    /// it (a stall, a busy runtime): it is served, not refused. Both clocks
    /// step at the kernel's tick (1 to 4 ms), so a request whose last bytes
    /// came in the tick of the refusal counts as after it. Unknown (not
    /// TCP, not Linux): no.
    pub(crate) fn arrived_before_refusal(&self) -> bool {
        let (Some(ago), Some(since)) = (
            self.last_data_received_ago(),
            self.lifecycle().refusing_for(),
        ) else {
            return false;
        };
        let before = came_before(ago, since);
        if before {
            tracing::debug!(
                last_data_received_ago = ?ago,
                refusing_for = ?since,
                "served: its bytes reached this host before the refusal began"
            );
        }
        before
    }

    /// How long ago the kernel received the last data on this connection.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn last_data_received_ago(&self) -> Option<Duration> {
        use nix::libc;
        let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: `info` is a buffer of `len` bytes, which the kernel fills
        // at most (all zeroes, where it writes less, are a valid
        // `tcp_info`); `self.fd` is this connection's socket, open while
        // its task runs, and this is called from the service, inside the
        // connection's future.
        let info = unsafe {
            let asked = libc::getsockopt(
                self.fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                info.as_mut_ptr().cast(),
                &mut len,
            );
            if asked != 0 {
                return None;
            }
            info.assume_init()
        };
        let known = std::mem::offset_of!(libc::tcp_info, tcpi_last_data_recv) + 4;
        (len as usize >= known).then(|| Duration::from_millis(info.tcpi_last_data_recv.into()))
    }

    #[cfg(not(target_os = "linux"))]
    fn last_data_received_ago(&self) -> Option<Duration> {
        None
    }

    /// Keeps the roster of an HTTP/2 connection's streams once its task has
    /// ended, for the report to name those still running.
    pub(crate) fn hand_in_streams(&self, streams: Roster<StreamName>) {
        if !streams.is_empty() {
            let _ = self.streams.set(Box::new(streams));
        }
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
    pub(super) fn add_in_flight(&self, h1: bool, delta: i32) {
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

impl OpenConnection for ConnState {
    fn is_closed(&self) -> bool {
        self.flag(IO_CLOSED)
    }

    fn mark_closed(&self) {
        self.set_flag(IO_CLOSED, true);
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

    fn current(&self, server: &str, now: u64) -> OpenRequest {
        self.current.named(server, now)
    }

    /// The requests of this connection still running at `now`, named: on
    /// HTTP/1, its current request; on HTTP/2, its streams, by the names its
    /// task handed in (those it could not are named as such).
    fn still_running(&self, now: u64) -> Vec<OpenRequest> {
        let in_flight = self.in_flight.load(Relaxed) as usize;
        let server = &*self.server.name;
        if in_flight == 0 {
            return Vec::new();
        }
        if !self.is_h2() {
            return vec![self.current.named(server, now)];
        }
        let mut named: Vec<OpenRequest> = self
            .streams
            .get()
            .into_iter()
            .flat_map(|streams| streams.open())
            .map(|stream| stream.named(server, now))
            .collect();
        let unnamed = in_flight.saturating_sub(named.len());
        named.extend((0..unnamed).map(|_| OpenRequest {
            server: server.to_owned(),
            method: None,
            path: "(an HTTP/2 stream whose connection still runs)".to_owned(),
            age: Duration::ZERO,
        }));
        named
    }
}

/// Whether bytes received `ago` (the kernel's milliseconds, counted in
/// ticks) came before a refusal that began `since` ago (the coarse clock,
/// also stepping at the tick): a tick earlier at least. The coarse clock is
/// rounded to the millisecond, for its tick is not a whole number of them
/// (3.999999 ms where the kernel counts 4).
fn came_before(ago: Duration, since: Duration) -> bool {
    ago.as_millis() > (since + Duration::from_micros(500)).as_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::addr::ListenAddr;
    use tokio::io::AsyncWriteExt;

    /// The two clocks step at the same tick, but not by the same number of
    /// nanoseconds: one tick reads 4 ms in the kernel's count and
    /// 3.999999 ms on the coarse clock. Bytes of the refusal's own tick
    /// came after it; a tick earlier, before.
    #[test]
    fn bytes_of_the_refusals_own_tick_count_as_after_it() {
        let ms = Duration::from_millis;
        let tick = Duration::from_nanos(3_999_999);
        assert!(!came_before(ms(4), tick), "the same tick");
        assert!(!came_before(ms(4), Duration::from_nanos(4_000_001)));
        assert!(!came_before(ms(0), Duration::ZERO));
        assert!(came_before(ms(8), tick), "a tick earlier");
        assert!(
            came_before(ms(1), Duration::ZERO),
            "HZ=1000, a tick earlier"
        );
    }

    /// Bytes a client sent that the server has not read are seen in the
    /// kernel, so that a connection holding them is not closed as idle.
    #[tokio::test]
    async fn unread_bytes_waiting_in_the_kernel_are_seen() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let stream = crate::serve::listen::Stream::Tcp(accepted);
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
