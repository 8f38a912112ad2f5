//! Every close says `close_notify`: seen by `openssl s_client`, and by a
//! rustls client that fails on a missing one.

use super::*;

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
    let mut tls = rustls_connect(port, cert, &[b"http/1.1"]).await?;
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
    let (cert, key) = rustls_certificate(&dir);
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

/// How the server ended a client's TLS connection, as the client's reads
/// saw it: `Ok` at `close_notify`, rustls' `UnexpectedEof` without one.
type End = Result<(), std::io::ErrorKind>;

/// Carries bytes between `client` (the HTTP/2 client's end of a pipe) and
/// `tls`; once the client is done (an HTTP/2 client ends when it has read a
/// GOAWAY and its streams are over), reads on until the server ends the
/// connection, and says how it did.
async fn relay(
    mut client: tokio::io::DuplexStream,
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> End {
    let (mut from_server, mut to_server) = tokio::io::split(tls);
    let mut up = [0u8; 16 * 1024];
    let mut down = [0u8; 16 * 1024];
    let mut client_open = true;
    loop {
        tokio::select! {
            read = client.read(&mut up), if client_open => match read {
                Ok(0) | Err(_) => client_open = false,
                Ok(n) => {
                    if to_server.write_all(&up[..n]).await.is_err() {
                        client_open = false;
                    }
                }
            },
            read = from_server.read(&mut down) => match read {
                Ok(0) => return Ok(()),
                Err(err) => return Err(err.kind()),
                Ok(n) => {
                    if client_open && client.write_all(&down[..n]).await.is_err() {
                        client_open = false;
                    }
                }
            },
        }
    }
}

/// An HTTP/2 client (the `h2` crate) over rustls, ALPN `h2`, asking for
/// `path`: its response's status and body (or the stream's error), and how
/// the server ended the connection, once it has.
async fn h2_exchange(
    port: u16,
    cert: &Path,
    path: &str,
    started: impl std::future::Future<Output = ()>,
) -> (Result<(u16, String), h2::Error>, End) {
    let tls = rustls_connect(port, cert, &[b"h2"]).await.expect("TLS");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let end = tokio::spawn(relay(theirs, tls));
    let (mut client, connection) = h2::client::handshake(ours).await.expect("h2");
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(format!("https://localhost:{port}{path}"))
        .body(())
        .expect("a request");
    let (response, _) = client.send_request(request, true).expect("sent");
    started.await;
    let answer = async {
        let response = response.await?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut text = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            let _ = body.flow_control().release_capacity(chunk.len());
            text.extend_from_slice(&chunk);
        }
        Ok((status, String::from_utf8_lossy(&text).into_owned()))
    }
    .await;
    drop(client);
    let _ = connection.await;
    let end = tokio::time::timeout(support::PATIENCE, end)
        .await
        .expect("the server ends the connection")
        .expect("the relay");
    (answer, end)
}

#[tokio::test]
async fn an_http2_connection_ends_with_close_notify_after_its_goaway() {
    let dir = test_dir("tls-h2-close");
    let (cert, key) = rustls_certificate(&dir);
    let mut app = tls_fixture(&cert, &key, &[]);
    let port = app.addr("api").await.port();
    let app_ref = &app;
    let (answer, end) = h2_exchange(port, &cert, "/slow?ms=300", async {
        app_ref.wait_for_started("slow", 1).await;
        app_ref.signal(SIGTERM);
    })
    .await;
    assert_eq!(answer.ok(), Some((200, "slow done".to_owned())));
    assert_eq!(end, Ok(()), "no close_notify after GOAWAY");
    app.exit_clean(&[]).await;
    app.assert_report("api", &[("drained", 1), ("cut_off", 0)]);
}

/// At the drain deadline, what is cut still hears `close_notify`, over
/// HTTP/1.1 and HTTP/2, before its socket goes.
#[tokio::test]
async fn connections_cut_at_the_drain_deadline_hear_close_notify() {
    let dir = test_dir("tls-deadline");
    let (cert, key) = rustls_certificate(&dir);
    let mut app = tls_fixture(&cert, &key, &[("GRACEFUL_DRAIN_TIMEOUT", "300ms")]);
    let port = app.addr("api").await.port();
    let h1 = {
        let cert = cert.clone();
        tokio::spawn(async move {
            let request = b"GET /slow?ms=20000 HTTP/1.1\r\nHost: localhost\r\n\r\n";
            rustls_exchange(port, &cert, request, async {}).await
        })
    };
    app.wait_for_started("slow", 1).await;
    let app_ref = &app;
    let (answer, end) = h2_exchange(port, &cert, "/slow?ms=20000", async {
        app_ref.wait_for_started("slow", 2).await;
        app_ref.signal(SIGTERM);
    })
    .await;
    assert!(answer.is_err(), "the HTTP/2 stream is cut: {answer:?}");
    assert_eq!(end, Ok(()), "HTTP/2: no close_notify at the deadline");
    let h1 = h1.await.expect("the HTTP/1.1 client");
    assert!(
        h1.as_ref().is_ok_and(|text| text.is_empty()),
        "HTTP/1.1: no close_notify at the deadline: {h1:?}"
    );
    let (code, _) = app.exit().await;
    assert_eq!(code, 3, "{}", app.log());
    app.assert_report("api", &[("cut_off", 2)]);
}
