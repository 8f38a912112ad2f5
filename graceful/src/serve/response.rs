//! What a `#[graceful::server]` handler may return, and how it becomes a response
//! (the table is on [`IntoResponse`]).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

use crate::error::BoxError;

/// A response body: bytes known up front, or any streaming body, boxed.
///
/// ```
/// use graceful::Body;
///
/// let known: Body = "hello".into();
/// let streamed = Body::new(http_body_util::Empty::<bytes::Bytes>::new());
/// # drop((known, streamed));
/// ```
pub struct Body(Kind);

enum Kind {
    Bytes(Option<Bytes>),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Bytes(bytes) => f.debug_tuple("Body").field(bytes).finish(),
            Kind::Boxed(_) => f.write_str("Body(<stream>)"),
        }
    }
}

impl Body {
    /// Boxes any body whose data is [`Bytes`].
    ///
    /// ```
    /// let body = graceful::Body::new(http_body_util::Full::new(bytes::Bytes::from("hi")));
    /// # drop(body);
    /// ```
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body(Kind::Boxed(body.map_err(Into::into).boxed_unsync()))
    }

    /// An empty body.
    ///
    /// ```
    /// assert!(http_body::Body::is_end_stream(&graceful::Body::empty()));
    /// ```
    pub fn empty() -> Self {
        Body(Kind::Bytes(None))
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    #[inline]
    fn from(bytes: Bytes) -> Self {
        Body(Kind::Bytes((!bytes.is_empty()).then_some(bytes)))
    }
}

impl From<&'static str> for Body {
    #[inline]
    fn from(text: &'static str) -> Self {
        Bytes::from_static(text.as_bytes()).into()
    }
}

impl From<String> for Body {
    #[inline]
    fn from(text: String) -> Self {
        Bytes::from(text).into()
    }
}

impl From<Vec<u8>> for Body {
    #[inline]
    fn from(bytes: Vec<u8>) -> Self {
        Bytes::from(bytes).into()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Kind::Bytes(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Bytes(bytes) => bytes.is_none(),
            Kind::Boxed(body) => body.is_end_stream(),
        }
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Bytes(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Boxed(body) => body.size_hint(),
        }
    }
}

/// A body a handler may put in a `Response`, with the content type it implies.
///
/// ```
/// use graceful::IntoBody;
/// let (body, content_type) = String::from("hi").into_body();
/// assert_eq!(content_type.unwrap(), "text/plain; charset=utf-8");
/// # drop(body);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a response body",
    note = "use `&'static str`, `String`, `Bytes`, `Vec<u8>`, `Full<Bytes>`, `Empty<Bytes>` or `graceful::Body::new(body)`"
)]
pub trait IntoBody {
    /// The body, and the content type to set if the response has none.
    fn into_body(self) -> (Body, Option<HeaderValue>);
}

// Built at compile time: `HeaderValue::from_static` on a value only known at
// run time checks every byte, on every response.
const TEXT: Option<HeaderValue> = Some(HeaderValue::from_static("text/plain; charset=utf-8"));
const OCTETS: Option<HeaderValue> = Some(HeaderValue::from_static("application/octet-stream"));

impl IntoBody for Body {
    #[inline]
    fn into_body(self) -> (Body, Option<HeaderValue>) {
        (self, None)
    }
}

impl IntoBody for &'static str {
    #[inline]
    fn into_body(self) -> (Body, Option<HeaderValue>) {
        (self.into(), TEXT)
    }
}

impl IntoBody for String {
    #[inline]
    fn into_body(self) -> (Body, Option<HeaderValue>) {
        (self.into(), TEXT)
    }
}

impl IntoBody for Bytes {
    #[inline]
    fn into_body(self) -> (Body, Option<HeaderValue>) {
        (self.into(), OCTETS)
    }
}

impl IntoBody for Vec<u8> {
    #[inline]
    fn into_body(self) -> (Body, Option<HeaderValue>) {
        (self.into(), OCTETS)
    }
}

