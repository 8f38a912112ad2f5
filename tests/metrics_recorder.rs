//! A recorder the app installs itself (metrics-util's `DebuggingRecorder`,
//! standing for an OTLP or StatsD exporter) receives graceful's metrics,
//! the final figures published before the `on_report` hook runs, where such
//! an exporter is flushed. One test in its binary: the recorder is the
//! process's.

mod support;

use std::convert::Infallible;

use graceful::hyper::Response;
use graceful::hyper::service::service_fn;
use graceful::{App, Request, Server};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::{PATIENCE, get};

/// The value of the metric `name` whose labels include `labels`.
fn find<'a>(
    snapshot: &'a [(metrics_util::CompositeKey, DebugValue)],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a DebugValue> {
    snapshot.iter().find_map(|(key, value)| {
        let key = key.key();
        let has = |(k, v): &(&str, &str)| key.labels().any(|l| l.key() == *k && l.value() == *v);
        (key.name() == name && labels.iter().all(has)).then_some(value)
    })
}

#[tokio::test]
async fn a_recorder_the_app_installs_has_the_final_figures_when_the_report_hook_runs() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");
    let (tx, rx) = std::sync::mpsc::channel();
    let service = service_fn(|_req: Request| async {
        Ok::<_, Infallible>(Response::new(String::from("hi")))
    });
    let app = App::new()
        .server(Server::new("api", "127.0.0.1:0", service))
        .on_report(move |_report: &graceful::Report| {
            let snapshot: Vec<_> = snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(key, _, _, value)| (key, value))
                .collect();
            let _ = tx.send(snapshot);
        });
    let running = app.start().await.expect("started");
    let addr = running.local_addr("api").expect("api");
    for _ in 0..3 {
        assert_eq!(get(addr, "/").await.status, 200);
    }
    running.handle().shutdown();
    let report = running.wait().await;
    assert_eq!(report.exit_code().code(), 0);
    let snapshot = rx.recv_timeout(PATIENCE).expect("the hook ran");

    let served = find(
        &snapshot,
        "graceful.requests",
        &[("server", "api"), ("outcome", "served")],
    );
    assert_eq!(served, Some(&DebugValue::Counter(3)), "{snapshot:?}");
    let done = find(&snapshot, "graceful.phase", &[("phase", "done")]);
    assert!(
        matches!(done, Some(DebugValue::Gauge(v)) if v.0 == 1.0),
        "{done:?}"
    );
    let ok = [("server", "api"), ("http.response.status_code", "200")];
    match find(&snapshot, "http.server.request.duration", &ok) {
        Some(DebugValue::Histogram(values)) => assert_eq!(values.len(), 3, "{values:?}"),
        other => panic!("no duration histogram: {other:?}\n{snapshot:?}"),
    }
}
