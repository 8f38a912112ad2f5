// A server on a Unix domain socket, declared with `unix:/path`.

include!("../client.rs");

#[graceful::server(name = "sock", addr = "unix:/tmp/graceful-ui-pass-unix.sock")]
async fn api() -> &'static str {
    "ok"
}

#[graceful::main]
async fn main() {
    after_ready(|| async {
        let addr = graceful::shutdown_handle().listen_addr("sock").expect("sock");
        check(
            addr.unix_path() == Some(std::path::Path::new("/tmp/graceful-ui-pass-unix.sock")),
            "a Unix socket",
        );
    });
}
