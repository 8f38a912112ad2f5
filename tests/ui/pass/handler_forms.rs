use graceful::hyper::StatusCode;
use graceful::{Request, ShutdownHandle};

include!("../client.rs");

#[graceful::server(name = "api", addr = "127.0.0.1:0", path = "/str")]
async fn static_str(_req: Request) -> &'static str {
    "str"
}

#[graceful::server(name = "api", path = "/string")]
async fn string(_req: Request, _shutdown: ShutdownHandle) -> String {
    String::from("string")
}

#[graceful::server(name = "api", path = "/tuple")]
async fn tuple() -> (StatusCode, &'static str) {
    (StatusCode::CREATED, "tuple")
}

#[graceful::server(name = "api", path = "/result")]
async fn result(_req: Request) -> Result<String, std::fmt::Error> {
    Err(std::fmt::Error)
}

#[graceful::server(name = "api", path = "/unit")]
async fn unit(_shutdown: ShutdownHandle) {}

#[graceful::server(name = "api", path = "/bytes")]
async fn bytes() -> bytes::Bytes {
    bytes::Bytes::from_static(b"bytes")
}

#[graceful::server(name = "api", path = "/response")]
async fn response() -> graceful::hyper::Response<String> {
    graceful::hyper::Response::new(String::from("response"))
}

#[graceful::server(name = "api", path = "/body")]
async fn body() -> graceful::hyper::Response<graceful::Body> {
    graceful::hyper::Response::new(graceful::Body::from("body"))
}

#[graceful::server(name = "api", path = "/opaque")]
async fn opaque() -> impl graceful::IntoResponse {
    (StatusCode::ACCEPTED, "opaque")
}

#[graceful::server(addr = "localhost:0")]
async fn r#default_name(_req: Request) -> Vec<u8> {
    b"raw identifier".to_vec()
}

#[graceful::main]
async fn main() {
    after_ready(|| async {
        let handle = graceful::shutdown_handle();
        let api = handle.local_addr("api").expect("api");
        check(get(api, "/str").await == (200, "str".into()), "/str");
        check(get(api, "/string").await == (200, "string".into()), "/string");
        check(get(api, "/tuple").await == (201, "tuple".into()), "/tuple");
        check(get(api, "/result").await.0 == 500, "/result");
        check(get(api, "/unit").await == (200, String::new()), "/unit");
        check(get(api, "/bytes").await == (200, "bytes".into()), "/bytes");
        check(get(api, "/response").await == (200, "response".into()), "/response");
        check(get(api, "/body").await == (200, "body".into()), "/body");
        check(get(api, "/opaque").await == (202, "opaque".into()), "/opaque");
        check(get(api, "/missing").await.0 == 404, "/missing");
        check(get(api, "/request").await == (200, "/request false".into()), "/request");
        check(get(api, "/shutdown").await == (200, "not shadowed".into()), "/shutdown");
        let named = handle.local_addr("default_name").expect("named after the function");
        check(get(named, "/").await == (200, "raw identifier".into()), "default name");
    });
}

// Names the generated code must not shadow.
#[graceful::server(name = "api", path = "/request")]
async fn request(request: Request, shutdown: ShutdownHandle) -> String {
    format!("{} {}", request.uri().path(), shutdown.is_shutting_down())
}

#[graceful::server(name = "api", path = "/shutdown")]
async fn shutdown() -> &'static str {
    "not shadowed"
}
