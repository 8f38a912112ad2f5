// A server's name names its listener when a restart hands it over:
// `LISTEN_FDNAMES` separates names with `:`.
#[graceful::server(name = "api:v2", addr = "127.0.0.1:8080")]
async fn api(_req: graceful::Request) -> &'static str {
    "hello"
}

fn main() {}
