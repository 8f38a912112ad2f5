//! Accepting: the accept loop of one listener, and its close without
//! resetting what is on its way in.

use std::future::poll_fn;
use std::io as stdio;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::Poll;
use std::time::Duration;

use tokio::net::TcpListener;

use super::http_service::HttpService;
use super::listen::{Listener, Stream};
use super::protocol::{Protocols, StreamExecutor, Versions};
use super::tls::{TlsServer, start_watching};
use super::{conn, handshakes};
use crate::lifecycle::Phase;
use crate::lifecycle::moment::Moment;
use crate::serve::accounts::{ConnState, OpenConnection, Roster, ServerShared};
use crate::system::restart::Sharing;

/// Accepts connections until the listener must close, then serves what the
/// kernel had already accepted (instead of resetting it) and closes.
pub(super) async fn accept_loop<S: HttpService>(
    listener: Listener,
    server: Arc<ServerShared>,
    service: S,
    mut tls: Option<TlsServer>,
    versions: Versions,
) {
    // New handshakes use a renewed certificate while this loop accepts.
    let _watching = start_watching(&mut tls, &server);
    let executor = StreamExecutor {
        server: Arc::clone(&server),
    };
    let builder = Arc::new(Protocols::new(executor, tls, versions));
    let lifecycle = &*server.lifecycle;
    let mut refusing = pin!(lifecycle.refusing());
    let mut moment = Moment::new(lifecycle, Phase::Refusing, refusing.as_mut());
    let mut roster = Roster::default();
    loop {
        let accepted = poll_fn(|cx| {
            if moment.has_come(cx) {
                return Poll::Ready(None);
            }
            keep_non_blocking(&listener, &server.sharing);
            listener.poll_accept(cx).map(Some)
        })
        .await;
        match accepted {
            None => break,
            Some(Ok(stream)) => spawn_connection(stream, &server, &builder, &service, &mut roster),
            Some(Err(err)) if is_connection_error(&err) => {}
            Some(Err(err)) => {
                // Out of file descriptors, most likely: back off instead of spinning.
                tracing::error!(server = %server.name, error = %err, "accept failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    () = lifecycle.refusing() => break,
                }
            }
        }
    }
    if lifecycle.is_handed_over() {
        // A successor serves these listeners: what waits in their queue is
        // its to take, and nothing is reset when this process lets go.
        listener.let_go();
        server.hand_in(roster);
        tracing::info!(name = %server.name, addr = %server.addr, listener = "handed-over", "listener handed over");
        return;
    }
    // Closing a listener resets every connection the kernel has completed
    // but we have not accepted, and every handshake under way: first stop
    // new handshakes, serve what completes while any is under way, then
    // close (see `handshakes`). A Unix socket has no handshake: what
    // connected is already accepted.
    let fenced = match listener.as_tcp() {
        Some(tcp) if handshakes::stop(tcp, &server.name) => {
            settle(
                &listener,
                tcp,
                &server,
                &builder,
                service.clone(),
                &mut roster,
            )
            .await;
            true
        }
        _ => false,
    };
    take_accepted(&listener, &server, &builder, &service, &mut roster);
    server.hand_in(roster);
    let shared = server.managed || server.sharing.is_shared();
    if let (true, true, Some(tcp)) = (fenced, shared, listener.as_tcp()) {
        // Another process may hold this listener too (a socket unit, a
        // restart's successor): it must outlive us without the filter, so
        // that what connects next waits in its queue for that process.
        handshakes::resume(tcp, &server.name);
    }
    // A Unix socket's file goes with it.
    drop(listener);
    tracing::info!(name = %server.name, addr = %server.addr, listener = "closed", "listener closed");
}

/// Serves every connection the kernel has accepted, without waiting.
fn take_accepted<S: HttpService>(
    listener: &Listener,
    server: &Arc<ServerShared>,
    builder: &Arc<Protocols>,
    service: &S,
    roster: &mut Roster<dyn OpenConnection>,
) {
    keep_non_blocking(listener, &server.sharing);
    loop {
        match listener.accept_now() {
            Ok(Some(stream)) => spawn_connection(stream, server, builder, service, roster),
            Ok(None) => return,
            Err(err) if is_connection_error(&err) => {}
            Err(err) => {
                tracing::warn!(server = %server.name, error = %err, "accept failed while closing the listener");
                return;
            }
        }
    }
}

fn spawn_connection<S: HttpService>(
    stream: Stream,
    server: &Arc<ServerShared>,
    builder: &Arc<Protocols>,
    service: &S,
    roster: &mut Roster<dyn OpenConnection>,
) {
    server.stats.connections.fetch_add(1, Relaxed);
    let conn = Arc::new(ConnState::new(Arc::clone(server), &stream));
    roster.enter(Arc::downgrade(&conn) as std::sync::Weak<dyn OpenConnection>);
    server.tasks.spawn(conn::serve_connection(
        stream,
        conn,
        Arc::clone(builder),
        service.clone(),
    ));
}

/// Serves the connections that complete while handshakes are under way on
/// a listener that takes no new ones, until none is, or for
/// [`handshakes::LIMIT`] at most.
async fn settle<S: HttpService>(
    listener: &Listener,
    tcp: &TcpListener,
    server: &Arc<ServerShared>,
    builder: &Arc<Protocols>,
    service: S,
    roster: &mut Roster<dyn OpenConnection>,
) {
    let since = tokio::time::Instant::now();
    loop {
        take_accepted(listener, server, builder, &service, roster);
        match handshakes::under_way(tcp) {
            Ok(0) => return,
            Ok(n) if since.elapsed() >= handshakes::LIMIT => {
                tracing::debug!(server = %server.name, handshakes = n, "closing the listener with handshakes under way");
                return;
            }
            Ok(_) => tokio::time::sleep(handshakes::POLL).await,
            Err(err) => {
                // The kernel cannot be asked: wait as long as a handshake
                // on a local network takes.
                tracing::debug!(server = %server.name, error = %err, "cannot count handshakes under way");
                tokio::time::sleep(handshakes::BLIND_SETTLE).await;
                return;
            }
        }
    }
}

/// While a restart's successor starts, it holds the listener too, and the
/// file status flags are shared: one that makes the listener blocking (a
/// program that knows nothing of non-blocking sockets) would have the next
/// accept hold this worker thread. Checked before every accept then, and
/// bounded anyway (see `restart`).
#[inline]
fn keep_non_blocking(listener: &Listener, sharing: &Sharing) {
    if sharing.is_starting() {
        #[cfg(unix)]
        let _ = crate::system::restart::keep_non_blocking(listener.raw_fd());
    }
}

/// Errors about one connection, not the listener: the next accept may succeed.
fn is_connection_error(err: &stdio::Error) -> bool {
    matches!(
        err.kind(),
        stdio::ErrorKind::ConnectionRefused
            | stdio::ErrorKind::ConnectionAborted
            | stdio::ErrorKind::ConnectionReset
    )
}
