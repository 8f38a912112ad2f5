//! gRPC across real signals, with clients nobody here wrote: Python's
//! `grpcio` (with `grpcio-health-checking`, driven by `client.py`) and
//! tonic's own client. The app is `grpc-fixture`, a `#[graceful::server]`
//! returning a `graceful::Grpc`. The helpers are here, the tests in the
//! modules.

#[path = "../support/mod.rs"]
mod support;

mod health;
mod load;
mod recipe;
mod restart;
mod streams;

use std::process::Stdio;

use support::{Fixture, JSON, PATIENCE};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The fixture's service, as its client sees it.
mod pb {
    tonic::include_proto!("fixture");
}

/// The gRPC fixture, with JSON logs and `env`.
fn grpc_app(env: &[(&str, &str)]) -> Fixture {
    let mut env = env.to_vec();
    env.push(JSON);
    Fixture::spawn_program(env!("CARGO_BIN_EXE_grpc-fixture").as_ref(), &[], &env)
}

/// How many `Unary` calls the app processed, from its shutdown callback.
fn processed(app: &Fixture) -> u64 {
    app.event_with(&["processed"])
        .and_then(|event| event["processed"].as_u64())
        .unwrap_or_else(|| panic!("no processed count; log:\n{}", app.log()))
}

/// `client.py` running one of its commands.
struct Python {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Python {
    fn start(args: &[&str]) -> Python {
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/grpc/client.py"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs (with grpcio and grpcio-health-checking installed)");
        let stdout = child.stdout.take().expect("piped stdout");
        Python {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The next JSON object it prints.
    async fn next(&mut self) -> serde_json::Value {
        let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
            .await
            .expect("client.py says something in time")
            .expect("client.py's stdout")
            .expect("client.py said nothing more (see its stderr)");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    }

    /// Tells it to stop (a line on its stdin), and waits for its exit.
    async fn stop(&mut self) -> serde_json::Value {
        let mut stdin = self.child.stdin.take().expect("piped stdin");
        stdin
            .write_all(b"stop\n")
            .await
            .expect("write to client.py");
        drop(stdin);
        let last = self.next().await;
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("client.py exits")
            .expect("client.py's status");
        assert!(status.success(), "client.py failed: {status}");
        last
    }
}
