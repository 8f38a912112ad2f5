use graceful::ShutdownHandle;

include!("../client.rs");

#[graceful::server(name = "router", addr = "127.0.0.1:0")]
fn router() -> axum::Router {
    axum::Router::new().route("/", axum::routing::get(|| async { "router" }))
}

#[graceful::server(name = "with-handle", addr = "127.0.0.1:0")]
fn router_with_handle(shutdown: ShutdownHandle) -> axum::Router {
    axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let shutdown = shutdown.clone();
            async move { format!("stopping: {}", shutdown.is_shutting_down()) }
        }),
    )
}

#[graceful::main]
async fn main() {
    after_ready(|| async {
        let handle = graceful::shutdown_handle();
        let router = handle.local_addr("router").expect("router");
        check(get(router, "/").await == (200, "router".into()), "router");
        let with_handle = handle.local_addr("with-handle").expect("with-handle");
        check(get(with_handle, "/").await == (200, "stopping: false".into()), "with handle");
    });
}
