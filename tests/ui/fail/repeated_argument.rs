#[graceful::server(name = "a", addr = "127.0.0.1:8080", name = "b")]
async fn api() -> &'static str {
    "ok"
}

fn main() {}
