//! A certificate chain and its key, read from PEM files and checked: the
//! key fits the certificate, and the certificate is valid now (its end is
//! logged, as a warning when it is near).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::error::Error;

/// Fewer days than this left on a certificate, and its log line is a warning.
const EXPIRY_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where a server's certificate chain and key are.
#[derive(Clone, Debug)]
pub(crate) struct PemFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl PemFiles {
    /// Reads and checks both files for server `server`; an error names the
    /// file at fault.
    pub(crate) fn load(
        &self,
        server: &str,
        provider: &CryptoProvider,
    ) -> Result<CertifiedKey, Error> {
        let fail = |file: &Path, reason: String| Error::Tls {
            server: server.to_owned(),
            file: Some(file.to_owned()),
            reason,
        };
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|err| fail(&self.cert, err.to_string()))?;
        let Some(first) = chain.first() else {
            return Err(fail(&self.cert, "no certificate in the file".to_owned()));
        };
        check_validity(server, first).map_err(|reason| fail(&self.cert, reason))?;
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|err| fail(&self.key, err.to_string()))?;
        CertifiedKey::from_der(chain, key, provider).map_err(|err| {
            fail(
                &self.key,
                format!("the key does not fit the certificate: {err}"),
            )
        })
    }
}

/// The provider every server's config is built with, given explicitly:
/// `ring`, or `aws-lc-rs` with the `tls-aws-lc-rs` feature.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "tls-aws-lc-rs")]
    return Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    #[cfg(not(feature = "tls-aws-lc-rs"))]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Refuses a certificate that is not valid now; logs when it ends, with a
/// warning when that is near.
fn check_validity(server: &str, cert: &CertificateDer<'_>) -> Result<(), String> {
    use x509_cert::der::Decode;
    let parsed = x509_cert::Certificate::from_der(cert.as_ref())
        .map_err(|err| format!("not an X.509 certificate: {err}"))?;
    let validity = &parsed.tbs_certificate.validity;
    let now = std::time::SystemTime::now();
    if now < validity.not_before.to_system_time() {
        return Err(format!(
            "the certificate is not valid before {}",
            validity.not_before
        ));
    }
    let Ok(left) = validity.not_after.to_system_time().duration_since(now) else {
        return Err(format!("the certificate expired at {}", validity.not_after));
    };
    let days = left.as_secs() / (24 * 3600);
    if left < EXPIRY_WARNING {
        tracing::warn!(server, expires = %validity.not_after, expires_in_days = days, tls_certificate = "expiring", "the TLS certificate expires soon");
    } else {
        tracing::info!(server, expires = %validity.not_after, expires_in_days = days, tls_certificate = "valid", "TLS certificate");
    }
    Ok(())
}
