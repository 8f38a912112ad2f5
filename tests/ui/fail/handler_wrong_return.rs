use graceful::Request;

#[graceful::server(addr = "127.0.0.1:8080")]
async fn api(_req: Request) -> u32 {
    42
}

fn main() {}