impl IntoBody for Full<Bytes> {
    #[inline]
    fn into_body(self) -> (Body, Option<HeaderValue>) {
        (Body::new(self), None)
    }
}

impl IntoBody for Empty<Bytes> {
    #[inline]
    fn into_body(self) -> (Body, Option<HeaderValue>) {
        (Body::empty(), None)
    }
}

impl IntoBody for hyper::body::Incoming {
    #[inline]
    fn into_body(self) -> (Body, Option<HeaderValue>) {
        (Body::new(self), None)
    }
}

impl IntoBody for UnsyncBoxBody<Bytes, BoxError> {
    #[inline]
    fn into_body(self) -> (Body, Option<HeaderValue>) {
        (Body(Kind::Boxed(self)), None)
    }
}

/// What a `#[graceful::server]` handler may return:
///
/// | the handler returns | the response |
/// |---|---|
/// | `&'static str`, `String` | `200`, `text/plain; charset=utf-8` |
/// | `Bytes`, `Vec<u8>` | `200`, `application/octet-stream` |
/// | `()` | `200`, empty |
/// | `StatusCode` | that status, empty |
/// | `(StatusCode, T)` | that status, `T`'s body and content type |
/// | `Response<B>` | as is, for `B` in [`IntoBody`] |
/// | `Result<T, E>` with `E: Display` | `T`'s response, or `500 Internal Server Error`; the error is logged, never sent to the client |
///
///
/// ```
/// use graceful::IntoResponse;
/// use graceful::hyper::StatusCode;
///
/// let response = (StatusCode::CREATED, "made").into_response();
/// assert_eq!(response.status(), StatusCode::CREATED);
/// let response = Err::<&str, _>("database down").into_response();
/// assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// ```
#[diagnostic::on_unimplemented(
    message = "a server handler cannot return `{Self}`",
    note = "return `&'static str`, `String`, `Bytes`, `Vec<u8>`, `()`, `StatusCode`, `(StatusCode, body)`, `Response<body>` or `Result<one of those, E>` where `E: Display`",
    note = "a function returning a router or a service (such as `axum::Router`) is a plain `fn`, not an `async fn`: do its async set-up in `#[graceful::main]`'s body and hand what it builds over with `graceful::provide`"
)]
pub trait IntoResponse {
    /// Converts into a response.
    fn into_response(self) -> Response<Body>;
}

#[inline(always)]
fn with_body(
    status: StatusCode,
    (body, content_type): (Body, Option<HeaderValue>),
) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}

impl<B: IntoBody> IntoResponse for Response<B> {
    fn into_response(self) -> Response<Body> {
        let (mut parts, body) = self.into_parts();
        let (body, content_type) = body.into_body();
        if let Some(content_type) = content_type {
            parts.headers.entry(CONTENT_TYPE).or_insert(content_type);
        }
        Response::from_parts(parts, body)
    }
}

macro_rules! body_responses {
    ($($ty:ty),*) => {$(
        impl IntoResponse for $ty {
            #[inline(always)]
            fn into_response(self) -> Response<Body> {
                with_body(StatusCode::OK, self.into_body())
            }
        }
    )*};
}
body_responses!(&'static str, String, Bytes, Vec<u8>, Body);

impl IntoResponse for () {
    fn into_response(self) -> Response<Body> {
        Response::new(Body::empty())
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response<Body> {
        with_body(self, (Body::empty(), None))
    }
}

impl<B: IntoBody> IntoResponse for (StatusCode, B) {
    fn into_response(self) -> Response<Body> {
        with_body(self.0, self.1.into_body())
    }
}

impl<T: IntoResponse, E: fmt::Display> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response<Body> {
        match self {
            Ok(ok) => ok.into_response(),
            Err(err) => {
                tracing::error!(error = %err, "handler failed");
                with_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ("internal server error\n".into(), TEXT),
                )
            }
        }
    }
}
