//! Unary RPCs from grpcio across a SIGTERM: every call is answered, or
//! gets `UNAVAILABLE` without having been processed (the app counts what
//! it processed); with two instances, client-side health checking and a
//! retry policy, none fails.

use nix::sys::signal::Signal::SIGTERM;

use crate::{Python, grpc_app, processed};

/// The outcomes `client.py load` counted, other than OK.
fn failures(summary: &serde_json::Value) -> Vec<(String, u64)> {
    summary["codes"]
        .as_object()
        .expect("codes")
        .iter()
        .map(|(code, n)| (code.clone(), n.as_u64().expect("a count")))
        .collect()
}

#[tokio::test]
async fn unary_load_across_sigterm_every_call_is_answered_or_unavailable_and_unprocessed() {
    let mut app = grpc_app(&[]);
    let addr = app.addr("grpc").await.to_string();
    let mut client = Python::start(&["load", &addr, "8"]);
    assert_eq!(client.next().await["running"], true);

    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
    let summary = client.stop().await;
    eprintln!("{summary}");
    let ok = summary["ok"].as_u64().expect("ok");
    // Every call the client saw fail failed with UNAVAILABLE: refused by the
    // server, or by a listener already closed. None was lost in between.
    for (code, n) in failures(&summary) {
        assert!(code.starts_with("UNAVAILABLE"), "{n} calls ended {code}");
    }
    // And none of those was processed: the app processed exactly the calls
    // answered OK.
    assert_eq!(processed(&app), ok, "{summary}\n{}", app.log());
    app.assert_report("grpc", &[("cut_off", 0), ("connections_aborted", 0)]);
}

#[tokio::test]
async fn two_instances_with_health_checking_and_retries_lose_no_call_when_one_stops() {
    let mut leaving = grpc_app(&[("GRACEFUL_PRE_STOP_DELAY", "1s")]);
    let mut staying = grpc_app(&[]);
    let target = format!(
        "ipv4:{},{}",
        leaving.addr("grpc").await,
        staying.addr("grpc").await
    );
    let mut client = Python::start(&["load", &target, "8", "--retry", "--health"]);
    assert_eq!(client.next().await["running"], true);

    leaving.signal(SIGTERM);
    assert_eq!(leaving.exit().await.0, 0, "{}", leaving.log());
    let summary = client.stop().await;
    eprintln!("{summary}");
    assert_eq!(failures(&summary), [], "{summary}\n{}", leaving.log());
    staying.signal(SIGTERM);
    assert_eq!(staying.exit().await.0, 0, "{}", staying.log());
    let ok = summary["ok"].as_u64().expect("ok");
    let (left, stayed) = (processed(&leaving), processed(&staying));
    assert!(left > 0 && stayed > 0, "{left} and {stayed} processed");
    assert_eq!(left + stayed, ok, "{summary}");
}
