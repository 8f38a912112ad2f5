//! A `#[graceful::main]` program for the integration tests. `FIXTURE_MAIN`
//! says what its body does (`fail`, `panic`, `wait`; anything else: fine),
//! `FIXTURE_ROUTER=panic` makes its service function panic at assembly,
//! `FIXTURE_STATE=missing` keeps its body from providing the state a handler
//! asks for, `FIXTURE_STATE=twice` makes it provide it twice (a second
//! value of one type, as a read and a write pool would be), `FIXTURE_LOG=own` makes its body install a JSON subscriber of
//! its own. Its report hook writes the report to `FIXTURE_REPORT_FILE`
//! (one `key=value` line each: `exit_code`, `trigger`, `callback`), or, with
//! `FIXTURE_REPORT=block`, never returns.

use std::convert::Infallible;
use std::future::Ready;
use std::task::{Context, Poll};
use std::time::Duration;

use graceful::hyper::Response;
use graceful::{Request, State};

#[graceful::server(addr = "127.0.0.1:0")]
async fn api() -> &'static str {
    "ok"
}

/// State the body provides.
#[derive(Clone)]
struct Greeting(String);

#[graceful::server(name = "api", path = "/state")]
async fn with_state(greeting: State<Greeting>) -> String {
    greeting.0.0.clone()
}

/// A server assembled from a function returning a `tower::Service`.
#[graceful::server(addr = "127.0.0.1:0")]
fn assembled() -> Hello {
    eprintln!("server function ran");
    if std::env::var("FIXTURE_ROUTER").as_deref() == Ok("panic") {
        panic!("no route table");
    }
    Hello
}

/// Answers `hello` to everything.
#[derive(Clone)]
struct Hello;

impl tower_service::Service<Request> for Hello {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request) -> Self::Future {
        std::future::ready(Ok(Response::new("hello".to_owned())))
    }
}

#[graceful::on_shutdown]
async fn cleanup() {
    tracing::info!(ran = "cleanup", "cleanup ran");
}

#[graceful::on_shutdown(phase = 1)]
async fn farewell(greeting: State<Greeting>) {
    tracing::info!(greeting = %greeting.0.0, "farewell ran");
}

/// The report hook: exports the final report to a file, as a service would
/// to its own store.
fn export(report: &graceful::Report) {
    if std::env::var("FIXTURE_REPORT").as_deref() == Ok("block") {
        loop {
            std::thread::park();
        }
    }
    let Ok(path) = std::env::var("FIXTURE_REPORT_FILE") else {
        return;
    };
    let mut lines = vec![format!("exit_code={}", report.exit_code().code())];
    lines.extend(
        report
            .triggers
            .iter()
            .map(|t| format!("trigger={}", t.trigger)),
    );
    lines.extend(
        report
            .callbacks
            .iter()
            .map(|c| format!("callback={}:{}", c.name, c.outcome)),
    );
    std::fs::write(path, lines.join("\n") + "\n").expect("the report file is writable");
}

#[graceful::main(on_report = export)]
async fn main() -> Result<(), String> {
    if std::env::var("FIXTURE_LOG").as_deref() == Ok("own") {
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .init();
    }
    tracing::info!("main body says hello");
    tracing::warn!("main body warns");
    eprintln!("main body ran");
    if std::env::var("FIXTURE_STATE").as_deref() != Ok("missing") {
        graceful::provide(Greeting("hello from state".to_owned()));
    }
    if std::env::var("FIXTURE_STATE").as_deref() == Ok("twice") {
        graceful::provide(Greeting("hello again".to_owned()));
    }
    match std::env::var("FIXTURE_MAIN").as_deref() {
        Ok("fail") => Err("cannot reach the database".to_owned()),
        Ok("panic") => panic!("no configuration file"),
        Ok("wait") => {
            // No subscriber yet: the body would install its own here.
            eprintln!("setting up");
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }
        _ => Ok(()),
    }
}
