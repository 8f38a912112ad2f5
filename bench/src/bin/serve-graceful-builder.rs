//! The benchmark's `graceful` server without attributes: the builder API
//! with the same service as the bare hyper server, to tell the runtime's
//! cost from the attributes' cost.

use graceful::{App, Server};
use graceful_bench::endpoints;
use hyper::service::service_fn;

fn main() {
    App::new()
        .server(Server::new(
            "bench",
            "127.0.0.1:0",
            service_fn(endpoints::respond),
        ))
        .run_blocking()
}
