#[graceful::server(name = "", addr = "127.0.0.1:http", path = "api")]
async fn api() -> &'static str {
    "ok"
}

#[graceful::on_shutdown(timeout = "3 parsecs", phase = "first")]
async fn flush() {}

#[graceful::on_shutdown(timeout = 3, name = flush)]
async fn flush_again() {}

#[graceful::on_shutdown(timeout = "2y")]
async fn flush_for_years() {}

#[graceful::server(name = "sock", addr = "unix:")]
async fn sock() {}

fn main() {}
