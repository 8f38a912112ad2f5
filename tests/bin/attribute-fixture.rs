//! A `#[graceful::main]` program for the integration tests: its body fails,
//! or takes long, as `FIXTURE_MAIN` says (`fail`, `wait`; anything else: fine).

use std::time::Duration;

#[graceful::server(addr = "127.0.0.1:0")]
async fn api() -> &'static str {
    "ok"
}

#[graceful::on_shutdown]
async fn cleanup() {
    tracing::info!("cleanup ran");
}

#[graceful::main]
async fn main() -> Result<(), String> {
    match std::env::var("FIXTURE_MAIN").as_deref() {
        Ok("fail") => Err("cannot reach the database".to_owned()),
        Ok("wait") => {
            // No subscriber yet: the body would install its own here.
            eprintln!("setting up");
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }
        _ => Ok(()),
    }
}
