#[graceful::server(addr = "127.0.0.1:8080")]
async fn api(_req: graceful::hyper::Request<String>) -> &'static str {
    "ok"
}

fn main() {}
