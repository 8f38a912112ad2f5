//! The metrics endpoint of a real process (`GRACEFUL_METRICS_PATH`, the
//! `prometheus` feature), scraped across a SIGTERM; every scrape is checked
//! by `promtool check metrics` (Debian's `prometheus` package).

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Instant;

use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, PATIENCE, get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const METRICS: (&str, &str) = ("GRACEFUL_METRICS_PATH", "/metrics");

/// One scrape, checked by promtool.
struct Scrape {
    text: String,
}

impl Scrape {
    /// The value of the sample `name{labels}` (the labels given, in any
    /// order, and no others).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.text.lines().find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, rest) = series.split_once('{').unwrap_or((series, "}"));
            if series_name != name {
                return None;
            }
            let mut got: Vec<&str> = rest
                .trim_end_matches('}')
                .split(',')
                .filter(|l| !l.is_empty())
                .collect();
            let mut want: Vec<String> =
                labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            got.sort_unstable();
            want.sort_unstable();
            (got == want).then(|| value.parse().ok()).flatten()
        })
    }

    fn expect(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in\n{}", self.text))
    }
}

/// `promtool check metrics` on `text`: the exposition is valid, and
/// follows Prometheus' naming rules.
fn promtool(text: &str) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's `prometheus` package; .ci/run installs it)");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes())
        .expect("promtool reads the scrape");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let answer = get(addr, "/metrics").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let kind = answer.headers["content-type"].to_str().expect("text");
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    promtool(answer.text());
    Scrape {
        text: answer.text().to_owned(),
    }
}

/// Scrapes until `done` holds of a scrape, within [`PATIENCE`].
async fn scrape_until(addr: SocketAddr, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let scrape = scrape(addr).await;
        if done(&scrape) {
            return scrape;
        }
        assert!(Instant::now() < deadline, "never {what}:\n{}", scrape.text);
        tokio::task::yield_now().await;
    }
}

const API: (&str, &str) = ("server", "api");

#[tokio::test]
async fn scrapes_across_sigterm_follow_the_requests_and_the_phases() {
    let mut app = Fixture::spawn(&[], &[METRICS, ("GRACEFUL_PRE_STOP_DELAY", "1s"), JSON]);
    let addr = app.addr("api").await;

    let running = scrape(addr).await;
    assert_eq!(
        running.expect("graceful_phase", &[("phase", "running")]),
        1.0
    );
    assert_eq!(running.expect("graceful_phase", &[("phase", "drain")]), 0.0);
    assert_eq!(running.expect("http_server_active_requests", &[API]), 0.0);

    assert_eq!(get(addr, "/").await.status, 200);
    assert_eq!(get(addr, "/no/such/path?x=1").await.status, 404);
    let slow = tokio::spawn(async move { get(addr, "/slow?ms=1500").await });
    app.wait_for_started("slow", 1).await;
    let busy = scrape(addr).await;
    // The scrapes are not requests: the slow one is the one in flight.
    assert_eq!(busy.expect("http_server_active_requests", &[API]), 1.0);
    let served = [API, ("outcome", "served")];
    assert_eq!(busy.expect("graceful_requests_total", &served), 2.0);
    assert!(busy.expect("graceful_connections_total", &[API]) >= 3.0);
    // No label value is a request's path.
    assert!(!busy.text.contains("/no/such/path"), "{}", busy.text);
    // Each answered request is in the duration histogram, by its labels.
    let get_11 = |status| {
        [
            API,
            ("http_request_method", "GET"),
            ("network_protocol_version", "1.1"),
            ("http_response_status_code", status),
        ]
    };
    let duration = "http_server_request_duration_seconds_count";
    assert_eq!(busy.expect(duration, &get_11("200")), 1.0);
    assert_eq!(busy.expect(duration, &get_11("404")), 1.0);
    let mut le_inf = get_11("200").to_vec();
    le_inf.push(("le", "+Inf"));
    assert_eq!(
        busy.expect("http_server_request_duration_seconds_bucket", &le_inf),
        1.0
    );

    app.signal(SIGTERM);
    let leaving = scrape_until(addr, "not-ready", |s| {
        s.value("graceful_phase", &[("phase", "not-ready")]) == Some(1.0)
    })
    .await;
    assert_eq!(
        leaving.expect("graceful_phase", &[("phase", "running")]),
        0.0
    );
    assert_eq!(
        leaving.expect("graceful_signals_total", &[("signal", "SIGTERM")]),
        1.0
    );
    assert_eq!(leaving.expect("http_server_active_requests", &[API]), 1.0);

    let slow = slow.await.expect("the slow request");
    assert_eq!(slow.status, 200);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
    app.assert_report("api", &[("served", 2), ("drained", 1)]);
}

