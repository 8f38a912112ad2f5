// A parameter is what its type is, however the type is written: a type
// alias, a full path, a pattern; and a result alias is a result.

use std::sync::Arc;

include!("../client.rs");

mod app {
    pub type Req = graceful::hyper::Request<graceful::hyper::body::Incoming>;
    pub type Handle = graceful::ShutdownHandle;
    pub type Names = graceful::State<std::sync::Arc<Vec<&'static str>>>;
    pub type Context = graceful::ShutdownContext;
    pub type Outcome = Result<(), std::io::Error>;
}

#[graceful::server(name = "api", addr = "127.0.0.1:0", path = "/alias")]
async fn by_alias(req: app::Req, handle: app::Handle, names: app::Names) -> String {
    format!("{} {} {}", req.uri().path(), handle.is_shutting_down(), names.len())
}

#[graceful::server(name = "api", path = "/path")]
async fn by_full_path(
    req: graceful::hyper::Request<graceful::hyper::body::Incoming>,
    graceful::State(names): ::graceful::State<Arc<Vec<&'static str>>>,
) -> String {
    format!("{} {}", req.uri().path(), names.join(","))
}

#[graceful::on_shutdown]
async fn by_alias_callback(ctx: app::Context, names: app::Names) -> app::Outcome {
    check(ctx.name() == "by_alias_callback" && names.len() == 2, "callback parameters");
    Ok(())
}

#[graceful::main]
async fn main() -> app::Outcome {
    graceful::provide(Arc::new(vec!["a", "b"]));
    after_ready(|| async {
        let api = graceful::shutdown_handle().local_addr("api").expect("api");
        check(get(api, "/alias").await == (200, "/alias false 2".into()), "/alias");
        check(get(api, "/path").await == (200, "/path a,b".into()), "/path");
    });
    Ok(())
}
