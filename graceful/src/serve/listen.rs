//! The listener and the streams of each kind of address: TCP, or a Unix
//! domain socket (the usual setup behind a local reverse proxy).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::addr::ListenAddr;

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixSocket),
}

/// A Unix domain socket: its file is removed when it is dropped, if this
/// process bound it (an inherited one's belongs to the service manager).
#[cfg(unix)]
#[derive(Debug)]
pub(crate) struct UnixSocket {
    listener: tokio::net::UnixListener,
    path: PathBuf,
    owns_file: bool,
}

#[cfg(unix)]
impl Drop for UnixSocket {
    fn drop(&mut self) {
        if self.owns_file {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Listener {
    /// Binds `addr`. A Unix socket's directory must exist; a socket file
    /// left by a process that is gone is replaced, one still served is not.
    pub(crate) async fn bind(addr: &ListenAddr) -> io::Result<Listener> {
        match addr {
            ListenAddr::Tcp(addr) => TcpListener::bind(addr).await.map(Listener::Tcp),
            #[cfg(unix)]
            ListenAddr::Unix(path) => bind_unix(path).map(Listener::Unix),
            #[cfg(not(unix))]
            ListenAddr::Unix(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "Unix domain sockets exist only on Unix",
            )),
        }
    }

    /// Serves an inherited listener (see `activation`), already checked to
    /// be a listening stream socket. A Unix socket's file is the service
    /// manager's if it holds the listener (`managed`), else this process's,
    /// removed when the listener is dropped.
    pub(crate) fn inherited(socket: socket2::Socket, managed: bool) -> io::Result<Listener> {
        socket.set_nonblocking(true)?;
        #[cfg(unix)]
        if socket.local_addr()?.domain() == socket2::Domain::UNIX {
            let path = socket
                .local_addr()?
                .as_pathname()
                .map(Path::to_owned)
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "an unnamed or abstract Unix socket",
                    )
                })?;
            let listener = tokio::net::UnixListener::from_std(socket.into())?;
            return Ok(Listener::Unix(UnixSocket {
                listener,
                path,
                owns_file: !managed,
            }));
        }
        TcpListener::from_std(socket.into()).map(Listener::Tcp)
    }

    /// Where it listens, with the port a `:0` address got.
    pub(crate) fn local_addr(&self) -> io::Result<ListenAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().map(ListenAddr::Tcp),
            #[cfg(unix)]
            Listener::Unix(socket) => Ok(ListenAddr::Unix(socket.path.clone())),
        }
    }

    /// Accepts a connection, if one is waiting.
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Stream>> {
        match self {
            Listener::Tcp(listener) => listener.poll_accept(cx).map_ok(|(stream, _)| {
                // Small responses should not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                Stream::Tcp(stream)
            }),
            #[cfg(unix)]
            Listener::Unix(socket) => socket
                .listener
                .poll_accept(cx)
                .map_ok(|(stream, _)| Stream::Unix(stream)),
        }
    }

    /// Accepts a connection the kernel has completed, asking the kernel
    /// itself: unlike [`Listener::poll_accept`], this does not trust the
    /// runtime's readiness, which lags behind the kernel when the reactor
    /// has not run yet. For the listener's last accepts, before it closes
    /// and resets whatever it still holds.
    pub(crate) fn accept_now(&self) -> io::Result<Option<Stream>> {
        let accepted = match self {
            Listener::Tcp(listener) => socket2::SockRef::from(listener).accept(),
            #[cfg(unix)]
            Listener::Unix(socket) => socket2::SockRef::from(&socket.listener).accept(),
        };
        let socket = match accepted {
            Ok((socket, _)) => socket,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(err) => return Err(err),
        };
        socket.set_nonblocking(true)?;
        Ok(Some(match self {
            Listener::Tcp(_) => {
                let _ = socket.set_tcp_nodelay(true);
                Stream::Tcp(TcpStream::from_std(socket.into())?)
            }
            #[cfg(unix)]
            Listener::Unix(_) => Stream::Unix(tokio::net::UnixStream::from_std(socket.into())?),
        }))
    }

    /// Its descriptor, for a successor to inherit (see `restart`).
    #[cfg(unix)]
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Listener::Tcp(listener) => listener.as_raw_fd(),
            Listener::Unix(socket) => socket.listener.as_raw_fd(),
        }
    }

    /// Lets the listener go without removing a Unix socket's file: a
    /// successor serves it now.
    pub(crate) fn let_go(self) {
        #[cfg(unix)]
        if let Listener::Unix(mut socket) = self {
            socket.owns_file = false;
        }
    }

    /// The TCP listener, for what only TCP has (handshakes under way).
    pub(crate) fn as_tcp(&self) -> Option<&TcpListener> {
        match self {
            Listener::Tcp(listener) => Some(listener),
            #[cfg(unix)]
            Listener::Unix(_) => None,
        }
    }
}

