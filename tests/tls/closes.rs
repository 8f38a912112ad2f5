//! Every close says `close_notify`: seen by `openssl s_client`, and by a
//! rustls client that fails on a missing one.

use super::*;
use crate::certificates::dated_certificate;

#[tokio::test]
async fn a_response_with_connection_close_ends_with_close_notify() {
    let dir = test_dir("tls-close");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(&cert, &key, &[]);
    let port = app.addr("api").await.port();
    let request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let output = s_client(port, "http/1.1", request, async {}).await;
    assert!(output.contains("hello world"), "{output}");
    assert!(heard_close_notify(&output), "no close_notify: {output}");
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
}

#[tokio::test]
async fn an_idle_connection_closed_in_the_drain_ends_with_close_notify() {
    let dir = test_dir("tls-drain");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(&cert, &key, &[("GRACEFUL_READ_GRACE", "50ms")]);
    let port = app.addr("api").await.port();
    let request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    // A keep-alive connection, idle after its response, when SIGTERM comes.
    let app_ref = &app;
    let output = s_client(port, "http/1.1", request, async {
        // The response is out: the connection is idle when SIGTERM comes.
        app_ref.signal(SIGTERM);
    })
    .await;
    assert!(output.contains("hello world"), "{output}");
    assert!(heard_close_notify(&output), "no close_notify: {output}");
    app.exit_clean(&[]).await;
    app.assert_report("api", &[("served", 1), ("cut_off", 0)]);
}

/// A rustls client: sends `request` to the server at `port`, trusting
/// `cert`, and reads to the end. rustls reads an end without `close_notify`
/// as an error (`UnexpectedEof`), so `Ok` means the server said it.
async fn rustls_exchange(
    port: u16,
    cert: &Path,
    request: &[u8],
    after_response: impl std::future::Future<Output = ()>,
) -> std::io::Result<String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for trusted in rustls::pki_types::CertificateDer::pem_file_iter(cert).expect("the certificate")
    {
        roots.add(trusted.expect("a certificate")).expect("a root");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(request).await?;
    let mut head = [0u8; 512];
    let n = tls.read(&mut head).await?;
    after_response.await;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&head[..n]),
        String::from_utf8_lossy(&rest)
    ))
}

#[tokio::test]
async fn a_rustls_client_reads_every_close_to_a_clean_end() {
    let dir = test_dir("tls-rustls");
    // rustls (webpki) takes no CA certificate as a server's, which the
    // `openssl req -x509` ones are: rcgen's is not.
    let now = time::OffsetDateTime::now_utc();
    let (cert, key) = dated_certificate(
        &dir,
        "server",
        now - time::Duration::days(1),
        now + time::Duration::days(30),
    );
    let mut app = tls_fixture(&cert, &key, &[("GRACEFUL_READ_GRACE", "50ms")]);
    let port = app.addr("api").await.port();
    // A response with `Connection: close`.
    let closed = rustls_exchange(
        port,
        &cert,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        async {},
    )
    .await;
    assert!(
        closed
            .as_ref()
            .is_ok_and(|text| text.contains("hello world")),
        "{closed:?}"
    );
    // A keep-alive connection closed as idle in the drain.
    let app_ref = &app;
    let drained = rustls_exchange(
        port,
        &cert,
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        async {
            app_ref.signal(SIGTERM);
        },
    )
    .await;
    assert!(
        drained
            .as_ref()
            .is_ok_and(|text| text.contains("hello world")),
        "{drained:?}"
    );
    app.exit_clean(&[]).await;
}
