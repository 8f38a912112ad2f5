//! Serving over TLS: HTTP/1.1 and HTTP/2 with curl, a request drained at
//! SIGTERM, readiness, server-sent events, the restart by handoff and the
//! Kubernetes recipe.

use super::*;
use crate::certificates::{named_certificate, served_subject, swap_data};

#[tokio::test]
async fn curl_is_served_over_http1_and_http2_with_the_certificate_given() {
    let dir = test_dir("tls-curl");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(&cert, &key, &[]);
    let port = app.addr("api").await.port();
    assert_eq!(
        curl(&cert, port, "--http1.1"),
        ("hello world".into(), "1.1".into())
    );
    // ALPN negotiates HTTP/2.
    assert_eq!(
        curl(&cert, port, "--http2"),
        ("hello world".into(), "2".into())
    );
    let alpn = handshake_only(port, "h2");
    assert!(alpn.contains("ALPN protocol: h2"), "{alpn}");
    assert!(
        alpn.contains("CN = localhost"),
        "the certificate served: {alpn}"
    );
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    app.assert_report("api", &[("served", 2), ("tls_handshakes_failed", 0)]);
}

#[tokio::test]
async fn an_http2_request_in_flight_over_tls_is_drained_at_sigterm() {
    let dir = test_dir("tls-h2-drain");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(&cert, &key, &[]);
    let port = app.addr("api").await.port();
    let slow = tokio::task::spawn_blocking(move || {
        curl_to(&cert, port, "/slow?ms=600")
            .args(["--http2", "-w", "\n%{http_version} %{http_code}"])
            .output()
            .expect("curl")
    });
    app.wait_for_event(&[("started", "slow")]).await;
    app.signal(SIGTERM);
    let out = slow.await.expect("curl ran");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Answered over HTTP/2 after the signal: the GOAWAY let it finish.
    assert_eq!(text, "slow done\n2 200", "{}", app.log());
    app.exit_clean(&[]).await;
    app.assert_report("api", &[("drained", 1), ("cut_off", 0)]);
}

