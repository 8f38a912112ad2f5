//! The connection's socket, watched for writes the client is not reading.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::drain::ConnState;

pin_project! {
    /// A `TcpStream` that records whether its last write is still pending,
    /// so that the drain tells a client that stops reading its response
    /// (kept until the drain deadline) from one that never sends a request
    /// (closed after the header grace); and whether the client sent anything.
    pub(crate) struct TrackedIo {
        #[pin]
        stream: TcpStream,
        conn: Arc<ConnState>,
    }
}

impl TrackedIo {
    pub(crate) fn new(stream: TcpStream, conn: Arc<ConnState>) -> Self {
        TrackedIo { stream, conn }
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
        self.project().stream.poll_shutdown(cx)
    }
}
