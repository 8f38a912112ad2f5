//! Certificates: where they are named, what is refused at the start, and
//! the renewal while serving.

use super::*;

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
pub(crate) fn dated_certificate(
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
pub(crate) fn swap_data(dir: &Path, version: &str) {
    let link = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(version, &link).expect("symlink");
    std::fs::rename(&link, dir.join("..data")).expect("rename over ..data");
}

/// The subject of the certificate the server at `port` serves.
pub(crate) fn served_subject(port: u16) -> String {
    let out = handshake_only(port, "http/1.1");
    out.lines()
        .find(|line| line.starts_with("subject="))
        .unwrap_or_default()
        .to_owned()
}

/// A certificate for `localhost` whose subject is `cn`, made by `openssl`.
pub(crate) fn named_certificate(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
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
