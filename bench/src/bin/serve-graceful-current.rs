//! The benchmark's `graceful-builder` server on one current-thread runtime,
//! the shape actix-web runs on each core: one of the runtime alternatives
//! (`graceful-bench runtimes`). `App::start` and `Running::wait` run on any
//! runtime the application builds.

use graceful::{App, Server};
use graceful_bench::endpoints;
use hyper::service::service_fn;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let code = runtime.block_on(async {
        let running = App::new()
            .server(Server::new(
                "bench",
                "127.0.0.1:0",
                service_fn(endpoints::respond),
            ))
            .start()
            .await
            .expect("started");
        eprintln!(
            "listening addr={}",
            running.local_addr("bench").expect("bound")
        );
        running.wait().await.exit_code().code()
    });
    std::process::exit(code)
}
