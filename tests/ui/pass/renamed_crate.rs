// A user who renamed the dependency points the attributes at it.
use graceful as g;

include!("../client.rs");

#[g::server(addr = "127.0.0.1:0", crate = g)]
async fn api() -> &'static str {
    "ok"
}

#[g::on_shutdown(crate = g)]
async fn cleanup() {}

#[g::main(crate = g)]
async fn main() {
    after_ready(|| async {});
}
