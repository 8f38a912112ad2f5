//! A `#[graceful::main]` program whose one server serves TLS from the files
//! its attribute names: `cert.pem` and `key.pem`, relative, so read from the
//! working directory the test starts it in.

#[graceful::server(addr = "127.0.0.1:0", tls_cert = "cert.pem", tls_key = "key.pem")]
async fn api() -> &'static str {
    "hello over TLS"
}

#[graceful::main]
async fn main() {}
