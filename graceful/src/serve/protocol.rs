//! Telling HTTP/1 from HTTP/2 by a connection's first bytes, then serving
//! it with hyper: HTTP/1.1 (keep-alive, upgrades) or HTTP/2.
//!
//! hyper-util's `auto` builder does the same, but hides hyper's connection:
//! serving it ourselves lets us take back what hyper read and never answered
//! (requests pipelined behind one whose response closed the connection), so
//! that they are counted instead of silently dropped.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use hyper::server::conn::{http1, http2};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, ReadBuf};

use super::http_service::HttpService;
use super::io::TrackedIo;
use super::service::Tracked;
use super::tls::TlsServer;
use crate::error::BoxError;
use crate::lifecycle::Phase;
use crate::lifecycle::moment::Moment;
use crate::serve::accounts::ServerShared;

/// The HTTP/2 connection preface a client sends first.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Runs HTTP/2 streams as tasks the drain waits for, and aborts them at the
/// drain deadline like the connections they belong to.
#[derive(Clone, Debug)]
pub(crate) struct StreamExecutor {
    pub(crate) server: Arc<ServerShared>,
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let server = Arc::clone(&self.server);
        self.server.tasks.spawn(async move {
            let lifecycle = &*server.lifecycle;
            let mut cancelled = pin!(lifecycle.cancelled());
            let mut moment = Moment::new(lifecycle, Phase::CutOff, cancelled.as_mut());
            let mut fut = pin!(fut);
            poll_fn(|cx| {
                if moment.has_come(cx) {
                    return Poll::Ready(());
                }
                fut.as_mut().poll(cx).map(drop)
            })
            .await
        });
    }
}

/// The HTTP versions a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Versions {
    /// HTTP/1.1 and HTTP/2, told apart by the first bytes.
    Both,
    /// HTTP/2 alone (gRPC): a connection that starts otherwise is closed.
    Http2Only,
}

/// How every connection of a server is served.
#[derive(Debug)]
pub(crate) struct Protocols {
    h1: http1::Builder,
    h2: http2::Builder<StreamExecutor>,
    versions: Versions,
    /// The TLS every connection first completes, if the server has it.
    pub(crate) tls: Option<TlsServer>,
}

impl Protocols {
    pub(crate) fn new(
        executor: StreamExecutor,
        tls: Option<TlsServer>,
        versions: Versions,
    ) -> Self {
        let mut h1 = http1::Builder::new();
        // A client that half-closes its socket after its request still gets
        // the response.
        h1.half_close(true);
        Protocols {
            h1,
            h2: http2::Builder::new(executor),
            versions,
            tls,
        }
    }
}

type Io = TokioIo<TrackedIo>;

/// One connection, from its first byte to its end. It lives in the
/// connection's task, whose allocation has its size: HTTP/2's connection
/// state (more than twice HTTP/1's) is boxed, so that every HTTP/1
/// connection does not carry its room.
// HTTP/1's state stays inline: almost every connection becomes one, and
// boxing it would cost an allocation per connection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Serving<S: HttpService> {
    /// Reading until the bytes tell the protocol.
    Detecting {
        io: Option<TrackedIo>,
        read: [u8; 24],
        filled: usize,
        service: Option<Tracked<S>>,
        protocols: Arc<Protocols>,
        cancelled: bool,
        /// Asked to go away if the connection turns out to be HTTP/2: its
        /// GOAWAY goes out as soon as the preface is read.
        go_away_if_h2: bool,
    },
    H1(http1::UpgradeableConnection<Io, Tracked<S>>),
    H2(Box<http2::Connection<Io, Tracked<S>, StreamExecutor>>),
    /// Closed by us, with what hyper had read and never answered.
    Closed {
        unanswered: usize,
    },
    Done,
}

// The service is never pinned (hyper's connections, which own it once the
// protocol is known, are `Unpin` whatever it is), so neither is this.
impl<S: HttpService> Unpin for Serving<S> {}

