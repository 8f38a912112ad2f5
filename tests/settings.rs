//! No setting can panic: every duration, from the environment, the builder
//! or the attributes, is checked at start-up, and an out-of-range value is a
//! clear error naming the setting, with exit code 2.

mod support;

use std::convert::Infallible;
use std::time::Duration;

use graceful::hyper::Response;
use graceful::hyper::service::service_fn;
use graceful::{App, Callback, Error, Request, Server};
use support::{Fixture, JSON};

const HUGE: [&str; 2] = ["18446744073709551615s", "300000000000y"];

#[tokio::test]
async fn an_out_of_range_duration_in_the_environment_stops_the_start() {
    for var in [
        "GRACEFUL_SHUTDOWN_TIMEOUT",
        "GRACEFUL_DRAIN_TIMEOUT",
        "GRACEFUL_CALLBACK_TIMEOUT",
        "GRACEFUL_CALLBACK_TIMEOUT_FLUSH",
        "GRACEFUL_PRE_STOP_DELAY",
        "GRACEFUL_READ_GRACE",
        "GRACEFUL_HEADER_GRACE",
        "GRACEFUL_PROGRESS_INTERVAL",
    ] {
        for value in HUGE {
            let mut app = Fixture::spawn(&["--callback", "flush:0:ok"], &[(var, value), JSON]);
            let (code, _) = app.exit().await;
            let log = app.log();
            assert_eq!(code, 2, "{var}={value}: {log}");
            // The start-up error is its message: it has no field.
            assert!(app.said(&format!("{var}={value:?} is invalid")), "{log}");
            assert!(!app.listened(), "{var}={value}: {log}");
        }
    }
}

/// An app with one server answering an empty `200`.
fn app() -> App {
    App::new().server(Server::new(
        "api",
        "127.0.0.1:0",
        service_fn(|_req: Request| async { Ok::<_, Infallible>(Response::new(String::new())) }),
    ))
}

#[tokio::test]
async fn an_out_of_range_duration_from_the_builder_stops_the_start() {
    type Set = fn(App) -> App;
    let apps: [(&str, Set); 7] = [
        ("shutdown_timeout", |app| {
            app.shutdown_timeout(Duration::MAX)
        }),
        ("drain_timeout", |app| app.drain_timeout(Duration::MAX)),
        ("callback_timeout", |app| {
            app.callback_timeout(Duration::MAX)
        }),
        ("pre_stop_delay", |app| app.pre_stop_delay(Duration::MAX)),
        ("read_grace", |app| app.read_grace(Duration::MAX)),
        ("header_grace", |app| app.header_grace(Duration::MAX)),
        ("progress_interval", |app| {
            app.progress_interval(Duration::MAX)
        }),
    ];
    for (setting, set) in apps {
        let app = set(app());
        let err = app.start().await.expect_err("refused");
        assert!(matches!(err, Error::Setting { .. }), "{setting}: {err:?}");
        assert!(err.to_string().contains(setting), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
    let app = app().on_shutdown(Callback::new("flush", |_ctx| async {}).timeout(Duration::MAX));
    let err = app.start().await.expect_err("refused");
    assert!(err.to_string().contains("callback \"flush\""), "{err}");
}

#[tokio::test]
async fn an_address_without_a_port_says_so() {
    for value in ["localhost", "127.0.0.1", "::1", "localhost:http"] {
        let mut app = Fixture::spawn(&[], &[("GRACEFUL_ADDR_API", value)]);
        let (code, _) = app.exit().await;
        let log = app.log();
        assert_eq!(code, 2, "{value}: {log}");
        assert!(
            log.contains(&format!("server \"api\": cannot resolve address {value:?}")),
            "{log}"
        );
        assert!(
            log.contains("a port is missing") || log.contains("is not a port"),
            "{value}: {log}"
        );
    }
}
