//! Every accepted form of the attributes, registered in this test binary and
//! served for real: `App::registered()` assembles them as `#[graceful::main]`
//! would, and a real client checks each answer.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use graceful::hyper::{Response, StatusCode};
use graceful::{App, CallbackOutcome, Request, ShutdownContext, ShutdownHandle};
use http_body_util::Full;
use support::get;

// One server, "forms", shared by path; its address is given once.
#[graceful::server(name = "forms", addr = "127.0.0.1:0", path = "/str")]
async fn static_str(_req: Request) -> &'static str {
    "a static str"
}

#[graceful::server(name = "forms", path = "/string")]
async fn string(req: Request) -> String {
    format!("you asked for {}", req.uri().path())
}

#[graceful::server(name = "forms", path = "/status")]
async fn status_and_text() -> (StatusCode, String) {
    (StatusCode::ACCEPTED, "accepted".to_owned())
}

#[graceful::server(name = "forms", path = "/fails")]
async fn fails(_req: Request) -> Result<String, std::io::Error> {
    Err(std::io::Error::other("the database is down"))
}

#[graceful::server(name = "forms", path = "/works")]
async fn works(_req: Request) -> Result<&'static str, std::io::Error> {
    Ok("worked")
}

#[graceful::server(name = "forms", path = "/response")]
async fn response(_req: Request) -> Response<Full<Bytes>> {
    Response::builder()
        .header("x-form", "response")
        .body(Full::new(Bytes::from_static(b"full body")))
        .expect("a valid response")
}

#[graceful::server(name = "forms", path = "/teapot")]
async fn bare_status() -> StatusCode {
    StatusCode::IM_A_TEAPOT
}

#[graceful::server(name = "forms", path = "/handle")]
async fn with_handle(_req: Request, shutdown: ShutdownHandle) -> String {
    format!("shutting down: {}", shutdown.is_shutting_down())
}

#[graceful::server(name = "forms", path = "/files/")]
async fn subtree(req: Request) -> String {
    format!("file {}", req.uri().path())
}

// A server whose name defaults to the function's, on a host name.
#[graceful::server(addr = "localhost:0")]
async fn by_function_name() -> Vec<u8> {
    b"named after me".to_vec()
}

// Servers of one handler each, which go without the router: their path
// still holds.
#[graceful::server(name = "alone-exact", addr = "127.0.0.1:0", path = "/only")]
async fn alone_exact(req: Request, shutdown: ShutdownHandle) -> String {
    format!(
        "alone at {}, shutting down: {}",
        req.uri().path(),
        shutdown.is_shutting_down()
    )
}

#[graceful::server(name = "alone-subtree", addr = "127.0.0.1:0", path = "/static/")]
async fn alone_subtree(req: Request) -> (StatusCode, String) {
    (StatusCode::CREATED, format!("under {}", req.uri().path()))
}

// A whole axum router.
#[graceful::server(name = "router", addr = "127.0.0.1:0")]
fn router() -> axum::Router {
    axum::Router::new().route("/", axum::routing::get(|| async { "from axum" }))
}

static CALLED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

#[graceful::on_shutdown]
async fn plain() {
    CALLED.lock().unwrap().push("plain");
}

#[graceful::on_shutdown(name = "with-context", timeout = "2s", phase = 1)]
async fn with_context(ctx: ShutdownContext) -> Result<(), String> {
    assert_eq!(ctx.timeout(), Duration::from_secs(2));
    CALLED.lock().unwrap().push(ctx.name().to_owned().leak());
    Ok(())
}

#[graceful::on_shutdown(phase = -1)]
async fn early() -> Result<(), std::io::Error> {
    CALLED.lock().unwrap().push("early");
    Ok(())
}

#[tokio::test]
async fn every_form_is_served_and_every_callback_runs_in_phase_order() {
    let running = App::registered().unwrap().start().await.unwrap();
    let addrs: Vec<(String, graceful::ListenAddr)> = running
        .local_addrs()
        .map(|(n, a)| (n.to_owned(), a.clone()))
        .collect();
    let names: Vec<&str> = addrs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "alone-exact",
            "alone-subtree",
            "by_function_name",
            "forms",
            "router"
        ],
        "sorted, deterministic"
    );
    let forms = running.local_addr("forms").unwrap();

    let answer = get(forms, "/str").await;
    assert_eq!(
        (answer.status, answer.text()),
        (StatusCode::OK, "a static str")
    );
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(get(forms, "/string").await.text(), "you asked for /string");
    let answer = get(forms, "/status").await;
    assert_eq!(
        (answer.status, answer.text()),
        (StatusCode::ACCEPTED, "accepted")
    );
    let answer = get(forms, "/fails").await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !answer.text().contains("database"),
        "the error is logged, not sent"
    );
    assert_eq!(get(forms, "/works").await.text(), "worked");
    let answer = get(forms, "/response").await;
    assert_eq!(answer.text(), "full body");
    assert_eq!(answer.headers["x-form"], "response");
    assert_eq!(get(forms, "/teapot").await.status, StatusCode::IM_A_TEAPOT);
    assert_eq!(get(forms, "/handle").await.text(), "shutting down: false");
    assert_eq!(
        get(forms, "/files/a/b.txt").await.text(),
        "file /files/a/b.txt"
    );
    assert_eq!(
        get(forms, "/nothing-here").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(forms, "/str/more").await.status,
        StatusCode::NOT_FOUND,
        "exact paths are exact"
    );

    let exact = running.local_addr("alone-exact").unwrap();
    let answer = get(exact, "/only").await;
    assert_eq!(
        (answer.status, answer.text()),
        (StatusCode::OK, "alone at /only, shutting down: false")
    );
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(get(exact, "/").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(exact, "/only/").await.status, StatusCode::NOT_FOUND);
    let subtree = running.local_addr("alone-subtree").unwrap();
    let answer = get(subtree, "/static/css/a.css").await;
    assert_eq!(
        (answer.status, answer.text()),
        (StatusCode::CREATED, "under /static/css/a.css")
    );
    assert_eq!(get(subtree, "/static").await.status, StatusCode::NOT_FOUND);

    let named = running.local_addr("by_function_name").unwrap();
    assert_eq!(get(named, "/anything").await.text(), "named after me");
    let router = running.local_addr("router").unwrap();
    assert_eq!(get(router, "/").await.text(), "from axum");

    assert_eq!(graceful::shutdown_handle().local_addr("forms"), Some(forms));
    graceful::shutdown_handle().shutdown();
    let report = running.wait().await;
    assert_eq!(report.exit_code(), 0, "{report}");
    assert!(
        report
            .callbacks
            .iter()
            .all(|c| c.outcome == CallbackOutcome::Succeeded)
    );
    assert_eq!(*CALLED.lock().unwrap(), ["early", "plain", "with-context"]);
}
