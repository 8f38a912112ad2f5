//! The benchmark's actix-web TLS server (rustls with ring, given
//! explicitly), with the graceful shutdown actix-web runs on SIGTERM (10 s,
//! as bare hyper); the certificate and key from `TLS_CERT` and `TLS_KEY`.

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
    let config = graceful_bench_tls::server_config()?;
    let server = HttpServer::new(|| {
        App::new()
            .route("/", web::get().to(hello))
            .route("/slow", web::get().to(slow))
    })
    .shutdown_timeout(10)
    .bind_rustls_0_23(endpoints::listen_addr(), config)?;
    for addr in server.addrs() {
        eprintln!("listening addr={addr}");
    }
    server.run().await
}
