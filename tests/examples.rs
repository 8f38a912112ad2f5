//! The examples, run as the user would: real processes, real signals, real HTTP.

mod support;

use nix::sys::signal::Signal::{SIGINT, SIGTERM};
use support::manifest::{manifest_env, manifest_value};
use support::{Fixture, JSON, get};

#[tokio::test]
async fn the_demo_serves_then_flushes_its_cache_on_sigterm() {
    let mut seed = Fixture::example(
        "demo",
        &[
            ("GRACEFUL_ADDR_SERVICE1", "127.0.0.1:0"),
            ("GRACEFUL_ADDR_SERVICE2", "127.0.0.1:0"),
            JSON,
        ],
    );
    let service1 = seed.addr("service1").await;
    let service2 = seed.addr("service2").await;
    let answer = get(service1, "/").await;
    assert_eq!(
        (answer.status.as_u16(), answer.text()),
        (200, "hello world")
    );
    assert_eq!(get(service1, "/visit").await.text(), "hello world");
    assert_eq!(get(service2, "/").await.status, 404);
    seed.signal(SIGTERM);
    let (code, _) = seed.exit().await;
    assert_eq!(code, 0, "{}", seed.log());
    let log = seed.log();
    // The example's line saying where it flushed (`store`), and how many.
    let flushed = seed.event_with(&["visits", "store"]);
    assert!(flushed.is_some_and(|event| event["visits"] == 2), "{log}");
    let callback = seed.callback_report("store_cache_to_db");
    assert!(
        support::has(&callback, &[("phase", "0"), ("outcome", "ok")]),
        "{callback}; log:\n{log}"
    );
}

#[tokio::test]
async fn the_axum_example_keeps_its_router_and_drains_a_slow_request() {
    let mut app = Fixture::example("axum", &[("GRACEFUL_ADDR_API", "127.0.0.1:0")]);
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/hello").await.text(), "hello from axum");
    let slow = tokio::spawn(async move { get(addr, "/slow").await });
    // The example's own line, which has no field.
    app.wait_for_line("slow request started").await;
    app.signal(SIGINT);
    let answer = slow.await.unwrap();
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "slow done"));
    app.exit_clean(&[]).await;
}

#[tokio::test]
async fn the_websocket_example_says_goodbye_with_1001_at_the_signal() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let mut app = Fixture::example("websocket", &[("GRACEFUL_ADDR_API", "127.0.0.1:0"), JSON]);
    let addr = app.addr("api").await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/echo"))
        .await
        .expect("a WebSocket handshake");
    socket.send(Message::text("ping")).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("ping"));
    app.signal(SIGTERM);
    let close = loop {
        match socket.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}: {}", app.log()),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(close.code, CloseCode::Away);
    assert_eq!(close.reason, "going away");
    // The client's reply completes the closing handshake.
    while socket.next().await.is_some() {}
    app.exit_clean(&[]).await;
    app.assert_report(
        "api",
        &[
            ("upgraded", 1),
            ("upgraded_closed", 1),
            ("upgraded_cut_off", 0),
        ],
    );
}

#[tokio::test]
async fn the_sse_example_ends_its_stream_with_a_last_event_at_the_signal() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut app = Fixture::example("sse", &[("GRACEFUL_ADDR_EVENTS", "127.0.0.1:0"), JSON]);
    let addr = app.addr("events").await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("data: tick 0") {
        let mut buf = [0; 512];
        let n = stream.read(&mut buf).await.unwrap();
        assert_ne!(n, 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    app.signal(SIGTERM);
    stream.read_to_end(&mut seen).await.unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("text/event-stream"), "{text}");
    assert!(
        text.contains("event: bye\ndata: the server is going away\n\n"),
        "{text}"
    );
    assert!(
        text.ends_with("0\r\n\r\n"),
        "a complete chunked body: {text:?}"
    );
    app.exit_clean(&[]).await;
    app.assert_report("events", &[("drained", 1)]);
}