#[tokio::test]
async fn the_in_flight_gauge_comes_back_to_zero_when_a_client_leaves() {
    let mut app = Fixture::spawn(&[], &[METRICS, JSON]);
    let addr = app.addr("api").await;
    // An event stream whose client goes away in the middle.
    let mut left = TcpStream::connect(addr).await.expect("connect");
    left.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("written");
    let mut first = [0u8; 64];
    let n = left.read(&mut first).await.expect("the stream's start");
    assert!(n > 0, "the stream started");
    let streaming = scrape(addr).await;
    assert_eq!(streaming.expect("http_server_active_requests", &[API]), 1.0);
    drop(left);
    let after = scrape_until(addr, "the request ended", |s| {
        s.value("http_server_active_requests", &[API]) == Some(0.0)
    })
    .await;
    let disconnected = [API, ("outcome", "disconnected")];
    assert_eq!(after.expect("graceful_requests_total", &disconnected), 1.0);
    let timed = [
        API,
        ("http_request_method", "GET"),
        ("network_protocol_version", "1.1"),
        ("error_type", "disconnected"),
    ];
    assert_eq!(
        after.expect("http_server_request_duration_seconds_count", &timed),
        1.0
    );
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

#[tokio::test]
async fn one_path_for_health_and_metrics_is_a_start_up_error() {
    let mut app = Fixture::spawn(
        &[],
        &[
            ("GRACEFUL_METRICS_PATH", "/healthz"),
            ("GRACEFUL_HEALTH_PATH", "/healthz"),
            JSON,
        ],
    );
    let (code, _) = app.exit().await;
    assert_eq!(code, 2, "{}", app.log());
    assert!(!app.listened(), "{}", app.log());
    let failed = app
        .event_where(&[("startup", "failed")])
        .unwrap_or_else(|| panic!("no start-up error in {}", app.log()));
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("metrics_path")),
        "{failed}"
    );

    // The same, typed, from the builder.
    let err = graceful::App::new()
        .health_path("/healthz")
        .metrics_path("/healthz")
        .start()
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, graceful::Error::Setting { setting, .. } if setting == "metrics_path"),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 2);
}

#[tokio::test]
async fn the_admin_server_is_scraped_through_the_drain_and_the_callbacks() {
    let mut app = Fixture::spawn(
        &[
            "--callback",
            "first:0:ok",
            "--callback",
            "flush:1:sleep=1000",
        ],
        &[
            METRICS,
            ("GRACEFUL_ADMIN_ADDR", "127.0.0.1:0"),
            ("GRACEFUL_HEALTH_PATH", "/healthz"),
            JSON,
        ],
    );
    let api = app.addr("api").await;
    let admin = app.addr("admin").await;
    assert_eq!(get(admin, "/healthz").await.status, 200);
    assert_eq!(
        get(admin, "/").await.status,
        404,
        "the admin server serves nothing else"
    );
    let slow = tokio::spawn(async move { get(api, "/slow?ms=1500").await });
    app.wait_for_started("slow", 1).await;

    app.signal(SIGTERM);
    let draining = scrape_until(admin, "the drain", |s| {
        s.value("graceful_phase", &[("phase", "drain")]) == Some(1.0)
    })
    .await;
    assert_eq!(draining.expect("http_server_active_requests", &[API]), 1.0);
    assert_eq!(get(admin, "/healthz").await.status, 503);
    // The app's own listener is closed by now; the admin server's is not.
    assert!(
        TcpStream::connect(api).await.is_err(),
        "the api listener is closed"
    );

    // The first callback has ended, the second runs.
    let calling_back = scrape_until(admin, "the first callback's end", |s| {
        s.value("graceful_callbacks_total", &[("outcome", "succeeded")]) == Some(1.0)
    })
    .await;
    assert_eq!(
        calling_back.expect("graceful_phase", &[("phase", "callbacks")]),
        1.0
    );
    let drained = [API, ("outcome", "drained")];
    assert_eq!(
        calling_back.expect("graceful_requests_total", &drained),
        1.0
    );
    assert_eq!(
        calling_back.expect("http_server_active_requests", &[API]),
        0.0
    );
    let drain_took = calling_back.expect("graceful_phase_duration_seconds", &[("phase", "drain")]);
    assert!(drain_took > 0.0, "{drain_took}");

    assert_eq!(slow.await.expect("the slow request").status, 200);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

#[tokio::test]
async fn an_admin_address_taken_is_a_start_up_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address").to_string();
    let mut app = Fixture::spawn(&[], &[METRICS, ("GRACEFUL_ADMIN_ADDR", &addr), JSON]);
    let (code, _) = app.exit().await;
    assert_eq!(code, 2, "{}", app.log());
    assert!(!app.listened(), "{}", app.log());
}

