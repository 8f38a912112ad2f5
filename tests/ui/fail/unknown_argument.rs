#[graceful::server(addr = "127.0.0.1:8080", nmae = "api")]
async fn api() -> &'static str {
    "ok"
}

#[graceful::on_shutdown(timeout = "1s", order = 1)]
async fn flush() {}

#[graceful::main(drain = "10s")]
async fn main() {}
