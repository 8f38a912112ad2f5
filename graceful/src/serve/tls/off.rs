//! A build without the `tls` feature: no server can be a TLS server. The
//! same names as the feature's, so that serving is written once; the
//! types are uninhabited, and every branch on them compiles away.

use crate::config::{TlsFiles, TlsLimits};
use crate::error::Error;
use crate::serve::accounts::ServerShared;
use crate::serve::listen::Stream;

/// No TLS is given without the feature.
#[derive(Clone, Debug)]
pub(crate) enum Tls {}

/// No TLS server exists without the feature.
#[derive(Clone, Debug)]
pub(crate) enum TlsServer {}

/// No server has TLS; files named by the environment are an error, not a
/// server quietly serving cleartext.
pub(crate) fn server_tls(
    server: &str,
    _given: Option<&Tls>,
    from_env: Option<&TlsFiles>,
    _limits: TlsLimits,
) -> Result<Option<TlsServer>, Error> {
    match from_env {
        None => Ok(None),
        Some(files) => Err(Error::Tls {
            server: server.to_owned(),
            file: Some(files.cert.clone()),
            reason: format!(
                "the environment asks for TLS with it and {}, and this build has no TLS (the `tls` feature of graceful)",
                files.key.display()
            ),
        }),
    }
}

/// There is nothing to watch.
pub(crate) fn start_watching(
    _tls: &mut Option<TlsServer>,
    _server: &ServerShared,
) -> Option<tokio_util::task::AbortOnDropHandle<()>> {
    None
}

/// Never called: there is no [`TlsServer`] to call it with.
pub(crate) async fn handshake(
    tls: &TlsServer,
    _stream: Stream,
    _server: &ServerShared,
) -> Option<Stream> {
    match *tls {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> TlsLimits {
        TlsLimits {
            handshake_timeout: std::time::Duration::ZERO,
            max_handshakes: 1,
        }
    }

    #[test]
    fn tls_files_from_the_environment_are_an_error_without_the_feature() {
        assert!(matches!(server_tls("api", None, None, limits()), Ok(None)));
        let files = TlsFiles {
            cert: "tls.crt".into(),
            key: "tls.key".into(),
        };
        let err = server_tls("api", None, Some(&files), limits())
            .err()
            .map(|err| err.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("\"api\"") && err.contains("tls.crt") && err.contains("`tls` feature"),
            "{err}"
        );
    }
}
