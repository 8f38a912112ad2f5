//! TLS (feature `tls`) with clients nobody here wrote: `curl --cacert` over
//! HTTP/1.1 and HTTP/2, `openssl s_client` for ALPN, the certificate served
//! and the `close_notify` alert at each close; certificates made by the
//! `openssl` command; a silent client cut at the handshake timeout while
//! another is served; bad files refused at the start with exit code 2.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, has, test_dir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A self-signed certificate for `localhost` and 127.0.0.1, and its key,
/// made in `dir` under `name`.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
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
fn openssl_pair(cert: &Path, key: &Path, cn: &str) {
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

/// `curl` to `https://localhost:<port><path>`, trusting `cert`, resolving
/// `localhost` to 127.0.0.1; the caller adds what it asks.
fn curl_to(cert: &Path, port: u16, path: &str) -> Command {
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "10", "--cacert"])
        .arg(cert)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://localhost:{port}{path}"));
    curl
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// The fixture serving TLS with `cert` and `key`.
fn tls_fixture(cert: &Path, key: &Path, env: &[(&str, &str)]) -> Fixture {
    let files = format!("{}:{}", path(cert), path(key));
    let mut all = vec![("FIXTURE_TLS", files.as_str()), JSON];
    all.extend_from_slice(env);
    Fixture::spawn(&[], &all)
}

