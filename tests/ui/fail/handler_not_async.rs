use graceful::Request;

#[graceful::server(addr = "127.0.0.1:8080")]
fn api(_req: Request) -> &'static str {
    "ok"
}

fn main() {}
