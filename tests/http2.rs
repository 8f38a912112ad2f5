//! HTTP/2 across a real SIGTERM, with a client nobody here wrote (the `h2`
//! crate): every connection gets its GOAWAY at the signal, and every stream
//! at or below the GOAWAY's last stream id is answered. A stream the client
//! opened after it is refused by the protocol (`REFUSED_STREAM`, or the
//! GOAWAY itself), which tells the client it was not processed.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use h2::client::SendRequest;
use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, PATIENCE, until_unread_at_server};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// An HTTP/2 connection (prior knowledge, over TCP), the client's address,
/// and the task driving the connection, which ends with it: `Ok` once the
/// server closed it cleanly.
async fn h2_connect(
    addr: SocketAddr,
) -> (
    SendRequest<Bytes>,
    SocketAddr,
    JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let local = tcp.local_addr().expect("the client's address");
    let (client, connection) = h2::client::handshake(tcp).await.expect("the h2 handshake");
    (client, local, tokio::spawn(connection))
}

/// How one request ended, as the client sees it.
#[derive(Debug)]
enum Ended {
    /// A full response.
    Answered(u16),
    /// Refused by the protocol: the server never processed it.
    Refused,
    /// Anything else: the client cannot know whether it was processed.
    Lost(h2::Error),
}

/// `GET path`, read to its end.
async fn get(client: &mut SendRequest<Bytes>, addr: SocketAddr, path: &str) -> Ended {
    let request = hyper::Request::get(format!("http://{addr}{path}"))
        .body(())
        .expect("a request");
    let sent = match client.clone().ready().await {
        Ok(mut ready) => ready.send_request(request, true),
        Err(err) => Err(err),
    };
    let response = match sent {
        Ok((response, _)) => response.await,
        Err(err) => Err(err),
    };
    let result = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let mut body = response.into_body();
            loop {
                match body.data().await {
                    None => break Ok(status),
                    Some(Ok(chunk)) => {
                        let _ = body.flow_control().release_capacity(chunk.len());
                    }
                    Some(Err(err)) => break Err(err),
                }
            }
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(status) => Ended::Answered(status),
        Err(err) if refused(&err) => Ended::Refused,
        Err(err) => Ended::Lost(err),
    }
}

/// Whether an error says the server did not process the stream: the GOAWAY
/// (the stream is above its last stream id, or the connection is going
/// away) or a reset with `REFUSED_STREAM`.
fn refused(err: &h2::Error) -> bool {
    err.is_go_away() || err.reason() == Some(h2::Reason::REFUSED_STREAM)
}

/// One worker thread, which a handler blocks: the runtime runs nothing.
const ONE_WORKER: (&str, &str) = ("TOKIO_WORKER_THREADS", "1");

/// The busy client's case, made certain: when the signal's moment reaches
/// the connection, bytes the client sent wait unread in the kernel (the
/// runtime was busy). The connection gets its GOAWAY all the same, and the
/// request in those bytes is answered.
#[tokio::test]
async fn an_http2_connection_with_bytes_waiting_gets_its_goaway() {
    let mut app = Fixture::spawn(&[], &[ONE_WORKER, JSON]);
    let addr = app.addr("api").await;
    let (mut client, local, connection) = h2_connect(addr).await;
    assert!(matches!(
        get(&mut client, addr, "/").await,
        Ended::Answered(200)
    ));

    // The only worker blocks; a request sent now waits in the kernel.
    // Long enough for the writes below to land while it blocks, however
    // loaded the machine.
    let blocked = tokio::spawn(support::get(addr, "/block?ms=3000"));
    app.wait_for_started("block", 1).await;
    let mut waiting = client.clone();
    let on_its_way = tokio::spawn(async move { get(&mut waiting, addr, "/").await });
    until_unread_at_server(addr, local).await;
    app.signal(SIGTERM);
    app.wait_until_delivered(SIGTERM).await;

    let ended = on_its_way.await.unwrap();
    assert!(
        matches!(ended, Ended::Answered(200 | 503)),
        "the request sent before the signal: {ended:?}\n{}",
        app.log()
    );
    // The GOAWAY has come: the protocol refuses a stream opened now, and
    // the client knows it was not processed.
    let after = get(&mut client, addr, "/").await;
    assert!(
        matches!(after, Ended::Refused),
        "a stream opened after the GOAWAY: {after:?}\n{}",
        app.log()
    );
    let closed = tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("the connection ends")
        .unwrap();
    assert!(closed.is_ok(), "{closed:?}\n{}", app.log());
    assert_eq!(blocked.await.unwrap().status, 200);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

/// What the busy client saw.
#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    refused: AtomicU64,
    lost: AtomicU64,
}

