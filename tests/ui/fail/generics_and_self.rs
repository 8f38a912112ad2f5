use graceful::Request;

#[graceful::server(addr = "127.0.0.1:8080")]
async fn generic<T: Default>(_req: Request) -> &'static str {
    "ok"
}

struct Api;

impl Api {
    #[graceful::server(addr = "127.0.0.1:8081")]
    async fn method(&self, _req: Request) -> &'static str {
        "ok"
    }
}

fn main() {}
