//! One connection's life: serve until the shutdown begins, then close it
//! without losing a request that is already on its way.
//!
//! Every peer loses requests here: it closes a keep-alive connection that
//! looks idle while the client's next request is already in the socket, and
//! the client sees a reset after writing its request. Our rule:
//!
//! 1. From the first signal on, every HTTP/1 response carries
//!    `Connection: close`, so a busy client stops reusing its connection
//!    cleanly after the response it is reading.
//! 2. An HTTP/1 connection is asked to close only once it has been quiet
//!    (no request in flight, none ended) for the read grace, and holds no
//!    unread bytes: a request that was already on its way is served instead
//!    of cut. An HTTP/2 connection gets GOAWAY at once, however busy, which
//!    is safe by design: the client learns which streams were processed.
//! 3. Once asked to close, a connection that has no request in flight after
//!    the header grace (it never sends one, or sends its headers a byte at a
//!    time) is dropped. One that is still writing a response lives until the
//!    drain deadline, which aborts whatever is left.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::Poll;

use std::time::Duration;

use tokio::time::{Instant, sleep, sleep_until};

use super::http_service::HttpService;
use super::io::TrackedIo;
use super::protocol::{Protocols, Serving};
use super::service::Tracked;
use super::tls::handshake;
use crate::lifecycle::Phase;
use crate::lifecycle::moment::Moment;
use crate::serve::accounts::{ConnState, OpenConnection};

/// Serves one accepted connection to its end.
pub(crate) async fn serve_connection<S: HttpService>(
    stream: super::listen::Stream,
    conn: Arc<ConnState>,
    protocols: Arc<Protocols>,
    service: S,
) {
    let server = Arc::clone(&conn.server);
    let lifecycle = &*server.lifecycle;
    let stream = match &protocols.tls {
        None => stream,
        Some(tls) => match handshake(tls, stream, &server).await {
            Some(stream) => stream,
            None => return,
        },
    };
    server.stats.open_connections.fetch_add(1, Relaxed);
    let tls = protocols.tls.is_some();
    let io = TrackedIo::new(stream, Arc::clone(&conn));
    let mut connection = Serving::new(io, Tracked::new(service, Arc::clone(&conn)), protocols);

    // Running: poll the connection; the shutdown's start is checked with one
    // relaxed load per wake-up (see `Moment`), the header read timeout with
    // one read of the coarse clock (see `HeadTimer`).
    let mut begun = pin!(lifecycle.begun());
    let mut moment = Moment::new(lifecycle, Phase::NotReady, begun.as_mut());
    let mut sleep = pin!(tokio::time::sleep(server.header_read_timeout));
    let mut timer = HeadTimer::new(&conn, sleep.as_mut());
    let ended = poll_fn(|cx| {
        if Pin::new(&mut connection).poll(cx).is_ready() {
            return Poll::Ready(Ended::Closed);
        }
        if moment.has_come(cx) {
            Poll::Ready(Ended::Stopping)
        } else if timer.expired(cx) {
            Poll::Ready(Ended::HeadTimeout)
        } else {
            Poll::Pending
        }
    })
    .await;
    let ours = match ended {
        Ended::Closed => false,
        Ended::Stopping => close_gracefully(&mut connection, &conn).await == Close::Ours,
        Ended::HeadTimeout => {
            server.stats.header_timeouts.fetch_add(1, Relaxed);
            tracing::debug!(server = %server.name, timeout = ?server.header_read_timeout, "closing a connection that sent no complete request head in time");
            true
        }
    };
    if ours && tls {
        // hyper closes what it ends with the alert; what we drop says it too.
        connection.close_notify(LAST_WORD).await;
    }
    if conn.is_upgraded() {
        // hyper handed the socket to the app: it stays on the books.
        server.upgraded(Arc::clone(&conn) as Arc<dyn OpenConnection>);
    }
    let unanswered = connection.unanswered();
    if unanswered > 0 {
        server
            .stats
            .unanswered
            .fetch_add(unanswered as u64, Relaxed);
        tracing::warn!(server = %server.name, requests = unanswered, "requests pipelined behind the response that closed their connection were never answered; the client may retry them");
    }
    server.stats.open_connections.fetch_sub(1, Relaxed);
}