/// A client with 64 streams in flight on one connection, sending as fast as
/// answers come, across a SIGTERM; six times, since the unlucky moment (the
/// signal meeting bytes unread) is a matter of timing.
#[tokio::test]
async fn a_busy_http2_client_gets_its_goaway_and_every_stream_it_sent_is_answered() {
    for round in 0..6 {
        let mut app = Fixture::spawn(&[], &[]);
        let addr = app.addr("api").await;
        let (client, _, connection) = h2_connect(addr).await;
        let tally = Arc::new(Tally::default());
        let going = Arc::new(AtomicBool::new(true));
        let streams: Vec<_> = (0..64)
            .map(|_| {
                let (mut client, tally, going) =
                    (client.clone(), Arc::clone(&tally), Arc::clone(&going));
                tokio::spawn(async move {
                    while going.load(Ordering::Relaxed) {
                        match get(&mut client, addr, "/slow?ms=2").await {
                            Ended::Answered(_) => tally.answered.fetch_add(1, Ordering::Relaxed),
                            Ended::Refused => {
                                tally.refused.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                            Ended::Lost(err) => {
                                eprintln!("round {round}: lost: {err:?}");
                                tally.lost.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                        };
                    }
                })
            })
            .collect();
        drop(client);
        while tally.answered.load(Ordering::Relaxed) < 500 {
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        app.signal(SIGTERM);
        for stream in streams {
            tokio::time::timeout(PATIENCE, stream)
                .await
                .expect("every stream ends")
                .unwrap();
        }
        going.store(false, Ordering::Relaxed);
        let closed = tokio::time::timeout(PATIENCE, connection)
            .await
            .expect("the connection ends")
            .unwrap();
        let (answered, refused, lost) = (
            tally.answered.load(Ordering::Relaxed),
            tally.refused.load(Ordering::Relaxed),
            tally.lost.load(Ordering::Relaxed),
        );
        eprintln!(
            "round {round}: {answered} answered, {refused} refused by the protocol, {lost} lost"
        );
        assert_eq!(lost, 0, "round {round}: streams lost\n{}", app.log());
        assert!(
            refused > 0,
            "round {round}: no stream was refused by a GOAWAY"
        );
        assert!(closed.is_ok(), "round {round}: {closed:?}\n{}", app.log());
        assert_eq!(app.exit().await.0, 0, "{}", app.log());
    }
}

/// A connection that says nothing until the shutdown has begun (one the
/// client opened just before the signal, or that was accepted with it),
/// and then speaks HTTP/2 and stays busy: it gets its GOAWAY as soon as
/// its preface is read. Waiting for it to go quiet first, as an HTTP/1
/// connection would, meant never: a busy client kept the drain open as
/// long as it liked.
#[tokio::test]
async fn an_http2_connection_that_speaks_only_after_the_signal_gets_its_goaway_however_busy() {
    // A long read grace: the silent connection is not quiet yet when the
    // signal comes, and waits for its first bytes.
    let mut app = Fixture::spawn(&[], &[JSON, ("GRACEFUL_READ_GRACE", "5s")]);
    let addr = app.addr("api").await;
    let sockets = app.sockets();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    app.wait_for_sockets(sockets + 1).await;
    app.signal(SIGTERM);
    app.wait_for_event_with(&["pre_stop_delay"]).await;

    let (client, connection) = h2::client::handshake(tcp).await.expect("the h2 handshake");
    let connection = tokio::spawn(connection);
    let tally = Arc::new(Tally::default());
    let streams: Vec<_> = (0..4)
        .map(|_| {
            let (mut client, tally) = (client.clone(), Arc::clone(&tally));
            tokio::spawn(async move {
                loop {
                    match get(&mut client, addr, "/slow?ms=2").await {
                        Ended::Answered(_) => tally.answered.fetch_add(1, Ordering::Relaxed),
                        Ended::Refused => return tally.refused.fetch_add(1, Ordering::Relaxed),
                        Ended::Lost(err) => {
                            eprintln!("lost: {err:?}");
                            return tally.lost.fetch_add(1, Ordering::Relaxed);
                        }
                    };
                }
            })
        })
        .collect();
    drop(client);
    for stream in streams {
        tokio::time::timeout(PATIENCE, stream)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no GOAWAY: the busy connection is still served ({} answered)\n{}",
                    tally.answered.load(Ordering::Relaxed),
                    app.log()
                )
            })
            .unwrap();
    }
    assert_eq!(tally.lost.load(Ordering::Relaxed), 0, "{}", app.log());
    let closed = tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("the connection ends")
        .unwrap();
    assert!(closed.is_ok(), "{closed:?}\n{}", app.log());
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}
