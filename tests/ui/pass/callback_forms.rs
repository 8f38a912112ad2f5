// The process exits 0 only if every callback succeeded.

use graceful::ShutdownContext;

include!("../client.rs");

#[graceful::server(addr = "127.0.0.1:0")]
async fn api() -> &'static str {
    "ok"
}

#[graceful::on_shutdown]
async fn nothing() {}

#[graceful::on_shutdown(timeout = "500ms")]
async fn with_context(ctx: ShutdownContext) {
    check(ctx.timeout() == std::time::Duration::from_millis(500), "the timeout");
}

#[graceful::on_shutdown(name = "named", phase = 1, timeout = "1m")]
async fn result_string(ctx: ShutdownContext) -> Result<(), String> {
    check(ctx.name() == "named", "the name");
    Ok(())
}

#[graceful::on_shutdown(phase = -3)]
async fn result_io() -> std::io::Result<()> {
    Ok(())
}

#[graceful::main]
async fn main() {
    after_ready(|| async {});
}