#[tokio::test]
async fn the_state_example_shares_its_state_with_handlers_and_callbacks() {
    let mut app = Fixture::example("state", &[("GRACEFUL_ADDR_API", "127.0.0.1:0"), JSON]);
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/visits").await.text(), "1\n");
    assert_eq!(get(addr, "/visits").await.text(), "2\n");
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    // The example's line saying what its callback saved.
    assert!(
        app.event_where(&[("visits", "2")]).is_some(),
        "{}",
        app.log()
    );
}

/// Writes `request` on a new connection and reads until `until` shows up
/// (or, with `None`, to the end); returns what was read.
async fn raw(
    addr: std::net::SocketAddr,
    request: &str,
    until: Option<&str>,
) -> (tokio::net::TcpStream, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let mut buf = [0; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if n == 0 || until.is_some_and(|until| text.contains(until)) {
            return (stream, text.into_owned());
        }
    }
}

#[tokio::test]
async fn the_service_example_serves_json_on_shared_state_streams_and_closes_its_store() {
    use tokio::io::AsyncReadExt;

    let mut app = Fixture::example("service", &[("GRACEFUL_ADDR_API", "127.0.0.1:0"), JSON]);
    let addr = app.addr("api").await;
    let body = r#"{"value":"hello"}"#;
    let put = format!(
        "PUT /items/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (_, created) = raw(addr, &put, None).await;
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let json = get(addr, "/items/a").await;
    assert_eq!((json.status.as_u16(), json.text()), (200, body));
    assert_eq!(get(addr, "/items/b").await.status, 404);
    assert_eq!(get(addr, "/healthz").await.status, 200);

    let (mut events, seen) = raw(
        addr,
        "GET /events HTTP/1.1\r\nHost: x\r\n\r\n",
        Some("data: tick 0"),
    )
    .await;
    app.signal(SIGTERM);
    let mut rest = Vec::new();
    events.read_to_end(&mut rest).await.unwrap();
    let all = format!("{seen}{}", String::from_utf8_lossy(&rest));
    assert!(all.contains("event: bye\ndata: going away\n\n"), "{all}");
    assert!(all.ends_with("0\r\n\r\n"), "{all:?}");
    app.exit_clean(&[]).await;
    // The example's line saying what its store held when it closed.
    assert!(
        app.event_where(&[("items", "1")]).is_some(),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn servers_registered_in_a_library_run_in_the_binary() {
    let mut app = Fixture::example("from_library", &[("GRACEFUL_ADDR_STATUS", "127.0.0.1:0")]);
    let addr = app.addr("status").await;
    assert_eq!(get(addr, "/").await.text(), "library ok");
    app.signal(SIGTERM);
    // The library's own line, which has no field.
    app.exit_clean(&["library cleanup done"]).await;
}

#[tokio::test]
async fn an_error_from_the_main_body_aborts_the_start_with_a_clear_message() {
    let mut app = Fixture::attribute_fixture(&[("FIXTURE_MAIN", "fail"), JSON]);
    let (code, _) = app.exit().await;
    assert_eq!(code, 2, "{}", app.log());
    let log = app.log();
    // The start-up error is its message: it has no field.
    assert!(
        app.said("start-up failed: cannot reach the database"),
        "{log}"
    );
    assert!(!app.listened(), "{log}");
}

#[tokio::test]
async fn a_signal_during_the_main_body_ends_the_process_cleanly() {
    let mut app = Fixture::attribute_fixture(&[("FIXTURE_MAIN", "wait"), JSON]);
    // The body's own words (`eprintln!`), before any subscriber.
    app.wait_for_line("setting up").await;
    app.signal(SIGTERM);
    let (code, took) = app.exit().await;
    assert_eq!(code, 0, "{}", app.log());
    assert!(
        took < std::time::Duration::from_secs(2),
        "exit took {took:?}"
    );
    let log = app.log();
    assert!(!app.listened(), "readiness was reported: {log}");
    assert!(
        app.event_where(&[("ran", "cleanup")]).is_some(),
        "the callbacks ran: {log}"
    );
}

#[tokio::test]
async fn main_s_body_runs_before_the_server_functions() {
    let mut app = Fixture::attribute_fixture(&[]);
    let addr = app.addr("assembled").await;
    assert_eq!(get(addr, "/").await.text(), "hello");
    let log = app.log();
    let body = log.find("main body ran").expect("the body ran");
    let assembly = log
        .find("server function ran")
        .expect("the server function ran");
    assert!(
        body < assembly,
        "the server function ran before main's body: {log}"
    );
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

#[tokio::test]
async fn a_panic_before_serving_is_a_startup_failure_naming_where() {
    let assembled = format!(
        "`assembled` at tests/bin/attribute-fixture.rs:{} panicked: no route table",
        fixture_line("fn assembled(")
    );
    for (env, place) in [
        (
            ("FIXTURE_MAIN", "panic"),
            "`main` panicked: no configuration file",
        ),
        (("FIXTURE_ROUTER", "panic"), assembled.as_str()),
    ] {
        let mut app = Fixture::attribute_fixture(&[env, JSON]);
        let (code, _) = app.exit().await;
        let log = app.log();
        assert_eq!(code, 2, "{env:?}: {log}");
        // The start-up error is its message: it has no field.
        assert!(app.said(place), "{env:?}: {log}");
        assert!(!app.listened(), "{log}");
    }
}

#[tokio::test]
async fn state_provided_in_main_s_body_reaches_a_handler() {
    let mut app = Fixture::attribute_fixture(&[]);
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/state").await.text(), "hello from state");
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

#[tokio::test]
async fn a_state_nobody_provided_is_a_startup_error_naming_type_and_function() {
    let mut app = Fixture::attribute_fixture(&[("FIXTURE_STATE", "missing"), JSON]);
    let (code, _) = app.exit().await;
    let log = app.log();
    assert_eq!(code, 2, "{log}");
    let expected = format!(
        "`with_state` at tests/bin/attribute-fixture.rs:{} asks for `State<attribute_fixture::Greeting>`, which nothing provided",
        fixture_line("async fn with_state(")
    );
    // The start-up error is its message: it has no field.
    assert!(app.said(&expected), "{log}");
    let callback = format!(
        "`farewell` at tests/bin/attribute-fixture.rs:{} asks for `State<attribute_fixture::Greeting>`",
        fixture_line("async fn farewell(")
    );
    assert!(app.said(&callback), "{log}");
    assert!(!app.listened(), "{log}");
}

/// A type provided twice (a read and a write pool of one type) would have
/// the second silently replace the first: a start-up error naming both.
#[tokio::test]
async fn a_state_provided_twice_is_a_startup_error_naming_both_places() {
    let mut app = Fixture::attribute_fixture(&[("FIXTURE_STATE", "twice"), JSON]);
    let (code, _) = app.exit().await;
    let log = app.log();
    assert_eq!(code, 2, "{log}");
    let expected = format!(
        "`attribute_fixture::Greeting` is provided twice, at tests/bin/attribute-fixture.rs:{} and at tests/bin/attribute-fixture.rs:{}",
        fixture_line("Greeting(\"hello from state\""),
        fixture_line("Greeting(\"hello again\""),
    );
    // The start-up error is its message: it has no field.
    assert!(app.said(&expected), "{log}");
    assert!(!app.listened(), "{log}");
}

/// The line of the attribute fixture that contains `text`.
fn fixture_line(text: &str) -> usize {
    include_str!("bin/attribute-fixture.rs")
        .lines()
        .position(|line| line.contains(text))
        .expect("the fixture has the line")
        + 1
}

#[tokio::test]
async fn the_generated_main_serves_and_exits_zero() {
    let mut app = Fixture::attribute_fixture(&[]);
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/").await.text(), "ok");
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

/// The value of `key` (`Key=`) in a unit file.
fn unit_value<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|line| line.strip_prefix(key))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in the unit"))
}

/// Seconds in a `"30s"` setting of the example's `#[graceful::main]`.
fn main_seconds(source: &str, setting: &str) -> u64 {
    let at = source
        .find(&format!("{setting} = \""))
        .unwrap_or_else(|| panic!("no {setting} in the example"));
    let value = &source[at + setting.len() + 4..];
    value[..value.find("s\"").expect("a value in seconds")]
        .parse()
        .expect("whole seconds")
}

#[tokio::test]
async fn the_systemd_units_verify_add_up_and_run_the_example_as_written() {
    let units = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let read = |path: &str| std::fs::read_to_string(units.join(path)).expect(path);
    let (socket, service, source) = (
        read("systemd/hello.socket"),
        read("systemd/hello.service"),
        read("systemd.rs"),
    );
    let example = support::example_path("systemd");
    let dir = support::test_dir("systemd-units");

    // systemd's own checker, with the service running the built example.
    std::fs::write(dir.join("hello.socket"), &socket).unwrap();
    std::fs::write(
        dir.join("hello.service"),
        service.replace("/usr/local/bin/hello", &example.display().to_string()),
    )
    .unwrap();
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.join("hello.socket"))
        .arg(dir.join("hello.service"))
        .output()
        .expect("systemd-analyze (Debian's systemd) is installed");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // The budgets add up, and the socket is the server's address and name.
    let drain = main_seconds(&source, "drain_timeout");
    let shutdown = main_seconds(&source, "shutdown_timeout");
    let stop: u64 = unit_value(&service, "TimeoutStopSec=").parse().unwrap();
    assert!(
        drain + 5 <= shutdown && shutdown < stop,
        "{drain} + 5 s callbacks, {shutdown}, {stop}"
    );
    let listen = unit_value(&socket, "ListenStream=");
    let name = unit_value(&socket, "FileDescriptorName=");
    assert!(
        source.contains(&format!("name = \"{name}\", addr = \"{listen}\"")),
        "the socket unit is not the example's server"
    );

    // README.md shows them as they are.
    let readme = std::fs::read_to_string(units.join("../README.md")).unwrap();
    assert!(
        readme.contains(&socket) && readme.contains(&service),
        "README.md's units differ from examples/systemd/"
    );

    // Run as the units say, on a free port instead of 8080.
    let mut manager = support::ServiceManager::new(&dir);
    let (var, path) = manager.var();
    let listen = format!("127.0.0.1:{}", support::free_port());
    let mut app = Fixture::socket_activated_program(
        &example,
        &[&listen],
        &[&format!("--fdname={name}")],
        &[],
        &[(var, &path)],
    );
    app.activation_listening(1).await;
    let answer = get(listen.parse().unwrap(), "/").await;
    assert_eq!(answer.text(), "hello from systemd\n");
    let ready = manager.until("READY=1").await;
    assert!(ready.contains(&format!("api on {listen}")), "{ready}");
    app.signal(SIGTERM);
    manager.until("STOPPING=1").await;
    let (code, _) = app.exit().await;
    assert_eq!(code, 0, "{}", app.log());
    // The example's own line, which has no field.
    assert!(app.log().contains("flushed"), "{}", app.log());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_kubernetes_deployment_adds_up_and_runs_as_written() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let yaml = std::fs::read_to_string(root.join("examples/kubernetes/deployment.yaml")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains(&yaml), "README.md's manifest differs");

    let env = manifest_env(&yaml);
    let var = |name: &str| {
        env.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in the manifest"))
    };
    let seconds = |name: &str| -> u64 {
        var(name)
            .strip_suffix('s')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name} in whole seconds"))
    };
    // examples/state.rs has one callback, under the default callback_timeout.
    let callbacks = 3;
    let (pre_stop, drain, shutdown) = (
        seconds("GRACEFUL_PRE_STOP_DELAY"),
        seconds("GRACEFUL_DRAIN_TIMEOUT"),
        seconds("GRACEFUL_SHUTDOWN_TIMEOUT"),
    );
    let grace: u64 = manifest_value(&yaml, "terminationGracePeriodSeconds")
        .parse()
        .unwrap();
    assert!(
        pre_stop + drain + callbacks <= shutdown && shutdown < grace,
        "{pre_stop} + {drain} + {callbacks} <= {shutdown} < {grace}"
    );
    assert_eq!(manifest_value(&yaml, "path"), var("GRACEFUL_HEALTH_PATH"));
    let port = var("GRACEFUL_ADDR_API")
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(manifest_value(&yaml, "port"), port);
    assert_eq!(manifest_value(&yaml, "- containerPort"), port);

    // The app, with the manifest's settings, on a free port.
    let settings: Vec<(String, String)> = env
        .iter()
        .map(|(n, v)| match n.as_str() {
            "GRACEFUL_ADDR_API" => (n.clone(), "127.0.0.1:0".to_owned()),
            _ => (n.clone(), v.clone()),
        })
        .collect();
    let mut settings: Vec<(&str, &str)> = settings.iter().map(|(n, v)| (&**n, &**v)).collect();
    settings.push(JSON);
    let mut app = Fixture::example("state", &settings);
    let addr = app.addr("api").await;
    let health = var("GRACEFUL_HEALTH_PATH");
    assert_eq!(get(addr, &health).await.status, 200);
    let signalled = std::time::Instant::now();
    app.signal(SIGTERM);
    app.wait_for_event_with(&["trigger"]).await;
    // Not ready at once, still serving through the delay.
    assert_eq!(get(addr, &health).await.status, 503);
    assert_eq!(get(addr, "/visits").await.status, 200);
    let (code, _) = app.exit().await;
    assert_eq!(code, 0, "{}", app.log());
    assert!(signalled.elapsed() >= std::time::Duration::from_secs(pre_stop));
}

#[test]
fn the_readme_s_nginx_configuration_is_the_benchmark_s() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let bench = std::fs::read_to_string(root.join("bench/src/scenarios/rolling.rs")).unwrap();
    let snippet = readme
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an nginx snippet in README.md");
    for directive in [
        "max_fails=0;",
        "keepalive 64;",
        "proxy_pass http://app;",
        "proxy_http_version 1.1;",
        "proxy_set_header Connection \"\";",
    ] {
        assert!(snippet.contains(directive), "README.md lacks {directive}");
        assert!(
            bench.contains(&directive.replace('"', "\\\"")),
            "the benchmark's nginx lacks {directive}"
        );
    }
}

/// A file of this test's own, removed first.
fn report_file(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("graceful-{name}-{}.report", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test]
async fn the_report_hook_under_main_receives_the_final_report_before_the_exit() {
    let path = report_file("hook");
    let file = path.to_str().expect("a UTF-8 temporary path");
    let mut app = Fixture::attribute_fixture(&[("FIXTURE_REPORT_FILE", file), JSON]);
    app.addr("api").await;
    app.signal(SIGTERM);
    let (code, _) = app.exit().await;
    assert_eq!(code, 0, "{}", app.log());
    let exported = std::fs::read_to_string(&path).expect("the hook wrote the report");
    let _ = std::fs::remove_file(&path);
    let lines: Vec<&str> = exported.lines().collect();
    // The report the process logged and exited with, every callback on it.
    assert_eq!(lines.first(), Some(&"exit_code=0"), "{exported}");
    assert!(lines.contains(&"trigger=SIGTERM"), "{exported}");
    assert!(lines.contains(&"callback=cleanup:ok"), "{exported}");
    assert!(lines.contains(&"callback=farewell:ok"), "{exported}");
}

#[tokio::test]
async fn a_report_hook_that_never_returns_does_not_hold_the_exit() {
    let mut app = Fixture::attribute_fixture(&[
        ("FIXTURE_REPORT", "block"),
        ("GRACEFUL_CALLBACK_TIMEOUT", "300ms"),
        JSON,
    ]);
    app.addr("api").await;
    app.signal(SIGTERM);
    let (code, _) = app.exit().await;
    // Left behind at its bound; the exit code is the report's.
    assert_eq!(code, 0, "{}", app.log());
    assert!(
        app.event_where(&[("report_hook", "timed-out")]).is_some(),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn the_tls_example_makes_its_certificate_and_serves_curl_over_http2() {
    let dir = support::test_dir("tls-example");
    let dir_text = dir.to_str().expect("a UTF-8 temporary path");
    let mut app = Fixture::example(
        "tls",
        &[
            ("GRACEFUL_ADDR_API", "127.0.0.1:0"),
            ("TLS_DIR", dir_text),
            JSON,
        ],
    );
    let port = app.addr("api").await.port();
    let cert = dir.join("cert.pem");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "--http2", "--cacert"])
        .arg(&cert)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://localhost:{port}/"))
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello over TLS (HTTP/2.0)\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
}
