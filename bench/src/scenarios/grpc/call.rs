//! One unary gRPC call on a raw HTTP/2 connection (hyper's client), counted
//! as the drain counts it: answered, refused before it was processed, or
//! lost. The messages are encoded by hand: the benchmark's service takes
//! `bench.Job { bytes data = 1; uint32 delay_ms = 2; }` and answers
//! `bench.Payload { bytes data = 1; }` (`bench/grpc/proto/bench.proto`).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper::{HeaderMap, Request};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

/// A client connection.
pub(crate) type Channel = SendRequest<Full<Bytes>>;

/// Opens an HTTP/2 connection (prior knowledge, as gRPC over cleartext).
pub(crate) async fn connect(addr: SocketAddr) -> std::io::Result<Channel> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// `message` in gRPC's length-prefixed framing (not compressed).
pub(crate) fn frame(message: &[u8]) -> Bytes {
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    framed.into()
}

/// `bench.Job { data, delay_ms }`, framed.
pub(crate) fn job(data: &[u8], delay_ms: u32) -> Bytes {
    let mut message = bytes_field(1, data);
    if delay_ms > 0 {
        message.push(2 << 3);
        varint(u64::from(delay_ms), &mut message);
    }
    frame(&message)
}

/// `bench.StreamRequest { count, size }`, framed.
pub(crate) fn stream_request(count: u32, size: u32) -> Bytes {
    let mut message = vec![1 << 3];
    varint(u64::from(count), &mut message);
    message.push(2 << 3);
    varint(u64::from(size), &mut message);
    frame(&message)
}

/// `bench.Payload { data }`, framed: what `Unary` answers to a job of `data`.
pub(crate) fn payload(data: &[u8]) -> Bytes {
    frame(&bytes_field(1, data))
}

fn bytes_field(field: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![field << 3 | 2];
    varint(data.len() as u64, &mut out);
    out.extend_from_slice(data);
    out
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A gRPC request for `method` of the service `bench.Bench`.
pub(crate) fn request(method: &str, body: Bytes) -> Request<Full<Bytes>> {
    Request::post(format!("http://localhost/bench.Bench/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(body))
        .expect("a valid request")
}

/// What became of one call.
#[derive(Debug)]
pub(crate) enum Call {
    /// `grpc-status: 0` with the expected answer.
    Answered,
    /// Not processed, as the client can tell: the connection was gone before
    /// the call was sent, the stream was refused (`REFUSED_STREAM`, or above
    /// a GOAWAY's last stream), or `grpc-status: 14` (`UNAVAILABLE`).
    Refused,
    /// Sent, then anything else: a reset, a cut body, another status.
    Lost(String),
}

/// Sends `body` to `bench.Bench/Unary` and reads the answer to its end.
pub(crate) async fn unary(channel: &mut Channel, body: Bytes, expect: &Bytes) -> Call {
    if channel.ready().await.is_err() {
        return Call::Refused;
    }
    let response = match channel.try_send_request(request("Unary", body)).await {
        Ok(response) => response,
        Err(err) if err.message().is_some() => return Call::Refused,
        Err(err) => {
            let err = err.into_error();
            return if unprocessed(&err) {
                Call::Refused
            } else {
                Call::Lost(format!("{err:?}"))
            };
        }
    };
    let (parts, body) = response.into_parts();
    if parts.status != 200 {
        return Call::Lost(format!("HTTP status {}", parts.status));
    }
    // A trailers-only answer carries its status in the headers.
    let in_headers = grpc_status(&parts.headers);
    let collected = match body.collect().await {
        Ok(collected) => collected,
        Err(err) => return Call::Lost(format!("body cut: {err:?}")),
    };
    let status = in_headers.or_else(|| collected.trailers().and_then(grpc_status));
    match status {
        Some(0) if collected.to_bytes() == expect => Call::Answered,
        Some(14) => Call::Refused,
        other => Call::Lost(format!("grpc-status {other:?}")),
    }
}

/// The `grpc-status` in `headers`.
pub(crate) fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// Whether the server said it never processed the stream: refused, or
/// above the last stream of a graceful GOAWAY.
fn unprocessed(err: &hyper::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = source {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away()
                    && h2.is_remote()
                    && h2.reason() == Some(h2::Reason::NO_ERROR));
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_encoded_as_protobuf_and_grpc_frame_them() {
        // Checked against `protoc --encode` of the same messages.
        assert_eq!(&job(b"hello", 0)[..], b"\x00\x00\x00\x00\x07\x0a\x05hello");
        assert_eq!(
            &job(b"hello", 1000)[..],
            b"\x00\x00\x00\x00\x0a\x0a\x05hello\x10\xe8\x07"
        );
        assert_eq!(
            &stream_request(1000, 1024)[..],
            b"\x00\x00\x00\x00\x06\x08\xe8\x07\x10\x80\x08"
        );
        assert_eq!(payload(b"hello"), job(b"hello", 0));
    }
}