impl<S: HttpService> Serving<S> {
    pub(crate) fn new(io: TrackedIo, service: Tracked<S>, protocols: Arc<Protocols>) -> Self {
        Serving::Detecting {
            io: Some(io),
            read: [0; 24],
            filled: 0,
            service: Some(service),
            protocols,
            cancelled: false,
            go_away_if_h2: false,
        }
    }

    /// Whether the connection speaks HTTP/2.
    pub(crate) fn is_h2(&self) -> bool {
        matches!(self, Serving::H2(_))
    }

    /// A request is on its way: HTTP/2 gets its GOAWAY now (every stream
    /// the client opened up to it is still served), or as soon as the
    /// preface is read, if the protocol is not known yet. HTTP/1 is left
    /// alone: the response to the request on its way closes the connection.
    pub(crate) fn go_away_if_h2(&mut self) {
        match self {
            Serving::Detecting { go_away_if_h2, .. } => *go_away_if_h2 = true,
            Serving::H2(conn) => Pin::new(&mut **conn).graceful_shutdown(),
            Serving::H1(_) | Serving::Closed { .. } | Serving::Done => {}
        }
    }

    /// hyper's graceful shutdown: GOAWAY for HTTP/2; for HTTP/1, close now
    /// if idle, else after the response in progress. Before the protocol is
    /// known, the connection ends.
    pub(crate) fn graceful_shutdown(&mut self) {
        match self {
            Serving::Detecting { cancelled, .. } => *cancelled = true,
            Serving::H1(conn) => Pin::new(conn).graceful_shutdown(),
            Serving::H2(conn) => Pin::new(&mut **conn).graceful_shutdown(),
            Serving::Closed { .. } | Serving::Done => {}
        }
    }

    /// Once the connection has ended: how many requests hyper had read and
    /// never answered, pipelined behind the response that closed the
    /// connection. An incomplete one counts too.
    pub(crate) fn unanswered(&mut self) -> usize {
        match std::mem::replace(self, Serving::Done) {
            Serving::H1(conn) => conn
                .into_parts()
                .map_or(0, |parts| count_requests(&parts.read_buf)),
            Serving::Closed { unanswered } => unanswered,
            _ => 0,
        }
    }

    /// Ends a connection that we close ourselves (at the drain deadline, or
    /// silent past a grace) with TLS's `close_notify`, within `within`, the
    /// bound on a client that reads nothing. HTTP/1's socket is taken back
    /// from hyper (what hyper read and never answered is counted first) and
    /// shut down, which sends the alert; HTTP/2's connection, whose GOAWAY
    /// went out and whose streams are cut, is polled to its own end, which
    /// sends it.
    pub(crate) async fn close_notify(&mut self, within: std::time::Duration) {
        use tokio::io::AsyncWriteExt;
        let end = async {
            match self {
                Serving::Detecting { io, .. } => {
                    if let Some(io) = io.as_mut() {
                        let _ = io.shutdown().await;
                    }
                }
                Serving::H1(_) => {
                    let Serving::H1(conn) = std::mem::replace(self, Serving::Done) else {
                        return;
                    };
                    if let Some(parts) = conn.into_parts() {
                        *self = Serving::Closed {
                            unanswered: count_requests(&parts.read_buf),
                        };
                        let _ = parts.io.into_inner().shutdown().await;
                    }
                }
                Serving::H2(conn) => {
                    let _ = (&mut **conn).await;
                }
                Serving::Closed { .. } | Serving::Done => {}
            }
        };
        let _ = tokio::time::timeout(within, end).await;
    }