/// `curl` over TLS, trusting `cert`: the body and the HTTP version used.
fn curl(cert: &Path, port: u16, version: &str) -> (String, String) {
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
async fn s_client(
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
fn handshake_only(port: u16, alpn: &str) -> String {
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
fn heard_close_notify(output: &str) -> bool {
    output.lines().any(|line| {
        line.starts_with("<<<") && line.contains("Alert") && line.contains("close_notify")
    }) || output.contains("warning close_notify")
}

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

#[tokio::test]
async fn bad_certificate_files_fail_the_start_with_exit_code_2_naming_the_server_and_the_file() {
    let dir = test_dir("tls-bad");
    let (cert, key) = certificate(&dir, "server");
    let (_, other_key) = certificate(&dir, "other");
    let missing = dir.join("missing.crt");
    let not_pem = dir.join("empty.crt");
    std::fs::write(&not_pem, "not a certificate\n").expect("write");
    for (cert, key, file) in [
        (&missing, &key, &missing),
        (&not_pem, &key, &not_pem),
        (&cert, &other_key, &other_key),
    ] {
        let error = failed_start(&mut tls_fixture(cert, key, &[])).await;
        assert!(
            error.contains("server \"api\"") && error.contains(path(file)),
            "{error}"
        );
    }
}

/// Waits for `app` to fail its start: exit code 2, nothing served, the
/// failure's event with its code. The error it names.
async fn failed_start(app: &mut Fixture) -> String {
    let (code, _) = app.exit().await;
    let log = app.log();
    assert_eq!(code, 2, "{log}");
    assert!(!app.listened(), "a listener served: {log}");
    let failed = app
        .event_where(&[("startup", "failed")])
        .unwrap_or_else(|| panic!("no start-up failure: {log}"));
    assert!(has(&failed, &[("exit_code", "2")]), "{failed}");
    failed["error"].as_str().unwrap_or_default().to_owned()
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

#[tokio::test]
async fn the_environment_names_a_server_s_certificate_and_key() {
    let dir = test_dir("tls-env");
    let (cert, key) = certificate(&dir, "server");
    // A server given no TLS in code serves it from the environment's files.
    let mut app = Fixture::spawn(
        &[],
        &[
            ("GRACEFUL_TLS_CERT_API", path(&cert)),
            ("GRACEFUL_TLS_KEY_API", path(&key)),
            JSON,
        ],
    );
    let port = app.addr("api").await.port();
    assert_eq!(curl(&cert, port, "--http1.1").0, "hello world");
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    // One of the two alone is a start-up error naming the other.
    let mut half = Fixture::spawn(&[], &[("GRACEFUL_TLS_CERT_API", path(&cert)), JSON]);
    let error = failed_start(&mut half).await;
    assert!(
        error.contains("GRACEFUL_TLS_KEY_API must be set too"),
        "{error}"
    );
}

#[tokio::test]
async fn the_server_attribute_names_its_certificate_and_key() {
    let dir = test_dir("tls-attribute");
    let (cert, key) = certificate(&dir, "server");
    std::fs::rename(&cert, dir.join("cert.pem")).expect("rename");
    std::fs::rename(&key, dir.join("key.pem")).expect("rename");
    let binary: &Path = env!("CARGO_BIN_EXE_tls-attribute-fixture").as_ref();
    let mut app = Fixture::spawn_in(binary, &dir, &[JSON]);
    let port = app.addr("api").await.port();
    let cert = dir.join("cert.pem");
    assert_eq!(
        curl(&cert, port, "--http2"),
        ("hello over TLS".into(), "2".into())
    );
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    // Without the files, the start fails naming the file.
    std::fs::remove_file(&cert).expect("remove");
    let error = failed_start(&mut Fixture::spawn_in(binary, &dir, &[JSON])).await;
    assert!(error.contains("cert.pem"), "{error}");
}

/// A self-signed certificate for `localhost` valid from `not_before` to
/// `not_after`, made with rcgen (the `openssl` command cannot date one in
/// the past), and its key, in `dir`.
fn dated_certificate(
    dir: &Path,
    name: &str,
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
) -> (PathBuf, PathBuf) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params.not_before = not_before;
    params.not_after = not_after;
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = params.self_signed(&key).expect("a certificate");
    let (cert_path, key_path) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert_path, cert.pem()).expect("write");
    std::fs::write(&key_path, key.serialize_pem()).expect("write");
    (cert_path, key_path)
}

#[tokio::test]
async fn an_expired_certificate_fails_the_start_and_one_near_its_end_is_warned_of() {
    let dir = test_dir("tls-dates");
    let now = time::OffsetDateTime::now_utc();
    let (expired, expired_key) = dated_certificate(
        &dir,
        "expired",
        now - time::Duration::days(30),
        now - time::Duration::days(1),
    );
    let error = failed_start(&mut tls_fixture(&expired, &expired_key, &[])).await;
    assert!(
        error.contains(path(&expired)) && error.contains("expired"),
        "{error}"
    );

    let (soon, soon_key) = dated_certificate(
        &dir,
        "soon",
        now - time::Duration::days(1),
        now + time::Duration::days(2),
    );
    let mut app = tls_fixture(&soon, &soon_key, &[]);
    app.addr("api").await;
    let warned = app
        .event_where(&[("tls_certificate", "expiring"), ("server", "api")])
        .unwrap_or_else(|| panic!("no warning: {}", app.log()));
    assert!(
        has(&warned, &[("expires_in_days", "1")]) || has(&warned, &[("expires_in_days", "2")]),
        "{warned}"
    );
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;

    // A certificate far from its end is logged, not warned of.
    let (cert, key) = certificate(&dir, "fine");
    let mut app = tls_fixture(&cert, &key, &[]);
    app.addr("api").await;
    assert!(
        app.event_where(&[("tls_certificate", "valid"), ("server", "api")])
            .is_some(),
        "{}",
        app.log()
    );
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
}

/// Points `dir/..data` at `dir/<version>`, atomically, as the kubelet and
/// cert-manager swap a mounted secret: a new link renamed over the old.
fn swap_data(dir: &Path, version: &str) {
    let link = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(version, &link).expect("symlink");
    std::fs::rename(&link, dir.join("..data")).expect("rename over ..data");
}

/// The subject of the certificate the server at `port` serves.
fn served_subject(port: u16) -> String {
    let out = handshake_only(port, "http/1.1");
    out.lines()
        .find(|line| line.starts_with("subject="))
        .unwrap_or_default()
        .to_owned()
}

/// A certificate for `localhost` whose subject is `cn`, made by `openssl`.
fn named_certificate(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).expect("a directory");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    openssl_pair(&cert, &key, cn);
    (cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_renewed_by_a_directory_swap_is_served_without_refusing_anything() {
    let dir = test_dir("tls-reload");
    let (v1, _) = named_certificate(&dir.join("v1"), "renewed-v1");
    let (v2, _) = named_certificate(&dir.join("v2"), "renewed-v2");
    // v3: a certificate with a key that does not fit it, as a half-written
    // renewal leaves it.
    let (v3, _) = named_certificate(&dir.join("v3"), "renewed-v3");
    let (_, other_key) = named_certificate(&dir.join("other"), "other");
    std::fs::copy(&other_key, dir.join("v3").join("key.pem")).expect("copy");
    // The mounted secret: cert.pem -> ..data/cert.pem, ..data -> v1.
    swap_data(&dir, "v1");
    std::os::unix::fs::symlink("..data/cert.pem", dir.join("cert.pem")).expect("symlink");
    std::os::unix::fs::symlink("..data/key.pem", dir.join("key.pem")).expect("symlink");
    // Clients trust both, as they trust one CA in practice.
    let bundle = dir.join("bundle.pem");
    let both = [
        std::fs::read_to_string(&v1).unwrap(),
        std::fs::read_to_string(&v2).unwrap(),
        std::fs::read_to_string(&v3).unwrap(),
    ]
    .concat();
    std::fs::write(&bundle, both).expect("write");

    let mut app = tls_fixture(&dir.join("cert.pem"), &dir.join("key.pem"), &[]);
    let port = app.addr("api").await.port();
    assert!(
        served_subject(port).contains("renewed-v1"),
        "{}",
        served_subject(port)
    );

    // New connections all along, across the swap.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, bundle) = (std::sync::Arc::clone(&stop), bundle.clone());
        tokio::task::spawn_blocking(move || {
            let (mut served, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let out = curl_to(&bundle, port, "/").output().expect("curl");
                if out.status.success() && out.stdout == b"hello world" {
                    served += 1;
                } else {
                    failed.push(String::from_utf8_lossy(&out.stderr).into_owned());
                }
            }
            (served, failed)
        })
    };
    swap_data(&dir, "v2");
    app.wait_for_event(&[("tls_certificate", "reloaded")]).await;
    assert!(
        served_subject(port).contains("renewed-v2"),
        "{}",
        served_subject(port)
    );

    // A pair that does not load is logged, and the one before stays.
    swap_data(&dir, "v3");
    let failed = app
        .wait_for_event(&[("tls_certificate", "reload-failed")])
        .await;
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not fit")),
        "{failed}"
    );
    assert!(
        served_subject(port).contains("renewed-v2"),
        "{}",
        served_subject(port)
    );

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (served, failures) = load.await.expect("the load ran");
    eprintln!("{served} requests on new connections across the swaps");
    assert!(failures.is_empty(), "refused or failed: {failures:#?}");
    assert!(served > 0);
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
}

#[tokio::test]
async fn the_handle_asks_for_the_certificates_to_be_read_again() {
    let dir = test_dir("tls-reload-asked");
    let (cert, key) = certificate(&dir, "server");
    let mut app = tls_fixture(&cert, &key, &[]);
    let port = app.addr("api").await.port();
    let out = curl_to(&cert, port, "/reload-tls").output().expect("curl");
    assert_eq!(
        out.stdout,
        b"reloading",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The files did not change: only the ask reads them again.
    let reloaded = app.wait_for_event(&[("tls_certificate", "reloaded")]).await;
    assert!(has(&reloaded, &[("asked", "true")]), "{reloaded}");
    app.signal(SIGTERM);
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
