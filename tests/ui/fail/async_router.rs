// A function returning a router is a plain `fn`: marked `async`, it would be
// a handler returning a router.
#[graceful::server(addr = "127.0.0.1:8080")]
async fn api() -> axum::Router {
    axum::Router::new()
}

fn main() {}
