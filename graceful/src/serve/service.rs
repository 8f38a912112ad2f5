//! The per-request wrapper around the user's service: counts the request,
//! answers the health endpoint, refuses with 503 once the server is stopping,
//! and adds `Connection: close` to every HTTP/1 response from the first signal on.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;

use super::answers;
use crate::error::BoxError;
use crate::lifecycle::Phase;
use crate::serve::accounts::{ConnState, Refusal, RequestGuard, Streams};

/// The user's service, as one connection sees it.
#[derive(Debug)]
pub(crate) struct Tracked<S> {
    inner: S,
    conn: Arc<ConnState>,
    /// The names of HTTP/2 streams, kept by the connection's task, which
    /// alone calls the service; handed in to the connection when it ends.
    streams: Streams,
}

impl<S> Tracked<S> {
    pub(crate) fn new(inner: S, conn: Arc<ConnState>) -> Self {
        Tracked {
            inner,
            conn,
            streams: Streams::default(),
        }
    }
}

impl<S> Drop for Tracked<S> {
    fn drop(&mut self) {
        if let Some(streams) = self.streams.take() {
            self.conn.hand_in_streams(streams);
        }
    }
}

impl<S, B> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = Response<TrackedBody<B>>;
    type Error = BoxError;
    type Future = TrackedFuture<S::Future, B>;

    #[inline(always)]
    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        // Kept small (admission and our own answers are out of line), so
        // that hyper can inline it: the handler's future is then built in
        // place, where hyper keeps it, instead of being moved there. Whether
        // it does depends on the codegen unit hyper's `HttpService::call`
        // lands in, which is not `#[inline]`.
        match admit(&self.conn, &mut req, &self.streams) {
            // The service is called first: a router says its route then.
            Ok(guard) => TrackedFuture {
                fut: Some(self.inner.call(req)),
                guard: Some(guard.routed()),
                answer: None,
            },
            // The answer is built out of line and comes back as a pointer:
            // were it written through a pointer into this future, the
            // compiler could no longer build the future in place.
            Err(ours) => TrackedFuture {
                fut: None,
                guard: None,
                answer: Some(answer(ours, req, &self.conn)),
            },
        }
    }
}

/// A request we answer ourselves.
enum OwnAnswer {
    /// The health endpoint's: `ready`, or not; `close`: the connection
    /// closes after it.
    Health { ready: bool, close: bool },
    /// The metrics endpoint's; `close`: the connection closes after it.
    #[cfg(feature = "prometheus")]
    Metrics { close: bool },
    /// 503: the server is stopping.
    Refuse { refusal: Refusal, h1: bool },
}

/// Counts a request in, to be served by the user's service; or tells how we
/// answer it ourselves.
#[inline(never)]
fn admit(
    conn: &Arc<ConnState>,
    req: &mut Request<Incoming>,
    streams: &Streams,
) -> Result<RequestGuard, OwnAnswer> {
    let server = &*conn.server;
    let phase = server.lifecycle.phase();
    let h1 = req.version() < Version::HTTP_2;
    if !h1 {
        conn.mark_h2();
    }
    conn.mark_started();
    if let Some(path) = &server.health_path {
        if req.uri().path() == &**path {
            // After a handover the service stays ready: a successor serves.
            // Either way, from the first signal on an HTTP/1 connection
            // closes after the answer.
            let ready = phase == Phase::Running || server.lifecycle.is_handed_over();
            let close = h1 && phase != Phase::Running;
            return Err(OwnAnswer::Health { ready, close });
        }
    }
    #[cfg(feature = "prometheus")]
    if let Some(metrics) = &server.metrics {
        if req.uri().path() == &*metrics.path {
            // Answered through the drain, on the connections still open.
            let close = h1 && phase != Phase::Running;
            return Err(OwnAnswer::Metrics { close });
        }
    }
    // Once the listeners are closed, a request is refused on a connection
    // that was asked to close, or that was quiet for longer than the read
    // grace (its task may not have run yet: the decision must not wait);
    // unless it reached this host before the refusal began, and was only
    // read late (the kernel tells).
    if phase >= Phase::Refusing
        && (conn.is_refusing() || conn.quiet_in(server.read_grace) == Some(Duration::ZERO))
        && !conn.arrived_before_refusal()
    {
        return Err(OwnAnswer::Refuse {
            refusal: Refusal::start(conn),
            h1,
        });
    }
    // A request that may switch protocols carries the shutdown handle, so
    // that the task serving the upgraded connection is told of the
    // shutdown. hyper gives only such requests extensions: for any other,
    // this is one null check.
    if req
        .extensions()
        .get::<hyper::upgrade::OnUpgrade>()
        .is_some()
    {
        req.extensions_mut().insert(server.handle());
    }
    Ok(RequestGuard::start(conn, req, h1, streams))
}

pin_project! {
    /// The handler's future, carrying its request's guard into the response
    /// body; or, for a request we answer ourselves, that answer.
    ///
    /// A struct rather than an enum: hyper keeps it in place, and the
    /// compiler builds a struct's fields where they will stay, while it
    /// assembles an enum elsewhere and copies it, every request.
    pub(crate) struct TrackedFuture<F, B> {
        #[pin]
        fut: Option<F>,
        guard: Option<RequestGuard>,
        // Boxed: the rare answers must not make every handler's future
        // larger, which every move of it would pay for.
        answer: Option<Box<Response<TrackedBody<B>>>>,
    }
}

