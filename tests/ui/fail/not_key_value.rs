#[graceful::server("api", addr)]
async fn api() -> &'static str {
    "ok"
}

fn main() {}