/// How long a connection that we close ourselves gets to say TLS's
/// `close_notify` before its socket goes: the alert is one small record, so
/// this bounds only a client that reads nothing.
const LAST_WORD: Duration = Duration::from_millis(100);

/// Who ended a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Close {
    /// hyper, closing it cleanly (or the client).
    Served,
    /// We, dropping it: at the drain deadline, or silent past the grace.
    Ours,
}

/// Why the running phase of a connection ended.
enum Ended {
    /// The connection closed (or was upgraded).
    Closed,
    /// The shutdown began.
    Stopping,
    /// No complete request head came within the header read timeout.
    HeadTimeout,
}

/// The header read timeout of a running connection: it expires when the
/// connection has not started a first request within the timeout from its
/// accept (a client that connects and says nothing, or trickles its first
/// head). Once a request has started, the timer is off for good: an idle
/// keep-alive connection is its client's to close (a load balancer's idle
/// timeout is usually longer than ours, and closing under it is the
/// keep-alive race), and HTTP/2 has its own idle rules.
///
/// The timer is registered once; until it fires, a wake-up costs one relaxed
/// load (whether it has), not a registration.
struct HeadTimer<'c, 's> {
    conn: &'c ConnState,
    sleep: Pin<&'s mut tokio::time::Sleep>,
    off: bool,
    registered: bool,
}

impl<'c, 's> HeadTimer<'c, 's> {
    fn new(conn: &'c ConnState, sleep: Pin<&'s mut tokio::time::Sleep>) -> Self {
        HeadTimer {
            conn,
            sleep,
            off: conn.server.header_read_timeout.is_zero(),
            registered: false,
        }
    }

    fn expired(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        if self.off {
            return false;
        }
        if !self.registered {
            self.registered = true;
            // Pending: it now wakes this task at its deadline.
            if self.sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
        } else if !self.sleep.is_elapsed() {
            return false;
        }
        self.off = true;
        !self.conn.started_any()
    }
}

/// Steps 2 and 3 of the module's rule.
async fn close_gracefully<S: HttpService>(connection: &mut Serving<S>, conn: &ConnState) -> Close {
    let server = &*conn.server;
    let lifecycle = &*server.lifecycle;
    let mut cancelled = pin!(lifecycle.cancelled());

    // Wait for a quiet moment, so that a request already on its way is
    // served. Not for HTTP/2, whose GOAWAY is safe at any moment: a
    // connection whose preface is read meanwhile stops waiting (were it
    // busy, it would never be quiet).
    if !connection.is_h2() {
        loop {
            if connection.is_h2() {
                break;
            }
            let wait = conn.quiet_in(server.read_grace);
            if wait == Some(Duration::ZERO) {
                break;
            }
            let notified = conn.notify.notified();
            tokio::select! {
                biased;
                _ = &mut *connection => return Close::Served,
                () = &mut cancelled => return aborted(conn),
                () = notified => {}
                () = sleep(wait.unwrap_or_default()), if wait.is_some() => {}
            }
        }
    }
    conn.set_refusing();
    if connection.is_h2() || (!conn.first_request_partial() && !conn.has_unread_bytes()) {
        // hyper's graceful shutdown: GOAWAY for HTTP/2; for HTTP/1, close
        // now if idle, else after the response in progress.
        connection.graceful_shutdown();
    } else {
        // A request is on its way (read in part, or waiting in the kernel):
        // it completes and its response closes the connection, or the
        // header grace below drops the connection. If it turns out to be
        // HTTP/2's preface, the GOAWAY follows it.
        connection.go_away_if_h2();
    }
    let grace_end = Instant::now() + server.header_grace;
    loop {
        let idle = conn.is_idle();
        let notified = conn.notify.notified();
        tokio::select! {
            biased;
            _ = &mut *connection => return Close::Served,
            () = &mut cancelled => return aborted(conn),
            () = notified => {}
            () = sleep_until(grace_end), if idle => {
                if conn.is_idle() {
                    server.stats.idle_closed.fetch_add(1, Relaxed);
                    tracing::debug!(server = %server.name, "closing a connection that sent no complete request within the header grace");
                    return Close::Ours;
                }
            }
        }
    }
}

fn aborted(conn: &ConnState) -> Close {
    conn.server.stats.connections_aborted.fetch_add(1, Relaxed);
    Close::Ours
}
