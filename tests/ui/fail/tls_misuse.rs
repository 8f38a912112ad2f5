// TLS files given apart, or without the address they go with.
#[graceful::server(addr = "127.0.0.1:0", tls_cert = "cert.pem")]
async fn cert_alone() -> &'static str {
    ""
}

#[graceful::server(addr = "127.0.0.1:0", tls_key = "key.pem")]
async fn key_alone() -> &'static str {
    ""
}

#[graceful::server(name = "cert_alone", path = "/more", tls_cert = "a.pem", tls_key = "b.pem")]
async fn without_addr() -> &'static str {
    ""
}

fn main() {}