/// Our own answer to a request the user's service does not see.
#[cold]
#[inline(never)]
fn answer<B>(
    ours: OwnAnswer,
    req: Request<Incoming>,
    conn: &ConnState,
) -> Box<Response<TrackedBody<B>>> {
    Box::new(match ours {
        OwnAnswer::Health { ready, close } => answers::health(ready, close, TrackedBody::fixed),
        #[cfg(feature = "prometheus")]
        OwnAnswer::Metrics { close } => {
            let text = conn.server.metrics.as_ref().map(|m| m.render());
            answers::metrics(text.unwrap_or_default(), close, TrackedBody::fixed)
        }
        // Answer at once, whatever the body: a client may send it for a long
        // time, and read the answer only then. The body is left unread
        // (hyper stops reading and closes after the 503), so the connection
        // lingers: what the client still sends is discarded for a while, and
        // the close resets nothing the client has not read.
        OwnAnswer::Refuse { refusal, h1 } => {
            if !req.body().is_end_stream() {
                conn.set_linger();
            }
            let refused = |body| TrackedBody::Refused { body, refusal };
            if answers::is_grpc(&req) {
                answers::grpc_unavailable(refused)
            } else {
                answers::unavailable(h1, refused)
            }
        }
    })
}

impl<F, B, E> Future for TrackedFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<TrackedBody<B>>, BoxError>;

    // Always: hyper's dispatcher polls it once per request, and left to
    // itself LLVM stops inlining it once the router's boxed future is
    // inside (55 instructions a request, `graceful-bench instructions`).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            let answer = this
                .answer
                .take()
                .expect("TrackedFuture polled after completion");
            return Poll::Ready(Ok(*answer));
        };
        // A panic must not unwind through hyper: it would drop the
        // connection with no answer. Free when nothing panics.
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx)));
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result,
            Err(payload) => {
                this.fut.set(None);
                return Poll::Ready(panicked(this.guard.take(), &*payload));
            }
        };
        let guard = this
            .guard
            .take()
            .expect("TrackedFuture polled after completion");
        match result {
            Ok(response) => {
                #[cfg(feature = "metrics")]
                guard.answered(response.status());
                let upgrading = response.status() == StatusCode::SWITCHING_PROTOCOLS;
                if upgrading && guard.is_h1() {
                    guard.conn().mark_upgraded();
                }
                let closing = guard.is_h1() && guard.phase() != Phase::Running && !upgrading;
                let (mut parts, body) = response.into_parts();
                if closing {
                    parts
                        .headers
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                let body = TrackedBody::Tracked { body, guard };
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
            Err(err) => {
                // The handler answered, with an error: hyper closes the
                // connection. That is the handler's doing, not a cut.
                guard.finish();
                Poll::Ready(Err(err.into()))
            }
        }
    }
}

/// The answer to a request whose handler panicked: `500` over HTTP/1; over
/// HTTP/2 an error, which hyper turns into a stream reset with
/// `INTERNAL_ERROR`.
#[cold]
#[inline(never)]
fn panicked<B>(
    guard: Option<RequestGuard>,
    payload: &(dyn std::any::Any + Send),
) -> Result<Response<TrackedBody<B>>, BoxError> {
    let h1 = guard.as_ref().is_none_or(RequestGuard::is_h1);
    if let Some(guard) = &guard {
        guard.panicked(payload);
    }
    if h1 {
        Ok(answers::internal_error(TrackedBody::fixed))
    } else {
        Err("the handler panicked".into())
    }
}

pin_project! {
    /// The response body; its end (or drop) ends the request's accounting.
    #[project = TrackedBodyProj]
    pub(crate) enum TrackedBody<B> {
        Tracked {
            #[pin]
            body: B,
            guard: RequestGuard,
        },
        Fixed {
            body: crate::serve::response::Body,
        },
        Refused {
            body: crate::serve::response::Body,
            refusal: Refusal,
        },
    }
}

impl<B> TrackedBody<B> {
    fn fixed(body: crate::serve::response::Body) -> Self {
        TrackedBody::Fixed { body }
    }
}

impl<B> Body for TrackedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project() {
            TrackedBodyProj::Tracked { body, guard } => {
                let polled = std::panic::catch_unwind(AssertUnwindSafe(|| body.poll_frame(cx)));
                match polled {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(None)) => {
                        guard.finish();
                        Poll::Ready(None)
                    }
                    Ok(Poll::Ready(Some(Ok(frame)))) => {
                        if frame.is_trailers() {
                            // The last frame: hyper polls no further.
                            guard.finish();
                        }
                        Poll::Ready(Some(Ok(frame)))
                    }
                    Ok(Poll::Ready(Some(Err(err)))) => Poll::Ready(Some(Err(err.into()))),
                    Err(payload) => {
                        // Headers are sent: all that is left is to end the
                        // response as broken (closed, or the stream reset).
                        guard.panicked(&*payload);
                        Poll::Ready(Some(Err("the response body panicked".into())))
                    }
                }
            }
            TrackedBodyProj::Fixed { body } => Pin::new(body).poll_frame(cx),
            TrackedBodyProj::Refused { body, refusal } => {
                let polled = Pin::new(&mut *body).poll_frame(cx);
                if matches!(polled, Poll::Ready(None)) || body.is_end_stream() {
                    refusal.sent();
                }
                polled
            }
        }
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        match self {
            TrackedBody::Tracked { body, guard } => {
                let end = body.is_end_stream();
                if end {
                    // hyper drops a body that says it is empty without polling it.
                    guard.finish();
                }
                end
            }
            TrackedBody::Fixed { body } => body.is_end_stream(),
            TrackedBody::Refused { body, refusal } => {
                let end = body.is_end_stream();
                if end {
                    refusal.sent();
                }
                end
            }
        }
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        match self {
            TrackedBody::Tracked { body, .. } => body.size_hint(),
            TrackedBody::Fixed { body } | TrackedBody::Refused { body, .. } => body.size_hint(),
        }
    }
}
