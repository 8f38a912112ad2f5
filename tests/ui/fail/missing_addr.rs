#[graceful::server]
async fn api() -> &'static str {
    "ok"
}

fn main() {}
