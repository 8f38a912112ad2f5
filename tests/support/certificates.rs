//! Certificates for the TLS tests, made by the `openssl` command (Debian's
//! `openssl` package).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A self-signed certificate for `localhost` and 127.0.0.1, and its key,
/// made in `dir` under `name`.
pub fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    openssl_pair(&cert, &key, "localhost");
    (cert, key)
}

/// Writes a self-signed certificate for `localhost` and 127.0.0.1 whose
/// subject is `cn` to `cert`, and its key to `key`, with the `openssl`
/// command.
pub fn openssl_pair(cert: &Path, key: &Path, cn: &str) {
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "30", "-subj", &format!("/CN={cn}")])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command (Debian's openssl package)");
    assert!(made.success(), "openssl req failed");
}
