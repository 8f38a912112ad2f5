#[graceful::server(addr = "127.0.0.1:8080")]
async fn api(_body: String, _port: u16) -> &'static str {
    "ok"
}

fn main() {}
