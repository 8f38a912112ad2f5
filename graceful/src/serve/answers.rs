//! The answers we give ourselves, to requests the user's service does not
//! see: the health endpoint's, the refusal once the server is stopping
//! (HTTP's `503`, gRPC's `UNAVAILABLE`), and a panicked handler's `500`.
//! Each is built around a body the caller wraps (`wrap`), so that the
//! accounting of the caller's body type stays the caller's.

use http::header::{CONNECTION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};

use crate::serve::response::Body;

/// `200 ok` while ready, `503` otherwise; `close`: the connection closes
/// after it.
pub(super) fn health<T>(ready: bool, close: bool, wrap: impl FnOnce(Body) -> T) -> Response<T> {
    if ready {
        fixed(StatusCode::OK, "ok\n", close, wrap)
    } else {
        retry_later(fixed(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n",
            close,
            wrap,
        ))
    }
}

/// The metrics endpoint's answer: `text`, in Prometheus' text format.
#[cfg(feature = "prometheus")]
pub(super) fn metrics<T>(text: String, close: bool, wrap: impl FnOnce(Body) -> T) -> Response<T> {
    let mut response = Response::new(wrap(text.into()));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    if close {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The answer to a request that arrives once the server is refusing work:
/// retryable, and an HTTP/1 connection closes after it.
pub(super) fn unavailable<T>(h1: bool, wrap: impl FnOnce(Body) -> T) -> Response<T> {
    retry_later(fixed(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting down\n",
        h1,
        wrap,
    ))
}

/// Whether a request is a gRPC call (its content type says so).
pub(super) fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"application/grpc"))
}

/// The answer to a gRPC call that arrives once the server is refusing
/// work: `UNAVAILABLE` (status 14), which a client's retry policy retries
/// (an HTTP status it could not), in a trailers-only response: the call was
/// not processed.
pub(super) fn grpc_unavailable<T>(wrap: impl FnOnce(Body) -> T) -> Response<T> {
    let mut response = Response::new(wrap(Body::empty()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from_static("14"));
    headers.insert(
        "grpc-message",
        HeaderValue::from_static("the server is shutting down"),
    );
    response
}

/// `500`, for an HTTP/1 request whose handler panicked.
pub(super) fn internal_error<T>(wrap: impl FnOnce(Body) -> T) -> Response<T> {
    fixed(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal server error\n",
        false,
        wrap,
    )
}

fn retry_later<T>(mut response: Response<T>) -> Response<T> {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn fixed<T>(
    status: StatusCode,
    body: &'static str,
    close: bool,
    wrap: impl FnOnce(Body) -> T,
) -> Response<T> {
    let mut response = Response::new(wrap(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if close {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;

    use super::*;

    #[test]
    fn a_grpc_call_refused_gets_unavailable_in_a_trailers_only_response() {
        let call = Request::post("/fixture.Work/Unary")
            .header(CONTENT_TYPE, "application/grpc+proto")
            .body(())
            .unwrap();
        assert!(is_grpc(&call));
        let response = grpc_unavailable(|body| body);
        // gRPC answers HTTP 200 and says its status in the headers, with no
        // message after them.
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/grpc");
        assert_eq!(response.headers()["grpc-status"], "14");
        assert!(response.body().is_end_stream());
    }

    #[test]
    fn a_plain_request_refused_gets_a_retryable_503() {
        let plain = Request::get("/").body(()).unwrap();
        assert!(!is_grpc(&plain));
        let response = unavailable(true, |body| body);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(response.headers()["connection"], "close");
    }
}
