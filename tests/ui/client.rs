// Included by the pass cases: a one-shot HTTP/1.1 client and a check that
// fails the process (trybuild runs pass cases and requires exit code 0).

/// `GET path` on `addr`: the status and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response[9..12].parse().expect("a status code");
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// Exits with code 1 unless `ok`.
fn check(ok: bool, what: &str) {
    if !ok {
        eprintln!("check failed: {what}");
        std::process::exit(1);
    }
}

/// Once the servers serve, runs `checks`, then shuts the app down.
fn after_ready<F: std::future::Future<Output = ()> + Send + 'static>(checks: impl FnOnce() -> F + Send + 'static) {
    tokio::spawn(async move {
        let handle = graceful::shutdown_handle();
        check(handle.ready().await, "the servers started");
        checks().await;
        handle.shutdown();
    });
}
