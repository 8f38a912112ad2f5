//! The benchmark's actix-web server, with the graceful shutdown actix-web
//! runs on SIGTERM: stop accepting, then wait for the connections, at most
//! 10 s (as bare hyper does).

use actix_web::{App, HttpRequest, HttpServer, web};
use graceful_bench::endpoints;

async fn hello() -> &'static str {
    endpoints::HELLO
}

async fn slow(req: HttpRequest) -> &'static str {
    if let Some(delay) = endpoints::slow_delay(req.path(), Some(req.query_string())) {
        actix_web::rt::time::sleep(delay).await;
    }
    endpoints::SLOW
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let server = HttpServer::new(|| {
        App::new()
            .route("/", web::get().to(hello))
            .route("/slow", web::get().to(slow))
    })
    .shutdown_timeout(10)
    .bind(endpoints::listen_addr())?;
    for addr in server.addrs() {
        eprintln!("listening addr={addr}");
    }
    server.run().await
}
