//! Logs behave like every `tracing` app's: `RUST_LOG` filters, `main`'s body
//! is heard, `GRACEFUL_LOG_FORMAT=json` writes JSON, and a subscriber the app
//! installs in `main`'s body receives the errors found after it. A real
//! `#[graceful::main]` process.

mod support;

use support::Fixture;

/// The lines `tracing` wrote (the fixture's `eprintln!` lines aside).
fn traced(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            !line.starts_with("main body ran") && !line.starts_with("server function ran")
        })
        .collect()
}

#[tokio::test]
async fn main_s_body_is_heard_and_rust_log_filters() {
    let mut app = Fixture::attribute_fixture(&[("FIXTURE_MAIN", "fail")]);
    assert_eq!(app.exit().await.0, 2);
    let log = app.log();
    assert!(log.contains("main body says hello"), "{log}");

    let mut app = Fixture::attribute_fixture(&[("FIXTURE_MAIN", "fail"), ("RUST_LOG", "warn")]);
    assert_eq!(app.exit().await.0, 2);
    let log = app.log();
    assert!(log.contains("main body warns"), "{log}");
    assert!(
        !log.contains("main body says hello"),
        "RUST_LOG=warn ignored: {log}"
    );
    assert!(
        log.contains("start-up failed: cannot reach the database"),
        "{log}"
    );
}

#[tokio::test]
async fn graceful_log_format_json_writes_one_object_a_line() {
    let mut app =
        Fixture::attribute_fixture(&[("FIXTURE_MAIN", "fail"), ("GRACEFUL_LOG_FORMAT", "json")]);
    assert_eq!(app.exit().await.0, 2);
    let log = app.log();
    let lines = traced(&log);
    assert!(lines.len() >= 3, "{log}");
    for line in lines {
        assert!(
            line.starts_with('{') && line.ends_with('}') && line.contains("\"message\""),
            "not JSON: {line}"
        );
    }
    assert!(
        log.contains("start-up failed: cannot reach the database"),
        "{log}"
    );
}

#[tokio::test]
async fn errors_after_the_body_go_through_the_app_s_own_subscriber() {
    let mut app =
        Fixture::attribute_fixture(&[("FIXTURE_LOG", "own"), ("GRACEFUL_DRAIN_TIMEOUT", "10")]);
    assert_eq!(app.exit().await.0, 2);
    let log = app.log();
    let error = traced(&log)
        .into_iter()
        .find(|line| line.contains("GRACEFUL_DRAIN_TIMEOUT"))
        .unwrap_or_else(|| panic!("no error line: {log}"));
    assert!(
        error.starts_with('{'),
        "not through the app's JSON subscriber: {log}"
    );
}
