//! Restarts where real deploys run them: the program a restart runs is the
//! one installed at the path the process was started as (a binary renamed
//! over it, a release switched by a symlink, a wrapper script that names
//! itself), with the environment as it was; where no service manager can
//! adopt the successor (PID 1 in a container, a parent that is the
//! namespace's init), the restart is refused and the service keeps serving.
//! Real processes, real signals.

mod support;

use std::path::Path;

use nix::sys::signal::Signal::{SIGTERM, SIGUSR2};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use support::{
    Fixture, JSON, ServiceManager, child_of, environ, fixture_script, get, gone, install_script,
    runs, successor, test_dir,
};

/// Version 2 of the fixture: a script that says so, then runs it.
fn version_2(path: &Path) {
    install_script(path, &fixture_script("export FIXTURE_VERSION=2\n", ""));
}

/// Restarts `app` and checks that version 2 serves at `addr` afterwards;
/// stops it.
async fn upgrades_to_version_2(app: &mut Fixture, addr: std::net::SocketAddr) {
    app.signal(SIGUSR2);
    let upgraded = successor(app, 1).await;
    // The successor's own words, before it could log anything.
    assert!(app.log().contains("fixture version 2"), "{}", app.log());
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    assert_eq!(get(addr, "/").await.status, 200);
    kill(Pid::from_raw(upgraded), SIGTERM).unwrap();
    gone(upgraded).await;
}

#[tokio::test]
async fn a_binary_renamed_over_the_program_during_its_start_is_the_upgrade() {
    let dir = test_dir("restart-renamed-in-start");
    let installed = dir.join("app");
    std::fs::copy(Fixture::binary(), &installed).unwrap();
    let mut app = Fixture::spawn_program(&installed, &["--startup-ms", "300"], &[JSON]);
    app.wait_for_started("start-up", 1).await;
    version_2(&installed);
    let addr = app.addr("api").await;
    upgrades_to_version_2(&mut app, addr).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_release_switched_by_symlink_is_the_one_restarted() {
    let dir = test_dir("restart-release-symlink");
    for release in ["v1", "v2"] {
        std::fs::create_dir_all(dir.join("releases").join(release)).unwrap();
    }
    std::fs::copy(Fixture::binary(), dir.join("releases/v1/app")).unwrap();
    version_2(&dir.join("releases/v2/app"));
    let current = dir.join("current");
    std::os::unix::fs::symlink("releases/v1", &current).unwrap();
    let mut app = Fixture::spawn_program(&current.join("app"), &[], &[JSON]);
    let addr = app.addr("api").await;
    // The deploy: `current` now points at v2 (a new link renamed over it).
    std::os::unix::fs::symlink("releases/v2", dir.join("current.new")).unwrap();
    std::fs::rename(dir.join("current.new"), &current).unwrap();
    upgrades_to_version_2(&mut app, addr).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_wrapper_script_that_names_itself_is_run_again() {
    let dir = test_dir("restart-wrapper");
    let wrapper = dir.join("run-app");
    let wrap = |version: &str| {
        install_script(
            &wrapper,
            &fixture_script(
                &format!("export GRACEFUL_RESTART_PROGRAM=\"$0\" FIXTURE_VERSION={version}\n"),
                "",
            ),
        )
    };
    wrap("1");
    let mut app = Fixture::spawn_program(&wrapper, &[], &[JSON]);
    let addr = app.addr("api").await;
    wrap("2");
    upgrades_to_version_2(&mut app, addr).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `app`'s restart where it must be refused: the process keeps
/// serving, starts no successor, and stops cleanly.
async fn refuses_the_restart(mut app: Fixture, fixture: i32, reason: &str) {
    let addr = app.addr("api").await;
    kill(Pid::from_raw(fixture), SIGUSR2).unwrap();
    let refusal = app.wait_for_event_with(&["restart", "reason"]).await;
    assert_eq!(refusal["restart"], "refused", "{refusal}");
    assert!(
        refusal["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(reason),
        "{refusal}"
    );
    assert_eq!(get(addr, "/").await.status, 200);
    assert!(runs(fixture), "{}", app.log());
    assert!(
        support::children(fixture).is_empty(),
        "a successor was started"
    );
    kill(Pid::from_raw(fixture), SIGTERM).unwrap();
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
}

/// In a container with no init, the app is PID 1: when it exits after a
/// handover, the kernel ends every process of the namespace, its successor
/// included.
#[tokio::test]
async fn as_pid_1_a_restart_is_refused_and_the_service_keeps_serving() {
    let unshare = ["--pid", "--fork", "--mount-proc", "--kill-child"];
    let mut args: Vec<&str> = unshare.to_vec();
    let fixture = Fixture::binary().to_string_lossy().into_owned();
    args.push(&fixture);
    let app = Fixture::spawn_program("unshare".as_ref(), &args, &[JSON]);
    let pid_1 = child_of(app.pid()).await;
    refuses_the_restart(app, pid_1, "PID 1").await;
}

/// Under an init that tracks this process's pid (tini, `docker --init`, a
/// service manager without the notify protocol), the successor would be
/// killed or orphaned when this process exits.
#[tokio::test]
async fn under_an_init_that_cannot_adopt_the_successor_a_restart_is_refused() {
    let fixture = Fixture::binary().to_string_lossy().into_owned();
    let init = format!("{fixture} & wait");
    let args = [
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "/bin/sh",
        "-c",
        &init,
    ];
    let app = Fixture::spawn_program("unshare".as_ref(), &args, &[JSON]);
    let init = child_of(app.pid()).await;
    let fixture = child_of(init).await;
    refuses_the_restart(app, fixture, "adopt").await;
}

#[tokio::test]
async fn the_successor_keeps_variables_whose_names_are_not_shell_identifiers() {
    let odd = [("a.b.c", "1"), ("A-B", "2"), ("1X", "3")];
    let mut app = Fixture::spawn(&[], &[odd[0], odd[1], odd[2], JSON]);
    let addr = app.addr("api").await;
    app.signal(SIGUSR2);
    let next = successor(&app, 1).await;
    let env = environ(next);
    for (name, value) in odd {
        assert!(
            env.contains(&format!("{name}={value}")),
            "{name} is missing from the successor's environment: {env:?}"
        );
    }
    assert_eq!(app.exit_code().await, 0, "{}", app.log());
    assert_eq!(get(addr, "/").await.status, 200);
    kill(Pid::from_raw(next), SIGTERM).unwrap();
    gone(next).await;
}

/// `GRACEFUL_HANDOFF_SOCKET` names a restart's report socket only for the
/// process started for it: set by hand (or inherited by a child of a
/// successor), it changes nothing, and the service manager hears `READY=1`.
#[tokio::test]
async fn the_handoff_variable_means_nothing_to_a_process_not_started_for_it() {
    let dir = test_dir("handoff-by-hand");
    let mut manager = ServiceManager::new(&dir);
    let (var, path) = manager.var();
    let report = dir.join("report.sock");
    let reported = tokio::net::UnixDatagram::bind(&report).unwrap();
    let report = report.display().to_string();
    let mut app = Fixture::spawn(&[], &[(var, &path), ("GRACEFUL_HANDOFF_SOCKET", &report)]);
    manager.until("READY=1").await;
    let mut buf = [0u8; 512];
    assert!(
        reported.try_recv(&mut buf).is_err(),
        "the app reported to a socket it was not started for"
    );
    app.signal(SIGTERM);
    assert_eq!(app.exit().await.0, 0, "{}", app.log());
    let _ = std::fs::remove_dir_all(&dir);
}
