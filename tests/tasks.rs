//! Background tasks, in a real process sent real signals: started before the
//! listeners serve, told to stop at their moment in phase order, bounded by
//! their budget, and on the books; a task that fails takes the service down
//! with exit code 5; callbacks at the signal; `ShutdownHandle::fail`.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, get, has};

/// Where the first event with `fields` stands among the events.
fn position(app: &Fixture, fields: &[(&str, &str)]) -> usize {
    app.events()
        .iter()
        .position(|event| has(event, fields))
        .unwrap_or_else(|| panic!("no event with {fields:?}; log:\n{}", app.log()))
}

/// The first trigger, as the shutdown's first event names it.
fn trigger(app: &Fixture) -> String {
    let event = app
        .event_with(&["trigger"])
        .unwrap_or_else(|| panic!("no trigger; log:\n{}", app.log()));
    event["trigger"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_task_fed_by_handlers_stops_after_the_drain_and_before_the_callbacks() {
    let mut app = Fixture::spawn(
        &[
            "--task",
            "relay:drained:0:obey-slow=200",
            "--callback",
            "flush:0:ok",
        ],
        &[JSON],
    );
    app.wait_for_event(&[("task", "relay"), ("message", "task running")])
        .await;
    let addr = app.addr("api").await;
    let slow = tokio::spawn(async move { get(addr, "/slow?ms=400").await });
    app.wait_for_started("slow", 1).await;
    app.signal(SIGTERM);
    assert_eq!(slow.await.expect("the slow request").text(), "slow done");
    app.exit_clean(&[]).await;
    let drained = position(&app, &[("phase", "drain")]);
    let told = position(&app, &[("task", "relay"), ("message", "task told to stop")]);
    let flushed = position(
        &app,
        &[("callback", "flush"), ("message", "callback started")],
    );
    assert!(drained < told && told < flushed, "{}", app.log());
    let relay = app.task_report("relay");
    assert!(
        has(&relay, &[("outcome", "stopped"), ("stop", "drained")]),
        "{relay}"
    );
    let took = support::duration(&relay["stop_took"]);
    assert!(took >= Duration::from_millis(200), "{relay}");
    assert!(
        app.event_where(&[("phase", "tasks")]).is_some(),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn a_task_that_pulls_from_outside_is_told_at_the_signal_within_the_pre_stop_window() {
    let mut app = Fixture::spawn(
        &["--task", "consume:signal:0:obey"],
        &[("GRACEFUL_PRE_STOP_DELAY", "500ms"), JSON],
    );
    app.wait_for_event(&[("task", "consume"), ("message", "task running")])
        .await;
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    let told = position(
        &app,
        &[("task", "consume"), ("message", "task told to stop")],
    );
    let not_ready = position(&app, &[("phase", "not-ready")]);
    assert!(told < not_ready, "{}", app.log());
    let consume = app.task_report("consume");
    assert!(
        has(&consume, &[("outcome", "stopped"), ("stop", "signal")]),
        "{consume}"
    );
}

#[tokio::test]
async fn a_producer_stops_before_its_consumer_is_told() {
    let mut app = Fixture::spawn(
        &[
            "--task",
            "consume:drained:1:obey",
            "--task",
            "produce:drained:0:obey-slow=300",
        ],
        &[JSON],
    );
    app.addr("api").await;
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    let produce = app.task_report("produce");
    let consume = app.task_report("consume");
    let produce_done =
        support::duration(&produce["told_at"]) + support::duration(&produce["stop_took"]);
    assert!(
        support::duration(&consume["told_at"]) >= produce_done,
        "{produce} {consume}"
    );
    let stopped = position(&app, &[("task", "produce"), ("message", "task stopped")]);
    let told = position(
        &app,
        &[("task", "consume"), ("message", "task told to stop")],
    );
    assert!(stopped < told, "{}", app.log());
}

#[tokio::test]
async fn a_task_that_fails_takes_the_service_down_with_exit_code_5() {
    let mut app = Fixture::spawn(
        &["--task", "consume:drained:0:fail-after=300"],
        &[
            ("GRACEFUL_HEALTH_PATH", "/healthz"),
            ("GRACEFUL_PRE_STOP_DELAY", "2s"),
            JSON,
        ],
    );
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/healthz").await.status, 200);
    app.wait_for_event_with(&["trigger"]).await;
    // Not ready at once, though the listener still serves.
    assert_eq!(get(addr, "/healthz").await.status, 503);
    assert_eq!(get(addr, "/").await.status, 200);
    // A signal now is the shutdown's first ask: it forces nothing.
    app.signal(SIGTERM);
    let (code, _) = app.exit().await;
    assert_eq!(code, 5, "{}", app.log());
    assert_eq!(trigger(&app), "task consume failed: the task failed");
    let consume = app.task_report("consume");
    assert!(
        has(
            &consume,
            &[("outcome", "failed"), ("message", "the task failed")]
        ),
        "{consume}"
    );
    assert!(
        consume.get("told_at").is_none_or(|t| t.is_null()),
        "{consume}"
    );
}

#[tokio::test]
async fn a_task_that_panics_takes_the_service_down_with_exit_code_5() {
    let mut app = Fixture::spawn(&["--task", "consume:signal:0:panic-after=200"], &[JSON]);
    app.addr("api").await;
    let (code, _) = app.exit().await;
    assert_eq!(code, 5, "{}", app.log());
    assert_eq!(trigger(&app), "task consume failed: the task panicked");
    let consume = app.task_report("consume");
    assert!(has(&consume, &[("outcome", "panicked")]), "{consume}");
}

#[tokio::test]
async fn a_task_that_fails_as_it_starts_fails_the_start_with_exit_code_2() {
    let mut app = Fixture::spawn(&["--task", "consume:drained:0:fail-at-start"], &[JSON]);
    let (code, _) = app.exit().await;
    assert_eq!(code, 2, "{}", app.log());
    assert!(!app.listened(), "a listener served: {}", app.log());
    let failed = app
        .event_where(&[("startup", "failed")])
        .unwrap_or_else(|| panic!("no start-up failure: {}", app.log()));
    assert!(has(&failed, &[("exit_code", "2")]), "{failed}");
}

#[tokio::test]
async fn a_task_that_finishes_its_work_is_reported_and_nothing_more() {
    let mut app = Fixture::spawn(&["--task", "warm-up:drained:0:finish"], &[JSON]);
    let addr = app.addr("api").await;
    app.wait_for_event(&[("task", "warm-up"), ("outcome", "finished")])
        .await;
    assert_eq!(get(addr, "/").await.status, 200);
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    let report = app.task_report("warm-up");
    assert!(has(&report, &[("outcome", "finished")]), "{report}");
}

#[tokio::test]
async fn a_task_that_ignores_its_context_is_aborted_at_its_budget() {
    let mut app = Fixture::spawn(
        &["--task", "stubborn:drained:0:ignore"],
        &[("GRACEFUL_TASK_TIMEOUT_STUBBORN", "300ms"), JSON],
    );
    app.wait_for_event(&[("task", "stubborn"), ("message", "task running")])
        .await;
    app.signal(SIGTERM);
    let (code, _) = app.exit().await;
    assert_eq!(code, 5, "{}", app.log());
    let report = app.task_report("stubborn");
    assert!(has(&report, &[("outcome", "timed-out")]), "{report}");
}

#[tokio::test]
async fn a_task_blocking_its_thread_is_abandoned_and_does_not_hold_the_exit() {
    let mut app = Fixture::spawn(
        &["--task", "blocked:drained:0:block"],
        &[("GRACEFUL_TASK_TIMEOUT", "200ms"), JSON],
    );
    app.wait_for_event(&[("task", "blocked"), ("message", "task running")])
        .await;
    app.signal(SIGTERM);
    let (code, took) = app.exit().await;
    assert_eq!(code, 5, "{}", app.log());
    assert!(took < Duration::from_secs(20), "the exit waited: {took:?}");
    let report = app.task_report("blocked");
    assert!(has(&report, &[("outcome", "abandoned")]), "{report}");
    assert!(
        app.event_where(&[("task", "blocked"), ("message", "abandoned at exit")])
            .is_some(),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn a_forced_exit_names_the_tasks_still_running() {
    let mut app = Fixture::spawn(
        &["--task", "stuck:drained:0:ignore"],
        &[
            ("GRACEFUL_TASK_TIMEOUT_STUCK", "60s"),
            ("GRACEFUL_SHUTDOWN_TIMEOUT", "1s"),
            JSON,
        ],
    );
    app.wait_for_event(&[("task", "stuck"), ("message", "task running")])
        .await;
    app.signal(SIGTERM);
    let (code, _) = app.exit().await;
    assert_eq!(code, 1, "{}", app.log());
    assert!(
        app.event_where(&[
            ("task", "stuck"),
            ("message", "task still running at the forced exit")
        ])
        .is_some(),
        "{}",
        app.log()
    );
    let report = app.task_report("stuck");
    assert!(has(&report, &[("outcome", "not-stopped")]), "{report}");
}

#[tokio::test]
async fn a_fatal_condition_fails_the_app_with_exit_code_5() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/fail").await.text(), "failing");
    let (code, _) = app.exit().await;
    assert_eq!(code, 5, "{}", app.log());
    assert_eq!(
        trigger(&app),
        "ShutdownHandle::fail: the fixture was asked to fail"
    );
}

#[tokio::test]
async fn a_callback_at_the_signal_runs_while_the_listeners_are_still_open() {
    let mut app = Fixture::spawn(
        &[
            "--callback",
            "at-signal-deregister:0:sleep=300",
            "--callback",
            "flush:0:ok",
        ],
        &[JSON],
    );
    app.addr("api").await;
    app.signal(SIGTERM);
    app.exit_clean(&[]).await;
    let deregister = position(
        &app,
        &[
            ("callback", "at-signal-deregister"),
            ("message", "callback started"),
        ],
    );
    let closed = position(&app, &[("listener", "closed")]);
    let flush = position(
        &app,
        &[("callback", "flush"), ("message", "callback started")],
    );
    assert!(deregister < closed && closed < flush, "{}", app.log());
    let report = app.callback_report("at-signal-deregister");
    assert!(has(&report, &[("outcome", "ok")]), "{report}");
    let not_ready = app
        .event_where(&[("phase", "not-ready")])
        .unwrap_or_else(|| panic!("{}", app.log()));
    assert!(
        support::duration(&not_ready["duration"]) >= Duration::from_millis(300),
        "the listeners closed before the callback ended: {not_ready}"
    );
}
