//! The connection's socket, watched for writes the client is not reading.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::listen::Stream;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::serve::accounts::ConnState;

/// How long a lingering close (see [`ConnState::set_linger`]) discards what
/// the client still sends, at most, before the socket is closed.
pub(crate) const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

pin_project! {
    /// A `TcpStream` that records whether its last write is still pending,
    /// so that the drain tells a client that stops reading its response
    /// (kept until the drain deadline) from one that never sends a request
    /// (closed after the header grace); and whether the client sent anything.
    /// It gives back the bytes read to tell the protocol, and closes with a
    /// lingering close when a request was answered unread.
    pub(crate) struct TrackedIo {
        #[pin]
        stream: Stream,
        conn: Arc<ConnState>,
        // Set once a lingering close has sent its FIN.
        linger: Option<Pin<Box<Sleep>>>,
        // The bytes read to tell the protocol, given back to hyper first.
        replay: [u8; 24],
        replay_start: u8,
        replay_end: u8,
    }

    impl PinnedDrop for TrackedIo {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // A TLS stream dropped without its shutdown still says
            // `close_notify`, if the socket takes it at once.
            this.stream.get_mut().close_notify_now();
            // Before the socket closes: see `ConnState::shut_down_socket`.
            this.conn.io_closed();
        }
    }
}

impl TrackedIo {
    pub(crate) fn new(stream: Stream, conn: Arc<ConnState>) -> Self {
        TrackedIo {
            stream,
            conn,
            linger: None,
            replay: [0; 24],
            replay_start: 0,
            replay_end: 0,
        }
    }

    /// Gives `bytes[..len]` back: the next reads return them first.
    pub(crate) fn replay(&mut self, bytes: [u8; 24], len: usize) {
        self.replay = bytes;
        self.replay_start = 0;
        self.replay_end = len.min(bytes.len()) as u8;
    }
}

impl AsyncRead for TrackedIo {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if this.replay_start < this.replay_end {
            let (start, end) = (
                usize::from(*this.replay_start),
                usize::from(*this.replay_end),
            );
            let n = (end - start).min(buf.remaining());
            buf.put_slice(&this.replay[start..start + n]);
            *this.replay_start += n as u8;
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let poll = this.stream.poll_read(cx, buf);
        if buf.filled().len() > before {
            this.conn.mark_read();
        }
        poll
    }
}

impl AsyncWrite for TrackedIo {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let poll = this.stream.poll_write(cx, buf);
        this.conn.set_write_pending(poll.is_pending());
        poll
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let poll = this.stream.poll_write_vectored(cx, bufs);
        this.conn.set_write_pending(poll.is_pending());
        poll
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_flush(cx)
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        if !this.conn.lingers() {
            return this.stream.poll_shutdown(cx);
        }
        linger(this.stream, this.linger, cx)
    }
}

/// A lingering close, as nginx does it: our FIN goes first, then what the
/// client still sends is read and discarded until it closes, or [`LINGER`]
/// has passed. Closing over unread data would reset the connection, and the
/// reset can destroy the answer the client has not read yet.
#[cold]
fn linger(
    mut stream: Pin<&mut Stream>,
    timer: &mut Option<Pin<Box<Sleep>>>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let timer = match timer {
        Some(timer) => timer,
        None => {
            std::task::ready!(stream.as_mut().poll_shutdown(cx))?;
            timer.insert(Box::pin(tokio::time::sleep(LINGER)))
        }
    };
    let mut buf = [0u8; 4096];
    loop {
        let mut read = ReadBuf::new(&mut buf);
        match stream.as_mut().poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(Ok(())),
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
            Poll::Pending => break,
        }
    }
    timer.as_mut().poll(cx).map(Ok)
}
