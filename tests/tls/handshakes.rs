//! Handshakes are bounded: in time, and in number.

use super::*;

#[tokio::test]
async fn a_silent_client_is_cut_at_the_handshake_timeout_while_another_is_served() {
    let dir = test_dir("tls-silent");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(&cert, &key, &[("GRACEFUL_TLS_HANDSHAKE_TIMEOUT", "500ms")]);
    let addr = app.addr("api").await;
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let connected = Instant::now();
    // Meanwhile, a client that does its handshake is served.
    assert_eq!(curl(&cert, addr.port(), "--http1.1").0, "hello world");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(support::PATIENCE, silent.read(&mut byte))
        .await
        .expect("the silent client is cut");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        connected.elapsed() >= Duration::from_millis(450),
        "cut before its timeout: {:?}",
        connected.elapsed()
    );
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    app.assert_report("api", &[("served", 1), ("tls_handshake_timeouts", 1)]);
}

/// With `tls_max_handshakes` under way, the next connection is closed at
/// once, before a byte of handshake; once the silent clients leave, their
/// places come back and a client is served.
#[tokio::test]
async fn a_connection_beyond_the_handshake_cap_is_closed_at_once_until_places_free() {
    const CAP: usize = 4;
    let dir = test_dir("tls-cap");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(
        &cert,
        &key,
        &[
            ("GRACEFUL_TLS_MAX_HANDSHAKES", "4"),
            ("GRACEFUL_TLS_HANDSHAKE_TIMEOUT", "1m"),
        ],
    );
    let addr = app.addr("api").await;
    // CAP + 1 clients that never say a word: whichever the server takes
    // last finds no place and is closed; the others hold theirs.
    let mut silent = tokio::task::JoinSet::new();
    for _ in 0..=CAP {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        silent.spawn(async move {
            let mut byte = [0u8; 1];
            let read = stream.read(&mut byte).await;
            (read.map_err(|err| err.kind()), stream)
        });
    }
    let (read, _closed) = tokio::time::timeout(support::PATIENCE, silent.join_next())
        .await
        .expect("one connection beyond the cap is closed at once")
        .expect("a client")
        .expect("its read");
    assert_eq!(read, Ok(0), "closed without a byte");

    // While the places are held, a client that would shake hands is shed too.
    let refused = curl_to(&cert, addr.port(), "/").output().expect("curl");
    assert!(!refused.status.success(), "served beyond the cap");

    // The silent clients leave; their places come back as the server sees
    // each go (a failed handshake), and a client is served.
    silent.shutdown().await;
    let mut shed_curls = 1;
    let deadline = Instant::now() + support::PATIENCE;
    let served = loop {
        let out = curl_to(&cert, addr.port(), "/").output().expect("curl");
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        shed_curls += 1;
        assert!(Instant::now() < deadline, "no place came back");
    };
    assert_eq!(served, "hello world");
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    app.assert_report(
        "api",
        &[
            ("served", 1),
            ("tls_handshakes_shed", 1 + shed_curls),
            ("tls_handshakes_failed", CAP as u64),
            ("tls_handshake_timeouts", 0),
        ],
    );
}

/// A handshake still under way at the signal is cut within the header
/// grace: it holds neither the drain nor the exit.
#[tokio::test]
async fn a_handshake_under_way_at_the_signal_does_not_hold_the_drain() {
    let dir = test_dir("tls-cut");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(
        &cert,
        &key,
        &[
            ("GRACEFUL_TLS_HANDSHAKE_TIMEOUT", "1m"),
            ("GRACEFUL_DRAIN_TIMEOUT", "30s"),
            ("GRACEFUL_SHUTDOWN_TIMEOUT", "40s"),
        ],
    );
    let addr = app.addr("api").await;
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // Served, so the silent client's connection was accepted before it.
    assert_eq!(curl(&cert, addr.port(), "--http1.1").0, "hello world");
    app.signal(SIGTERM);
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(support::PATIENCE, silent.read(&mut byte))
        .await
        .expect("the handshake is cut");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    app.exit_clean(&[]).await;
    app.assert_report(
        "api",
        &[
            ("served", 1),
            ("tls_handshake_timeouts", 1),
            ("cut_off", 0),
            ("connections_aborted", 0),
        ],
    );
}
