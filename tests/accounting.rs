//! Every request ends in the right counter, whatever its shape or its
//! timing: responses that end with trailers, a handler blocking its thread
//! past the drain deadline, requests that reached the host before the
//! refusal began but were read after a stall.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use graceful::hyper::body::Frame;
use graceful::hyper::service::service_fn;
use graceful::hyper::{HeaderMap, Response};
use graceful::{App, Request, Server, exit_code};
use http_body_util::StreamBody;
use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, PATIENCE, read_to_close, until_unread_at_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A body of two chunks, then trailers, as every gRPC reply ends.
fn with_trailers() -> graceful::Body {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().expect("a header value"));
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
        Ok(Frame::data(Bytes::from_static(b"one\n"))),
        Ok(Frame::data(Bytes::from_static(b"two\n"))),
        Ok(Frame::trailers(trailers)),
    ];
    graceful::Body::new(StreamBody::new(futures_util::stream::iter(frames)))
}

/// An HTTP/2 `GET /` read to its end, trailers included; returns them.
async fn h2_get_trailers(addr: SocketAddr) -> HeaderMap {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("the h2 handshake");
    tokio::spawn(connection);
    let mut client = client.ready().await.expect("ready");
    let request = hyper::Request::get(format!("http://{addr}/"))
        .body(())
        .expect("a request");
    let (response, _) = client.send_request(request, true).expect("sent");
    let mut body = response.await.expect("a response").into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("a chunk");
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    body.trailers()
        .await
        .expect("the trailers")
        .expect("trailers sent")
}

#[tokio::test]
async fn responses_that_end_with_trailers_are_served_not_disconnected() {
    let service = service_fn(|_req: Request| async {
        let mut response = Response::new(with_trailers());
        // HTTP/1 sends only the trailers a response declares.
        response
            .headers_mut()
            .insert("trailer", "grpc-status".parse().expect("a header value"));
        Ok::<_, Infallible>(response)
    });
    let running = App::new()
        .server(Server::new("api", "127.0.0.1:0", service))
        .start()
        .await
        .unwrap();
    let addr = running.local_addr("api").unwrap();
    for _ in 0..5 {
        let trailers = h2_get_trailers(addr).await;
        assert_eq!(trailers["grpc-status"], "0");
    }
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nTE: trailers\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let response = read_to_close(&mut stream).await;
        assert!(
            response.starts_with("HTTP/1.1 200")
                && response.ends_with("0\r\ngrpc-status: 0\r\n\r\n"),
            "{response:?}"
        );
    }
    running.handle().shutdown();
    let report = running.wait().await;
    let api = &report.servers[0];
    assert_eq!(
        (api.served, api.disconnected),
        (8, 0),
        "every response ended with its trailers: {report}"
    );
    assert_eq!(report.exit_code(), exit_code::SUCCESS, "{report}");
}

/// Sends `GET /block?ms=2500` over HTTP/1 or HTTP/2, and keeps the client
/// open: what it holds is returned, to be dropped once the app exited.
async fn blocking_request(addr: SocketAddr, h2: bool) -> Box<dyn std::any::Any> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    if !h2 {
        tcp.write_all(b"GET /block?ms=2500 HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        return Box::new(tcp);
    }
    let (client, connection) = h2::client::handshake(tcp).await.expect("the h2 handshake");
    tokio::spawn(connection);
    let mut client = client.ready().await.expect("ready");
    let request = hyper::Request::get(format!("http://{addr}/block?ms=2500"))
        .body(())
        .expect("a request");
    let (response, _) = client.send_request(request, true).expect("sent");
    Box::new((client, response))
}

/// A handler that blocks its worker thread past the drain deadline, over
/// HTTP/1 and over HTTP/2: its request is still in flight when the report
/// is built, so it is cut off, named, and the exit code says so.
#[tokio::test]
async fn a_handler_blocked_at_the_drain_deadline_is_cut_off_and_named() {
    for h2 in [false, true] {
        let mut app = Fixture::spawn(
            &[],
            &[
                ("GRACEFUL_DRAIN_TIMEOUT", "500ms"),
                ("GRACEFUL_SHUTDOWN_TIMEOUT", "4s"),
                JSON,
            ],
        );
        let addr = app.addr("api").await;
        let client = blocking_request(addr, h2).await;
        app.wait_for_started("block", 1).await;
        app.signal(SIGTERM);
        let (code, _) = app.exit().await;
        let log = app.log();
        assert_eq!(code, exit_code::REQUESTS_CUT_OFF, "h2: {h2}\n{log}");
        let api = app.server_report("api");
        // Cut off, and still running: its thread is blocked, and the exit
        // abandons it.
        assert_eq!(
            (&api["cut_off"], &api["in_flight"]),
            (&1.into(), &1.into()),
            "h2: {h2}\n{log}"
        );
        let named: Vec<(serde_json::Value, serde_json::Value)> = app
            .events()
            .into_iter()
            .filter(|event| event.get("age").is_some() && event.get("path").is_some())
            .map(|event| (event["method"].clone(), event["path"].clone()))
            .collect();
        assert_eq!(named, [("GET".into(), "/block".into())], "h2: {h2}\n{log}");
        drop(client);
    }
}

/// One worker thread, which a handler blocks: the runtime runs nothing.
const ONE_WORKER: (&str, &str) = ("TOKIO_WORKER_THREADS", "1");

/// Reads one response with a `Content-Length` from a keep-alive connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("a read");
        assert!(n > 0, "closed before the response: {response:?}");
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            if response.len() >= head_end + 4 + length {
                return text;
            }
        }
    }
}

/// After a stall (here: the only worker thread blocked across the signal),
/// keep-alive connections that had been quiet for longer than the read
/// grace carry requests that reached this host before the signal. They are
/// served, not refused: the kernel tells when their bytes arrived.
#[tokio::test]
async fn requests_that_arrived_before_the_refusal_are_served_after_a_stall() {
    let mut app = Fixture::spawn(&[], &[ONE_WORKER, JSON]);
    let addr = app.addr("api").await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
        idle.push(stream);
    }
    // Long enough for the writes below to land while it blocks, however
    // loaded the machine.
    let blocked = tokio::spawn(support::get(addr, "/block?ms=3000"));
    app.wait_for_started("block", 1).await;
    // Sent, as a load balancer does, before it learns of the shutdown.
    for stream in &mut idle {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        until_unread_at_server(addr, stream.local_addr().unwrap()).await;
    }
    app.signal(SIGTERM);
    app.wait_until_delivered(SIGTERM).await;
    let mut statuses = Vec::new();
    for mut stream in idle {
        let response = read_to_close(&mut stream).await;
        statuses.push(response.lines().next().unwrap_or_default().to_owned());
    }
    assert!(
        statuses.iter().all(|s| s == "HTTP/1.1 200 OK"),
        "{statuses:?}\n{}",
        app.log()
    );
    assert_eq!(blocked.await.unwrap().status, 200);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}