#[tokio::test]
async fn the_metrics_example_is_scraped_on_its_admin_server() {
    let mut app = Fixture::example(
        "metrics",
        &[
            ("GRACEFUL_ADDR_API", "127.0.0.1:0"),
            ("GRACEFUL_ADMIN_ADDR", "127.0.0.1:0"),
            JSON,
        ],
    );
    let (api, admin) = (app.addr("api").await, app.addr("admin").await);
    assert_eq!(get(api, "/work").await.text(), "done\n");
    let scrape = scrape(admin).await;
    let work = [
        API,
        ("http_request_method", "GET"),
        ("network_protocol_version", "1.1"),
        ("http_response_status_code", "200"),
    ];
    assert_eq!(
        scrape.expect("http_server_request_duration_seconds_count", &work),
        1.0
    );
    assert!(scrape.expect("http_server_request_duration_seconds_sum", &work) >= 0.3);
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

#[tokio::test]
async fn a_request_cut_off_at_the_drain_deadline_leaves_the_in_flight_gauge() {
    // The callback keeps the admin server up for a while after the cut.
    let mut app = Fixture::spawn(
        &["--callback", "flush:0:sleep=1000"],
        &[
            METRICS,
            ("GRACEFUL_ADMIN_ADDR", "127.0.0.1:0"),
            ("GRACEFUL_DRAIN_TIMEOUT", "300ms"),
            ("GRACEFUL_CALLBACK_TIMEOUT", "1s"),
            JSON,
        ],
    );
    let (api, admin) = (app.addr("api").await, app.addr("admin").await);
    let mut hanging = TcpStream::connect(api).await.expect("connect");
    hanging
        .write_all(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("written");
    app.wait_for_started("hang", 1).await;
    app.signal(SIGTERM);
    // Past the deadline, while the admin server still answers.
    let cut = scrape_until(admin, "the cut", |s| {
        s.value("graceful_requests_total", &[API, ("outcome", "cut_off")]) == Some(1.0)
    })
    .await;
    assert_eq!(cut.expect("http_server_active_requests", &[API]), 0.0);
    let aborted = [API, ("reason", "aborted")];
    assert_eq!(
        cut.expect("graceful_connections_closed_total", &aborted),
        1.0
    );
    let timed = [
        API,
        ("http_request_method", "GET"),
        ("network_protocol_version", "1.1"),
        ("error_type", "cut_off"),
    ];
    assert_eq!(
        cut.expect("http_server_request_duration_seconds_count", &timed),
        1.0
    );
    drop(hanging);
    assert_eq!(app.exit().await.0, 3, "{}", app.log());
}

#[tokio::test]
async fn the_duration_of_a_routed_request_is_labelled_with_its_route() {
    let mut app = Fixture::attribute_fixture(&[METRICS, JSON]);
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/state").await.status, 200);
    assert_eq!(get(addr, "/other/7").await.status, 200);
    let scrape = scrape(addr).await;
    let ok = |route: Option<&'static str>| {
        let mut labels = vec![
            API,
            ("http_request_method", "GET"),
            ("network_protocol_version", "1.1"),
            ("http_response_status_code", "200"),
        ];
        labels.extend(route.map(|r| ("http_route", r)));
        labels
    };
    let count = "http_server_request_duration_seconds_count";
    // The handler at `/state` is its route; the fallback has none, and the
    // path it served is no label.
    assert_eq!(scrape.expect(count, &ok(Some("/state"))), 1.0);
    assert_eq!(scrape.expect(count, &ok(None)), 1.0);
    assert!(!scrape.text.contains("/other/7"), "{}", scrape.text);
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}