#[cfg(unix)]
fn bind_unix(path: &Path) -> io::Result<UnixSocket> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("the directory {} does not exist", dir.display()),
        ));
    }
    if path.exists() {
        use std::os::unix::fs::FileTypeExt;
        if !std::fs::symlink_metadata(path)?.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is served by another process", path.display()),
                ));
            }
            // Left by a process that is gone.
            Err(_) => std::fs::remove_file(path)?,
        }
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    Ok(UnixSocket {
        listener,
        path: path.to_owned(),
        owns_file: true,
    })
}

/// An accepted connection.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    /// Once its TLS handshake is done (see `tls`).
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<Stream>>),
}

impl Stream {
    /// Over TLS, says `close_notify` now if it has not been said, writing
    /// what the socket takes at once and waiting for nothing: called as the
    /// connection is dropped, whoever drops it (the app, with an upgraded
    /// connection; the drain, at its deadline).
    pub(crate) fn close_notify_now(&mut self) {
        /// The socket, written without waiting.
        #[cfg(feature = "tls")]
        struct Now<'a>(&'a Stream);
        #[cfg(feature = "tls")]
        impl io::Write for Now<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.try_write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        #[cfg(feature = "tls")]
        if let Stream::Tls(stream) = self {
            let (io, conn) = stream.get_mut();
            // Once said (tokio-rustls' shutdown), it is not said again.
            conn.send_close_notify();
            while conn.wants_write() {
                match conn.write_tls(&mut Now(io)) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
    }

    /// Writes what the socket takes now, without waiting.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.try_write(buf),
            #[cfg(unix)]
            Stream::Unix(stream) => stream.try_write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            Stream::Tcp(stream) => stream.as_raw_fd(),
            Stream::Unix(stream) => stream.as_raw_fd(),
            #[cfg(feature = "tls")]
            Stream::Tls(stream) => stream.get_ref().0.as_raw_fd(),
        }
    }
}

/// Forwards to the stream of either kind.
macro_rules! either {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream {
            Stream::Tcp($s) => $body,
            #[cfg(unix)]
            Stream::Unix($s) => $body,
            #[cfg(feature = "tls")]
            Stream::Tls($s) => $body,
        }
    };
}

impl AsyncRead for Stream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        either!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        either!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        either!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        either!(self, s => s.is_write_vectored())
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runtime learns that a connection waits only when its reactor
    /// runs; the kernel knows at once. The last accepts before a listener
    /// closes must ask the kernel, or a connection completed meanwhile is
    /// reset with the listener.
    #[tokio::test(flavor = "current_thread")]
    async fn the_last_accepts_ask_the_kernel_not_the_reactor() {
        let listener = Listener::Tcp(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let Ok(ListenAddr::Tcp(addr)) = listener.local_addr() else {
            panic!("a TCP address");
        };
        // Connected (the kernel completed the handshake), the reactor not run.
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(listener.poll_accept(&mut cx).is_pending());
        assert!(listener.accept_now().unwrap().is_some());
        assert!(listener.accept_now().unwrap().is_none());
    }
}
