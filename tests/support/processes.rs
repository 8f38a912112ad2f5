//! Processes the tests watch from outside: whether one runs, its children,
//! its environment, what it holds open.

use std::time::{Duration, Instant};

use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::{Fixture, PATIENCE};

/// Whether `pid` runs: exists, and is not a zombie waiting to be reaped
/// (by whoever adopted it once its parent exited).
pub fn runs(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(") ")
        .next()
        .and_then(|rest| rest.chars().next());
    kill(Pid::from_raw(pid), None).is_ok() && state != Some('Z')
}

/// Waits until `pid` has exited.
pub async fn gone(pid: i32) {
    let deadline = Instant::now() + PATIENCE;
    while runs(pid) {
        assert!(Instant::now() < deadline, "pid {pid} did not exit");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The children of `pid`, as the kernel lists them.
pub fn children(pid: i32) -> Vec<i32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

/// Waits until `pid` has a child; returns it.
pub async fn child_of(pid: i32) -> i32 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(&child) = children(pid).first() {
            return child;
        }
        assert!(Instant::now() < deadline, "pid {pid} started no child");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The environment `pid` was started with.
pub fn environ(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|var| !var.is_empty())
        .map(|var| String::from_utf8_lossy(var).into_owned())
        .collect()
}

/// Installs an executable script at `path` as a package manager installs:
/// a new file, renamed over the old one (which may be running).
pub fn install_script(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let new = path.with_extension("new");
    std::fs::write(&new, text).unwrap();
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&new, path).unwrap();
}

/// A script that runs the fixture with `before` (shell lines) first, and
/// `after` appended to its arguments.
pub fn fixture_script(before: &str, after: &str) -> String {
    format!(
        "#!/bin/sh\n{before}exec {} \"$@\"{after}\n",
        Fixture::binary().display()
    )
}

/// The pid of the successor in the `n`th event saying that a successor
/// serves (`restart = "handed-over"`, its pid as `successor`): start `app`
/// with `GRACEFUL_LOG_FORMAT=json`, which its successors inherit.
pub async fn successor(app: &Fixture, n: usize) -> i32 {
    let event = app.wait_for_events(&[("restart", "handed-over")], n).await;
    event["successor"]
        .as_i64()
        .and_then(|pid| i32::try_from(pid).ok())
        .unwrap_or_else(|| panic!("no successor pid in {event}"))
}
