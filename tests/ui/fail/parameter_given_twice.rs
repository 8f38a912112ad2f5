use graceful::{Request, ShutdownContext};

type Req = Request;

#[graceful::server(addr = "127.0.0.1:8080")]
async fn api(_first: Request, _again: Req) -> &'static str {
    "ok"
}

#[graceful::on_shutdown]
async fn flush(_first: ShutdownContext, _again: ShutdownContext) {}

fn main() {}
