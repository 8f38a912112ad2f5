//! What the peers' TLS servers share: a `rustls::ServerConfig` with the
//! `ring` provider (graceful's), the certificate and key read from the
//! files `TLS_CERT` and `TLS_KEY` name, ALPN `h2` and `http/1.1`.

use std::io::{Error, Result};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The server configuration every peer serves.
pub fn server_config() -> Result<rustls::ServerConfig> {
    let var =
        |name: &str| std::env::var(name).map_err(|_| Error::other(format!("{name} is not set")));
    let certs = CertificateDer::pem_file_iter(var("TLS_CERT")?)
        .map_err(Error::other)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::other)?;
    let key = PrivateKeyDer::from_pem_file(var("TLS_KEY")?).map_err(Error::other)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(Error::other)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
