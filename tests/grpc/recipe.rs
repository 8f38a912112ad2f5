//! The example and its Kubernetes recipe (`examples/kubernetes/grpc.yaml`,
//! in README.md): the budgets add up, the probes ask the port the app
//! listens on, and the example, run with the manifest's settings, answers
//! the health protocol as Kubernetes' `grpc` probe asks it, across a
//! SIGTERM.

use nix::sys::signal::Signal::SIGTERM;

use crate::Python;
use crate::support::manifest::{manifest_env, manifest_value};
use crate::support::{Fixture, JSON};

#[tokio::test]
async fn the_grpc_recipe_adds_up_and_its_probe_sees_the_instance_leave() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let yaml = std::fs::read_to_string(root.join("examples/kubernetes/grpc.yaml")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains(&yaml), "README.md's gRPC manifest differs");

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
    // The example has one callback, under the default callback_timeout.
    let callbacks = 3;
    let (pre_stop, drain, shutdown) = (
        seconds("GRACEFUL_PRE_STOP_DELAY"),
        seconds("GRACEFUL_DRAIN_TIMEOUT"),
        seconds("GRACEFUL_SHUTDOWN_TIMEOUT"),
    );
    let grace: u64 = manifest_value(&yaml, "terminationGracePeriodSeconds")
        .parse()
        .unwrap();
    assert!(pre_stop + drain + callbacks <= shutdown && shutdown < grace);
    let port = var("GRACEFUL_ADDR_GREETER")
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(manifest_value(&yaml, "port"), port);
    assert_eq!(manifest_value(&yaml, "- containerPort"), port);

    let settings: Vec<(String, String)> = env
        .iter()
        .map(|(n, v)| match n.as_str() {
            "GRACEFUL_ADDR_GREETER" => (n.clone(), "127.0.0.1:0".to_owned()),
            _ => (n.clone(), v.clone()),
        })
        .collect();
    let mut settings: Vec<(&str, &str)> = settings.iter().map(|(n, v)| (&**n, &**v)).collect();
    settings.push(JSON);
    let mut app = Fixture::example("grpc", &settings);
    let addr = app.addr("greeter").await.to_string();
    let mut probe = Python::start(&["health", &addr]);
    probe.next().await;
    let serving = probe.next().await;
    assert_eq!(serving["checks"][""], "SERVING", "{serving}");

    let signalled = std::time::Instant::now();
    app.signal(SIGTERM);
    let leaving = probe.next().await;
    assert_eq!(leaving["checks"][""], "NOT_SERVING", "{leaving}");
    assert_eq!(probe.next().await["watch_end"], "OK");
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
    assert!(signalled.elapsed() >= std::time::Duration::from_secs(pre_stop));
}
