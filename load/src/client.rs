//! An HTTP/1.1 keep-alive client, driven by hyper, that classifies every
//! request: answered, refused cleanly, or lost after it was written; over
//! cleartext TCP, or over TLS (feature `tls`, rustls).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One keep-alive connection.
pub type Connection = SendRequest<Full<Bytes>>;

/// Where a client connects: a TCP address, spoken to in cleartext or over
/// TLS.
#[derive(Clone)]
pub enum Dial {
    /// Cleartext HTTP/1.1.
    Tcp(SocketAddr),
    /// HTTP/1.1 over TLS, with the name the server's certificate is checked
    /// against.
    #[cfg(feature = "tls")]
    Tls {
        /// The server's address.
        addr: SocketAddr,
        /// The client's TLS configuration.
        connector: tokio_rustls::TlsConnector,
        /// The server's name.
        name: rustls::pki_types::ServerName<'static>,
    },
}

impl From<SocketAddr> for Dial {
    fn from(addr: SocketAddr) -> Dial {
        Dial::Tcp(addr)
    }
}

/// A rustls client's configuration (the `ring` provider), trusting the PEM
/// certificates in `cert`, offering `alpn`; session resumption off, so that
/// every new connection is a full handshake.
#[cfg(feature = "tls")]
pub fn tls_config(
    cert: &std::path::Path,
    alpn: &[&[u8]],
) -> std::io::Result<std::sync::Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for trusted in
        rustls::pki_types::CertificateDer::pem_file_iter(cert).map_err(std::io::Error::other)?
    {
        roots
            .add(trusted.map_err(std::io::Error::other)?)
            .map_err(std::io::Error::other)?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(std::sync::Arc::new(config))
}

#[cfg(feature = "tls")]
impl Dial {
    /// TLS to `addr` as `localhost`, trusting `cert`, offering `alpn` (see
    /// [`tls_config`]).
    pub fn tls_to_localhost(
        addr: SocketAddr,
        cert: &std::path::Path,
        alpn: &[&[u8]],
    ) -> std::io::Result<Dial> {
        Ok(Dial::Tls {
            addr,
            connector: tokio_rustls::TlsConnector::from(tls_config(cert, alpn)?),
            name: rustls::pki_types::ServerName::try_from("localhost")
                .map_err(std::io::Error::other)?,
        })
    }

    /// Opens the TLS stream itself, with no HTTP on it (`Nagle` off); an
    /// error for a cleartext dial.
    pub async fn connect_tls(&self) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let Dial::Tls {
            addr,
            connector,
            name,
        } = self
        else {
            return Err(std::io::ErrorKind::Unsupported.into());
        };
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        connector.connect(name.clone(), stream).await
    }
}

impl Dial {
    /// Opens a keep-alive connection.
    pub async fn connect(&self) -> std::io::Result<Connection> {
        match self {
            Dial::Tcp(addr) => connect(*addr).await,
            #[cfg(feature = "tls")]
            Dial::Tls { .. } => handshake(self.connect_tls().await.map_err(tls_refused)?).await,
        }
    }
}

/// A TLS handshake that the server ended (a closed connection, a reset)
/// wrote no request: a clean refusal. A certificate refused is not one.
#[cfg(feature = "tls")]
fn tls_refused(err: std::io::Error) -> std::io::Error {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    match err.kind() {
        UnexpectedEof | ConnectionReset | BrokenPipe => {
            std::io::Error::new(ConnectionAborted, format!("TLS handshake ended: {err}"))
        }
        _ => err,
    }
}

/// Opens a cleartext keep-alive connection.
pub async fn connect(addr: SocketAddr) -> std::io::Result<Connection> {
    handshake(TcpStream::connect(addr).await?).await
}

async fn handshake<T>(stream: T) -> std::io::Result<Connection>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Whether a connect error means the server refused cleanly: refused, or
/// reset during the handshake by a closing listener, or a TLS handshake
/// the server ended (no byte of a request was written).
pub fn refused(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
    )
}

/// A response read to its end.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its whole body.
    pub body: Bytes,
}

impl Answer {
    /// Whether the server closes the connection after it.
    pub fn closes(&self) -> bool {
        self.headers
            .get(hyper::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("<not utf-8>")
    }
}

/// What became of one request.
#[derive(Debug)]
pub enum Outcome {
    /// A complete response.
    Answered(Answer),
    /// The connection closed before the request was written: clean, retryable.
    NotSent,
    /// The request was written, then the connection failed, or the body was cut.
    Failed(String),
}

/// Sends one request and reads its response to the end.
pub async fn send(
    sender: &mut Connection,
    method: &str,
    path: &str,
    body: &'static [u8],
) -> Outcome {
    if sender.ready().await.is_err() {
        return Outcome::NotSent;
    }
    let req = match Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "localhost")
        .body(Full::new(Bytes::from_static(body)))
    {
        Ok(req) => req,
        Err(err) => return Outcome::Failed(format!("invalid request: {err}")),
    };
    match sender.try_send_request(req).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            match body.collect().await {
                Ok(body) => Outcome::Answered(Answer {
                    status: parts.status,
                    headers: parts.headers,
                    body: body.to_bytes(),
                }),
                Err(err) => Outcome::Failed(format!("body cut: {err}")),
            }
        }
        Err(err) if err.message().is_some() => Outcome::NotSent,
        Err(err) => Outcome::Failed(err.into_error().to_string()),
    }
}
