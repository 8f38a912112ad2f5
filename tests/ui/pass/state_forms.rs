// State built in main's body reaches handlers (alone and routed), a function
// returning an axum router (whose `with_state` just works) and a callback.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use graceful::{Request, ShutdownHandle, State};

include!("../client.rs");

#[derive(Default)]
struct Counter {
    hits: AtomicUsize,
}

#[derive(Clone)]
struct Greeting(&'static str);

#[graceful::server(name = "alone", addr = "127.0.0.1:0")]
async fn alone(_req: Request, counter: State<Arc<Counter>>, greeting: State<Greeting>) -> String {
    let n = counter.hits.fetch_add(1, Ordering::SeqCst) + 1;
    format!("{} {n}", greeting.0.0)
}

#[graceful::server(name = "routed", addr = "127.0.0.1:0", path = "/count")]
async fn routed(State(counter): State<Arc<Counter>>, _shutdown: ShutdownHandle) -> String {
    counter.hits.load(Ordering::SeqCst).to_string()
}

#[graceful::server(name = "routed", path = "/")]
async fn routed_root() -> &'static str {
    "root"
}

#[graceful::server(name = "router", addr = "127.0.0.1:0")]
fn router(counter: State<Arc<Counter>>) -> axum::Router {
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(|axum::extract::State(counter): axum::extract::State<Arc<Counter>>| async move {
                counter.hits.load(Ordering::SeqCst).to_string()
            }),
        )
        .with_state(counter.0)
}

#[graceful::on_shutdown(phase = 1)]
async fn close(counter: State<Arc<Counter>>) {
    check(counter.hits.load(Ordering::SeqCst) == 2, "the callback sees the state");
}

#[graceful::main]
async fn main() {
    graceful::provide(Arc::new(Counter::default()));
    graceful::provide(Greeting("hello"));
    after_ready(|| async {
        let handle = graceful::shutdown_handle();
        let alone = handle.local_addr("alone").expect("alone");
        check(get(alone, "/").await == (200, "hello 1".into()), "alone, first");
        check(get(alone, "/").await == (200, "hello 2".into()), "alone, second");
        let routed = handle.local_addr("routed").expect("routed");
        check(get(routed, "/count").await == (200, "2".into()), "routed");
        let router = handle.local_addr("router").expect("router");
        check(get(router, "/").await == (200, "2".into()), "router");
    });
}
