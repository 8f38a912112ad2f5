//! TLS (feature `tls`) with clients nobody here wrote: `curl --cacert` over
//! HTTP/1.1 and HTTP/2, `openssl s_client` for ALPN, the certificate served
//! and the `close_notify` alert at each close, and a rustls client; the
//! helpers that start them are here, the tests in the modules.

#[path = "../support/mod.rs"]
mod support;

mod certificates;
mod closes;
mod handshakes;
mod race;
mod serving;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certificates::dated_certificate;
use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, has, test_dir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) use support::certificates::{certificate, openssl_pair};

/// `curl` to `https://localhost:<port><path>`, trusting `cert`, resolving
/// `localhost` to 127.0.0.1; the caller adds what it asks.
pub(crate) fn curl_to(cert: &Path, port: u16, path: &str) -> Command {
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "10", "--cacert"])
        .arg(cert)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://localhost:{port}{path}"));
    curl
}

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// The fixture serving TLS with `cert` and `key`.
pub(crate) fn tls_fixture(cert: &Path, key: &Path, env: &[(&str, &str)]) -> Fixture {
    let files = format!("{}:{}", path(cert), path(key));
    let mut all = vec![("FIXTURE_TLS", files.as_str()), JSON];
    all.extend_from_slice(env);
    Fixture::spawn(&[], &all)
}

/// `curl` over TLS, trusting `cert`: the body and the HTTP version used.
pub(crate) fn curl(cert: &Path, port: u16, version: &str) -> (String, String) {
    let out = curl_to(cert, port, "/")
        .args([version, "-w", "\n%{http_version}"])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, version) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_owned(), version.to_owned())
}

/// `openssl s_client` to `port`, offering `alpn`, with `input` written;
/// once its output shows the response (`hello world`), `then` runs, its
/// standard input still open; its whole output once the server has closed
/// (`-ign_eof`: its own input's end does not end it).
pub(crate) async fn s_client(
    port: u16,
    alpn: &str,
    input: &[u8],
    then: impl std::future::Future<Output = ()>,
) -> String {
    let mut child = tokio::process::Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args([
            "-servername",
            "localhost",
            "-alpn",
            alpn,
            "-msg",
            "-ign_eof",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl s_client");
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(input).await.expect("write to s_client");
    let mut stdout = child.stdout.take().expect("piped");
    let mut output = Vec::new();
    let read = async {
        let mut then = Some(then);
        let mut chunk = [0u8; 4096];
        loop {
            let n = stdout.read(&mut chunk).await.expect("s_client's output");
            if n == 0 {
                return;
            }
            output.extend_from_slice(&chunk[..n]);
            // The body has no line end: look for it in what came so far.
            if output.windows(11).any(|w| w == b"hello world") {
                if let Some(then) = then.take() {
                    then.await;
                }
            }
        }
    };
    tokio::time::timeout(support::PATIENCE, read)
        .await
        .expect("s_client ends once the server closes");
    drop(stdin);
    let _ = child.wait().await;
    String::from_utf8_lossy(&output).into_owned()
}

/// `openssl s_client` to `port` offering `alpn`: the handshake, then its
/// input's end closes it. Its whole output.
pub(crate) fn handshake_only(port: u16, alpn: &str) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-alpn", alpn])
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether the server sent its `close_notify` alert (`<<<` is what
/// s_client received).
pub(crate) fn heard_close_notify(output: &str) -> bool {
    output.lines().any(|line| {
        line.starts_with("<<<") && line.contains("Alert") && line.contains("close_notify")
    }) || output.contains("warning close_notify")
}

/// A certificate rustls takes as a server's (the `openssl req -x509` ones
/// are CA certificates, which webpki refuses as a server's).
pub(crate) fn rustls_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let now = time::OffsetDateTime::now_utc();
    dated_certificate(
        dir,
        "server",
        now - time::Duration::days(1),
        now + time::Duration::days(30),
    )
}

/// A rustls client's TLS connection to the server at `port`, trusting
/// `cert`, offering `alpn`.
pub(crate) async fn rustls_connect(
    port: u16,
    cert: &Path,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    graceful_load::client::Dial::tls_to_localhost(([127, 0, 0, 1], port).into(), cert, alpn)?
        .connect_tls()
        .await
}
