use graceful::{Request, State};

struct NotClone;

#[graceful::server(addr = "127.0.0.1:8080")]
async fn api(_req: Request, _state: State<NotClone>) -> &'static str {
    "ok"
}

#[graceful::server(name = "other", addr = "127.0.0.1:8081")]
async fn other(_req: Request, _store: std::sync::Arc<String>) -> &'static str {
    "ok"
}

fn main() {}