    /// Reads until the first bytes tell HTTP/2's preface from anything else.
    fn poll_detect(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        let Serving::Detecting {
            io,
            read,
            filled,
            service,
            protocols,
            cancelled,
            go_away_if_h2,
        } = self
        else {
            return Poll::Ready(Ok(()));
        };
        let h2 = loop {
            if *cancelled {
                return Poll::Ready(Ok(()));
            }
            if *filled == H2_PREFACE.len() {
                break true;
            }
            let Some(stream) = io.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            let mut buf = ReadBuf::new(&mut read[*filled..]);
            ready!(Pin::new(stream).poll_read(cx, &mut buf))?;
            let got = buf.filled().len();
            if got == 0 {
                // The client closed before saying anything useful.
                return Poll::Ready(Ok(()));
            }
            let start = *filled;
            *filled += got;
            if read[start..*filled] != H2_PREFACE[start..*filled] {
                break false;
            }
        };
        if !h2 && protocols.versions == Versions::Http2Only {
            // Not HTTP/2: nothing here can answer it.
            return Poll::Ready(Ok(()));
        }
        let (Some(mut stream), Some(service)) = (io.take(), service.take()) else {
            return Poll::Ready(Ok(()));
        };
        // hyper reads the bytes that told the protocol first.
        stream.replay(*read, *filled);
        let io = TokioIo::new(stream);
        *self = if h2 {
            let mut conn = Box::new(protocols.h2.serve_connection(io, service));
            if *go_away_if_h2 {
                Pin::new(&mut *conn).graceful_shutdown();
            }
            Serving::H2(conn)
        } else {
            Serving::H1(protocols.h1.serve_connection(io, service).with_upgrades())
        };
        Poll::Ready(Ok(()))
    }
}

impl<S: HttpService> Future for Serving<S> {
    type Output = Result<(), BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Serving::Detecting { .. } = this {
            ready!(this.poll_detect(cx))?;
        }
        match this {
            Serving::H1(conn) => Pin::new(conn).poll(cx).map_err(Into::into),
            Serving::H2(conn) => Pin::new(&mut **conn).poll(cx).map_err(Into::into),
            Serving::Detecting { .. } | Serving::Closed { .. } | Serving::Done => {
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// Counts the requests in bytes hyper read and never served: complete heads
/// (skipping their bodies when a `Content-Length` tells their size), and an
/// incomplete one at the end.
fn count_requests(mut bytes: &[u8]) -> usize {
    let mut count = 0;
    while !bytes.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(head)) = request.parse(bytes) else {
            // Incomplete, or not HTTP: one request that was on its way.
            return count + 1;
        };
        count += 1;
        let length = request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| {
                std::str::from_utf8(h.value)
                    .ok()?
                    .trim()
                    .parse::<usize>()
                    .ok()
            });
        let chunked = request
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
        if chunked {
            // Its body's end is not worth decoding here: what follows is
            // unknown, and counted as nothing more.
            return count;
        }
        bytes = bytes.get(head + length.unwrap_or(0)..).unwrap_or_default();
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanswered_requests_are_counted_heads_bodies_and_a_partial_one() {
        assert_eq!(count_requests(b""), 0);
        assert_eq!(count_requests(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 1);
        let two = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n";
        assert_eq!(count_requests(two), 2);
        assert_eq!(count_requests(b"GET / HTTP/1.1\r\n\r\nGET /x HT"), 2);
        assert_eq!(count_requests(b"\x16\x03\x01garbage"), 1);
    }

    #[derive(Clone)]
    struct Hello;

    impl hyper::service::Service<crate::serve::http_service::Request> for Hello {
        type Response = http::Response<String>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn call(&self, _: crate::serve::http_service::Request) -> Self::Future {
            std::future::ready(Ok(http::Response::new("hello".to_owned())))
        }
    }

    /// Every connection's task is as large as its `Serving`: an HTTP/1
    /// connection must not carry the room of HTTP/2's state.
    #[test]
    fn an_http1_connection_does_not_carry_the_room_of_http2() {
        let serving = std::mem::size_of::<Serving<Hello>>();
        let h1 = std::mem::size_of::<http1::UpgradeableConnection<Io, Tracked<Hello>>>();
        let h2 = std::mem::size_of::<http2::Connection<Io, Tracked<Hello>, StreamExecutor>>();
        assert!(serving <= h1 + 64, "Serving {serving} B, HTTP/1 {h1} B");
        assert!(serving < h2, "Serving {serving} B, HTTP/2 {h2} B");
    }
}
