//! A build without the `tls` feature: no server can be a TLS server. The
//! same names as the feature's, so that serving is written once; the
//! types are uninhabited, and every branch on them compiles away.

use crate::serve::accounts::ServerShared;
use crate::serve::listen::Stream;
use crate::serve::server::Server;

/// No TLS server exists without the feature.
#[derive(Clone, Debug)]
pub(crate) enum TlsServer {}

/// No server has TLS.
pub(crate) fn server_tls(
    _server: &Server,
    _handshake_timeout: std::time::Duration,
) -> Result<Option<TlsServer>, crate::error::Error> {
    Ok(None)
}

/// Never called: there is no [`TlsServer`] to call it with.
pub(crate) async fn handshake(
    tls: &TlsServer,
    _stream: Stream,
    _server: &ServerShared,
) -> Option<Stream> {
    match *tls {}
}
