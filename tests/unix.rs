//! Unix domain sockets (`addr = "unix:/path"`), as behind a local reverse
//! proxy: the same drain and report; a clear error when the directory is
//! missing; the socket file removed at shutdown, and a stale one replaced.
//! A real process, real signals, a real socket file.

mod support;

use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, read_to_close, test_dir};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

#[tokio::test]
async fn a_unix_socket_is_served_drained_and_removed() {
    let dir = test_dir("unix-drain");
    let path = dir.join("api.sock");
    // A socket file left by a process that is gone is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());

    let addr = format!("unix:{}", path.display());
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_ADDR_API", &addr), JSON]);
    // A listener's first event is the one saying that it listens.
    app.wait_for_event(&[("name", "api"), ("addr", &addr)])
        .await;
    let mut stream = UnixStream::connect(&path).await.unwrap();
    stream
        .write_all(b"GET /slow?ms=300 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    app.wait_for_started("slow", 1).await;
    app.signal(SIGTERM);
    let response = read_to_close(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    assert!(response.ends_with("slow done"), "{response}");
    let (code, _) = app.exit().await;
    let log = app.log();
    assert_eq!(code, 0, "{log}");
    app.assert_report("api", &[("served", 0), ("drained", 1)]);
    assert!(!path.exists(), "the socket file is left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_unix_socket_in_a_missing_directory_is_a_clear_startup_error() {
    let dir = test_dir("unix-missing").join("not-there");
    let addr = format!("unix:{}", dir.join("api.sock").display());
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_ADDR_API", &addr)]);
    let (code, _) = app.exit().await;
    let log = app.log();
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains(&format!(
            "server \"api\": cannot listen on {addr}: the directory {} does not exist",
            dir.display()
        )),
        "{log}"
    );
}

#[tokio::test]
async fn a_unix_socket_another_process_serves_is_not_taken() {
    let dir = test_dir("unix-taken");
    let path = dir.join("api.sock");
    let _other = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let addr = format!("unix:{}", path.display());
    let mut app = Fixture::spawn(&[], &[("GRACEFUL_ADDR_API", &addr)]);
    let (code, _) = app.exit().await;
    let log = app.log();
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("is served by another process"), "{log}");
    assert!(path.exists(), "the other process's socket was removed");
    let _ = std::fs::remove_dir_all(&dir);
}
