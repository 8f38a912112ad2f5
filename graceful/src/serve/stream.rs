//! Long-lived responses (server-sent events, long polls, chunked streams)
//! that end cleanly when the shutdown begins.
//!
//! A streaming response is a request in flight: the drain waits for it, and
//! nothing but the drain deadline would end it. [`EndOnShutdown`] ends it at
//! the shutdown's start instead, after an optional last frame, so that the
//! client sees a complete response (and, for SSE, a last event telling it to
//! reconnect elsewhere) and the drain does not wait.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::lifecycle::handle::ShutdownHandle;

pin_project! {
    /// A response body that ends when the shutdown begins.
    ///
    /// Until then it yields `body`'s frames; from the first signal on it
    /// yields the last frame, if one was given with
    /// [`last_frame`](EndOnShutdown::last_frame), and ends. A frame that was
    /// being produced is dropped, never cut in half.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use graceful::{Body, EndOnShutdown, ShutdownHandle};
    /// use graceful::hyper::Response;
    ///
    /// fn events(handle: &ShutdownHandle, ticks: Body) -> Response<Body> {
    ///     let body = EndOnShutdown::new(ticks, handle)
    ///         .last_frame(Bytes::from_static(b"event: bye\ndata: going away\n\n"));
    ///     Response::new(Body::new(body))
    /// }
    /// # let _ = events;
    /// ```
    pub struct EndOnShutdown<B> {
        #[pin]
        body: B,
        #[pin]
        shutting_down: WaitForCancellationFutureOwned,
        last: Option<Bytes>,
        ended: bool,
    }
}

impl<B> fmt::Debug for EndOnShutdown<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndOnShutdown")
            .field("last", &self.last)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<B> EndOnShutdown<B> {
    /// Wraps `body`, to end when `handle`'s shutdown begins.
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// let body = graceful::EndOnShutdown::new(http_body_util::Empty::<bytes::Bytes>::new(), &handle);
    /// # drop(body);
    /// ```
    pub fn new(body: B, handle: &ShutdownHandle) -> Self {
        EndOnShutdown {
            body,
            shutting_down: handle.lifecycle().begun_owned(),
            last: None,
            ended: false,
        }
    }

    /// The frame sent last, at the shutdown: for SSE, an event telling the
    /// client why the stream ends.
    ///
    /// ```
    /// # let handle = graceful::App::new().handle();
    /// # let body = http_body_util::Empty::<bytes::Bytes>::new();
    /// let body = graceful::EndOnShutdown::new(body, &handle)
    ///     .last_frame(bytes::Bytes::from_static(b"event: bye\ndata: going away\n\n"));
    /// # drop(body);
    /// ```
    pub fn last_frame(mut self, frame: impl Into<Bytes>) -> Self {
        self.last = Some(frame.into());
        self
    }
}

impl<B> Body for EndOnShutdown<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        if this.shutting_down.poll(cx).is_ready() {
            *this.ended = true;
            return Poll::Ready(this.last.take().map(|last| Ok(Frame::data(last))));
        }
        let polled = this.body.poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            *this.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.body.is_end_stream() && self.last.is_none())
    }

    fn size_hint(&self) -> SizeHint {
        // The stream may end early, or send one more frame.
        SizeHint::default()
    }
}