/// `curl` over TLS: the status code of `path`.
fn status(cert: &Path, port: u16, path: &str) -> String {
    let out = curl_to(cert, port, path)
        .args(["-o", "/dev/null", "-w", "%{http_code}"])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn readiness_turns_503_over_tls_while_the_pre_stop_window_still_serves() {
    let dir = test_dir("tls-ready");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(
        &cert,
        &key,
        &[
            ("GRACEFUL_HEALTH_PATH", "/healthz"),
            ("GRACEFUL_PRE_STOP_DELAY", "1s"),
        ],
    );
    let port = app.addr("api").await.port();
    assert_eq!(status(&cert, port, "/healthz"), "200");
    app.signal(SIGTERM);
    app.wait_for_event(&[("message", "shutdown started")]).await;
    // New TLS connections are still served, and told the instance leaves.
    assert_eq!(status(&cert, port, "/healthz"), "503");
    assert_eq!(status(&cert, port, "/"), "200");
    app.exit_clean(&[]).await;
}

#[tokio::test]
async fn a_server_sent_event_stream_over_tls_ends_with_its_last_event() {
    let dir = test_dir("tls-sse");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(&cert, &key, &[]);
    let port = app.addr("api").await.port();
    let mut curl = tokio::process::Command::from(curl_to(&cert, port, "/events"));
    let mut stream = curl
        .args(["-N", "--http1.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("curl");
    let mut stdout = stream.stdout.take().expect("piped");
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    // Ticks flow; then the signal.
    while !seen.windows(5).any(|w| w == b"data:") {
        let n = tokio::time::timeout(support::PATIENCE, stdout.read(&mut chunk))
            .await
            .expect("a tick")
            .expect("curl's output");
        assert!(
            n > 0,
            "the stream ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..n]);
    }
    app.signal(SIGTERM);
    stdout.read_to_end(&mut seen).await.expect("curl's output");
    let out = stream.wait_with_output().await.expect("curl ends");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.ends_with("event: bye\ndata: going away\n\n"), "{text}");
    // The response is complete (its chunked end read), so curl exits 0.
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    app.exit_clean(&[]).await;
}

#[tokio::test]
async fn a_restart_by_handoff_serves_tls_from_a_successor_that_read_the_files_itself() {
    use nix::sys::signal::{Signal::SIGUSR2, kill};
    use nix::unistd::Pid;
    let dir = test_dir("tls-restart");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(&cert, &key, &[]);
    let port = app.addr("api").await.port();
    assert_eq!(curl(&cert, port, "--http1.1").0, "hello world");
    app.signal(SIGUSR2);
    let successor = support::successor(&app, 1).await;
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    // The parent is gone: the successor answers, over TLS, with the
    // certificate it loaded as it started (its line is the second).
    assert_eq!(
        curl(&cert, port, "--http2"),
        ("hello world".into(), "2".into())
    );
    app.wait_for_events(&[("tls_certificate", "valid")], 2)
        .await;
    kill(Pid::from_raw(successor), SIGTERM).expect("signal the successor");
    support::gone(successor).await;
}

#[tokio::test]
async fn the_kubernetes_tls_recipe_serves_the_mounted_secret_and_its_renewal() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let yaml =
        std::fs::read_to_string(root.join("examples/kubernetes/tls.yaml")).expect("the manifest");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    assert!(readme.contains(&yaml), "README.md's TLS manifest differs");
    // The manifest's environment, each `- name:` followed by its `value:`.
    let lines: Vec<&str> = yaml.lines().map(str::trim).collect();
    let env: Vec<(String, String)> = lines
        .windows(2)
        .filter_map(|pair| {
            let name = pair[0].strip_prefix("- name: ")?;
            let value = pair[1].strip_prefix("value: ")?.trim_matches('"');
            name.starts_with("GRACEFUL_")
                .then(|| (name.to_owned(), value.to_owned()))
        })
        .collect();
    let mount = lines
        .iter()
        .find_map(|line| line.strip_prefix("mountPath: "))
        .expect("a mountPath");
    // The mounted Secret, laid out as the kubelet does: tls.crt -> ..data/tls.crt.
    let dir = test_dir("tls-kubernetes");
    for (version, cn) in [("v1", "secret-v1"), ("v2", "secret-v2")] {
        let (cert, key) = named_certificate(&dir.join(version), cn);
        std::fs::rename(cert, dir.join(version).join("tls.crt")).expect("rename");
        std::fs::rename(key, dir.join(version).join("tls.key")).expect("rename");
    }
    swap_data(&dir, "v1");
    for file in ["tls.crt", "tls.key"] {
        std::os::unix::fs::symlink(format!("..data/{file}"), dir.join(file)).expect("symlink");
    }
    let mounted = |value: &str| value.replace(mount, path(&dir));
    let settings: Vec<(String, String)> = env
        .iter()
        .map(|(name, value)| match name.as_str() {
            "GRACEFUL_ADDR_API" => (name.clone(), "127.0.0.1:0".to_owned()),
            _ => (name.clone(), mounted(value)),
        })
        .collect();
    let mut settings: Vec<(&str, &str)> = settings.iter().map(|(n, v)| (&**n, &**v)).collect();
    settings.push(JSON);
    let mut app = Fixture::spawn(&[], &settings);
    let port = app.addr("api").await.port();
    assert!(
        served_subject(port).contains("secret-v1"),
        "{}",
        served_subject(port)
    );
    let cert = dir.join("tls.crt");
    assert_eq!(status(&cert, port, "/healthz"), "200");
    swap_data(&dir, "v2");
    app.wait_for_event(&[("tls_certificate", "reloaded")]).await;
    assert!(
        served_subject(port).contains("secret-v2"),
        "{}",
        served_subject(port)
    );
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
}

/// A WebSocket over TLS (`wss`): served like any upgrade, told at the
/// signal, and closed with `1001 going away`, then the TLS alert.
#[tokio::test]
async fn a_websocket_over_tls_says_goodbye_at_the_signal() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let dir = test_dir("tls-wss");
    let (cert, key) = rustls_certificate(&dir);
    let mut app = tls_fixture(&cert, &key, &[]);
    let port = app.addr("api").await.port();
    let tls = rustls_connect(port, &cert, &[b"http/1.1"])
        .await
        .expect("TLS");
    let (mut socket, _) =
        tokio_tungstenite::client_async(format!("wss://localhost:{port}/ws"), tls)
            .await
            .expect("a WebSocket handshake over TLS");
    socket.send(Message::text("ping")).await.expect("sent");
    assert_eq!(
        socket.next().await.and_then(Result::ok),
        Some(Message::text("ping"))
    );
    app.signal(SIGTERM);
    let close = loop {
        match socket.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}: {}", app.log()),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::Away, "going away")
    );
    // The client's reply completes the closing handshake; the server's end
    // then reads as a clean one (rustls reports one without `close_notify`).
    while let Some(next) = socket.next().await {
        assert!(next.is_ok(), "an unclean end: {next:?}");
    }
    app.exit_clean(&[]).await;
    app.assert_report(
        "api",
        &[
            ("upgraded", 1),
            ("upgraded_closed", 1),
            ("upgraded_cut_off", 0),
        ],
    );
}

/// Socket activation over TLS: `systemd-socket-activate` holds the port,
/// the first connection starts the process, which reads its certificate
/// and serves that connection's handshake from the inherited listener.
#[tokio::test]
async fn an_activated_tls_server_serves_the_connection_that_started_it() {
    let dir = test_dir("tls-activated");
    let (cert, key) = certificate(&dir, "server");
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let files = format!("{}:{}", path(&cert), path(&key));
    let mut app = Fixture::socket_activated(
        &[&listen],
        &["--fdname=api"],
        &[],
        &[("FIXTURE_TLS", files.as_str()), JSON],
    );
    app.activation_listening(1).await;
    assert_eq!(curl(&cert, port, "--http2").0, "hello world");
    app.wait_for_event(&[("name", "api"), ("inherited", "api (fd 3)")])
        .await;
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    app.assert_report("api", &[("served", 1), ("tls_handshakes_failed", 0)]);
}
