//! Helpers for the integration tests: the fixture as a child process that
//! receives real signals, and a real HTTP/1 client over TCP.
#![allow(dead_code)] // each test file uses its own subset

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::Notify;

/// Generous bound for anything the tests wait on: a loaded CI machine is slow,
/// and a wait that times out fails the test with the child's log.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The fixture, running as a child process.
pub struct Fixture {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    new_line: Arc<Notify>,
    eof: Arc<AtomicBool>,
}

impl Fixture {
    /// Starts the fixture with `args` and extra environment variables.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Fixture {
        Fixture::program(env!("CARGO_BIN_EXE_lifecycle-fixture").as_ref(), args, env)
    }

    /// Starts the fixture with SIGTERM blocked and already pending when it
    /// execs, as if the signal had arrived in the process's first instant.
    pub fn spawn_with_sigterm_pending(args: &[&str], env: &[(&str, &str)]) -> Fixture {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle-fixture"));
        // SAFETY: the closure runs in the forked child before exec and calls
        // only async-signal-safe functions (sigprocmask, raise).
        unsafe {
            command.pre_exec(|| {
                use nix::sys::signal::{SigSet, SigmaskHow, raise, sigprocmask};
                let mut term = SigSet::empty();
                term.add(Signal::SIGTERM);
                sigprocmask(SigmaskHow::SIG_BLOCK, Some(&term), None)?;
                raise(Signal::SIGTERM)?;
                Ok(())
            });
        }
        Fixture::command(command, args, env)
    }

    /// Starts the `#[graceful::main]` fixture with extra environment variables.
    pub fn attribute_fixture(env: &[(&str, &str)]) -> Fixture {
        Fixture::program(env!("CARGO_BIN_EXE_attribute-fixture").as_ref(), &[], env)
    }

    /// Starts the program at `path` in the directory `dir`.
    pub fn spawn_in(
        path: &std::path::Path,
        dir: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Fixture {
        let mut command = Command::new(path);
        command.current_dir(dir);
        Fixture::command(command, &[], env)
    }

    /// Starts the program at `path`.
    pub fn spawn_program(path: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Fixture {
        Fixture::program(path, args, env)
    }

    /// The fixture's binary.
    pub fn binary() -> &'static std::path::Path {
        env!("CARGO_BIN_EXE_lifecycle-fixture").as_ref()
    }

    /// Starts one of the examples, which `cargo test` builds beside the tests.
    pub fn example(name: &str, env: &[(&str, &str)]) -> Fixture {
        Fixture::program(&example_path(name), &[], env)
    }

    /// Starts the fixture through Debian's `systemd-socket-activate`, which
    /// listens on each of `listen` (`-l`, with `extra` options such as
    /// `--fdname=api` or `-d`) and execs the fixture, with those listeners
    /// and `env`, when the first connection comes. Wait for
    /// [`Fixture::activation_listening`] before connecting.
    pub fn socket_activated(
        listen: &[&str],
        extra: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Fixture {
        Fixture::socket_activated_program(
            env!("CARGO_BIN_EXE_lifecycle-fixture").as_ref(),
            listen,
            extra,
            args,
            env,
        )
    }

    /// [`Fixture::socket_activated`], running `program`.
    pub fn socket_activated_program(
        program: &std::path::Path,
        listen: &[&str],
        extra: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Fixture {
        let mut command = Command::new("systemd-socket-activate");
        for addr in listen {
            command.arg("-l").arg(addr);
        }
        command.args(extra);
        // It passes only the variables named with -E to the child.
        for (k, v) in env {
            command.arg("-E").arg(format!("{k}={v}"));
        }
        command.arg(program);
        Fixture::command(command, args, &[])
    }

    /// Starts the fixture with `listener` passed as descriptor 3 and named
    /// `name`, as a systemd socket unit passes it: the test keeps its own
    /// copy, as the service manager does.
    pub fn inheriting(
        listener: &std::net::TcpListener,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Fixture {
        use std::os::fd::{AsRawFd, BorrowedFd};
        // `LISTEN_PID` must be the fixture's own: the shell's, which exec keeps.
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg("export LISTEN_PID=$$; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_lifecycle-fixture"))
            .env("LISTEN_FDS", "1")
            .env("LISTEN_FDNAMES", name);
        let fd = listener.as_raw_fd();
        // SAFETY: the closure runs in the forked child before exec and calls
        // only async-signal-safe functions (dup2, fcntl); the descriptor it
        // borrows is the listener's, open until the parent drops it, which
        // the fixture outlives.
        unsafe {
            command.pre_exec(move || {
                let listener = BorrowedFd::borrow_raw(fd);
                if fd == 3 {
                    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
                    fcntl(listener, FcntlArg::F_SETFD(FdFlag::empty()))?;
                } else {
                    // The copy at 3 is the fixture's: exec keeps it open.
                    std::mem::forget(nix::unistd::dup2_raw(listener, 3)?);
                }
                Ok(())
            });
        }
        Fixture::command(command, args, env)
    }

    /// Starts the fixture from `/bin/sh`, after `script` (which may name the
    /// fixture's own pid as `$$`, as systemd's `WATCHDOG_PID` does).
    pub fn spawn_after(script: &str, args: &[&str], env: &[(&str, &str)]) -> Fixture {
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(format!("{script} exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_lifecycle-fixture"));
        Fixture::command(command, args, env)
    }

    /// Waits until `systemd-socket-activate` listens on all `n` addresses.
    pub async fn activation_listening(&self, n: usize) {
        self.wait_for_lines("Listening on ", n).await;
    }

    fn program(path: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Fixture {
        Fixture::command(Command::new(path), args, env)
    }

    fn command(mut command: Command, args: &[&str], env: &[(&str, &str)]) -> Fixture {
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = spawn(&mut command);
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let new_line = Arc::new(Notify::new());
        let eof = Arc::new(AtomicBool::new(false));
        let (l, n, e) = (Arc::clone(&lines), Arc::clone(&new_line), Arc::clone(&eof));
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                l.lock().unwrap().push(line);
                n.notify_waiters();
            }
            e.store(true, Ordering::SeqCst);
            n.notify_waiters();
        });
        Fixture {
            child,
            lines,
            new_line,
            eof,
        }
    }

    /// Everything the child has written to standard error so far.
    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The events logged so far as JSON objects (`GRACEFUL_LOG_FORMAT=json`),
    /// in order; other lines are skipped.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The last event that has every one of `fields` (names of fields, not
    /// words of a message): the report's lines are told apart by theirs.
    pub fn event_with(&self, fields: &[&str]) -> Option<serde_json::Value> {
        self.events()
            .into_iter()
            .rev()
            .find(|event| fields.iter().all(|field| event.get(field).is_some()))
    }

    /// The report's line for server `name` (with `GRACEFUL_LOG_FORMAT=json`).
    pub fn server_report(&self, name: &str) -> serde_json::Value {
        self.events()
            .into_iter()
            .rev()
            .find(|event| event.get("served").is_some() && event["name"] == name)
            .unwrap_or_else(|| panic!("no report for server {name}; log:\n{}", self.log()))
    }

    /// Asserts that the report's line for server `name` has each of `counts`.
    pub fn assert_report(&self, name: &str, counts: &[(&str, u64)]) {
        let report = self.server_report(name);
        for &(field, count) in counts {
            assert_eq!(
                report[field],
                count,
                "{field} of server {name}: {report}; log:\n{}",
                self.log()
            );
        }
    }

    /// The report's line for callback `name`: the event with its `outcome`.
    pub fn callback_report(&self, name: &str) -> serde_json::Value {
        self.events()
            .into_iter()
            .rev()
            .find(|event| event.get("outcome").is_some() && event["name"] == name)
            .unwrap_or_else(|| panic!("no report for callback {name}; log:\n{}", self.log()))
    }

    /// The report's line for background task `name`: the event with its
    /// `outcome` and `stop`.
    pub fn task_report(&self, name: &str) -> serde_json::Value {
        self.events()
            .into_iter()
            .rev()
            .find(|event| {
                event.get("outcome").is_some()
                    && event.get("stop").is_some()
                    && event["name"] == name
            })
            .unwrap_or_else(|| panic!("no report for task {name}; log:\n{}", self.log()))
    }

    /// The events so far that have each of `fields` with its value (see
    /// [`has`]), in order.
    pub fn events_where(&self, fields: &[(&str, &str)]) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|event| has(event, fields))
            .collect()
    }

    /// The last event that has each of `fields` with its value.
    pub fn event_where(&self, fields: &[(&str, &str)]) -> Option<serde_json::Value> {
        self.events_where(fields).pop()
    }

    /// Whether a line says `text`: in the message of an event logged as
    /// JSON, or anywhere in a plain line. For what has no field of its own,
    /// only words (a start-up error is its message).
    pub fn said(&self, text: &str) -> bool {
        self.lines.lock().unwrap().iter().any(|line| {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(event) => event["message"]
                    .as_str()
                    .is_some_and(|message| message.contains(text)),
                Err(_) => line.contains(text),
            }
        })
    }

    /// Whether a server said it listens: an event with a listener's `name`
    /// and `addr`, which only a listener's events carry (and it listens
    /// before it is closed or handed over).
    pub fn listened(&self) -> bool {
        self.event_with(&["name", "addr"]).is_some()
    }

    /// Waits until `n` events match `matches`; returns the last of them.
    /// `what` names them in the panic.
    pub async fn wait_for_nth_event(
        &self,
        n: usize,
        what: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let notified = self.new_line.notified();
            let mut matching: Vec<serde_json::Value> =
                self.events().into_iter().filter(|e| matches(e)).collect();
            if matching.len() >= n {
                return matching.swap_remove(n - 1);
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                panic!("no {n} events {what} in time; log:\n{}", self.log());
            }
        }
    }

    /// Waits until `n` events have each of `fields` with its value (see
    /// [`has`]); returns the last of them.
    pub async fn wait_for_events(&self, fields: &[(&str, &str)], n: usize) -> serde_json::Value {
        self.wait_for_nth_event(n, &format!("with {fields:?}"), |event| has(event, fields))
            .await
    }

    /// Waits for an event that has each of `fields` with its value.
    pub async fn wait_for_event(&self, fields: &[(&str, &str)]) -> serde_json::Value {
        self.wait_for_events(fields, 1).await
    }

    /// Waits until `n` events have each of `fields` (names, whatever their
    /// values); returns the last of them.
    pub async fn wait_for_events_with(&self, fields: &[&str], n: usize) -> serde_json::Value {
        self.wait_for_nth_event(n, &format!("with fields {fields:?}"), |event| {
            fields.iter().all(|field| event.get(field).is_some())
        })
        .await
    }

    /// Waits for an event that has each of `fields` (names, whatever their
    /// values).
    pub async fn wait_for_event_with(&self, fields: &[&str]) -> serde_json::Value {
        self.wait_for_events_with(fields, 1).await
    }

    /// Waits for the fixture's event saying that a request or the start-up
    /// hook has started (`started` = `slow`, `hang`, `block`,
    /// `spawn-blocking`, `start-up`), `n` of them.
    pub async fn wait_for_started(&self, what: &str, n: usize) {
        self.wait_for_events(&[("started", what)], n).await;
    }

    /// Waits until `n` lines contain `needle`; returns the last of them.
    pub async fn wait_for_lines(&self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let notified = self.new_line.notified();
            {
                let lines = self.lines.lock().unwrap();
                let matching: Vec<&String> = lines.iter().filter(|l| l.contains(needle)).collect();
                if matching.len() >= n {
                    return matching[n - 1].clone();
                }
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                panic!("no {n} lines with {needle:?} in time; log:\n{}", self.log());
            }
        }
    }

    /// Waits for a line containing `needle`.
    pub async fn wait_for_line(&self, needle: &str) -> String {
        self.wait_for_lines(needle, 1).await
    }

    /// Waits for the line saying that server `name` listens, in the text
    /// format (`listening name=NAME addr=...`) or as a JSON event, and
    /// parses the address.
    pub async fn addr(&self, name: &str) -> SocketAddr {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let notified = self.new_line.notified();
            if let Some(addr) = self.listening(name) {
                return addr.parse().expect("a socket address");
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                panic!("server {name} never listened; log:\n{}", self.log());
            }
        }
    }

    /// The address in the first line saying that server `name` listens.
    fn listening(&self, name: &str) -> Option<String> {
        let text = format!("listening name={name} addr=");
        self.lines.lock().unwrap().iter().find_map(|line| {
            if let Some(rest) = line.split(&text).nth(1) {
                return rest.split_whitespace().next().map(str::to_owned);
            }
            let event: serde_json::Value = serde_json::from_str(line).ok()?;
            (event["message"] == "listening" && event["name"] == name)
                .then(|| event["addr"].as_str().map(str::to_owned))
                .flatten()
        })
    }

    /// Sends a real signal to the child.
    pub fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("the child is running");
        kill(Pid::from_raw(pid as i32), signal).expect("send the signal");
    }

    /// Waits until no `signal` is pending for the child: the kernel has
    /// delivered it (to a handler, or to the default action). Two signals of
    /// one kind sent while the first is still pending are merged by the
    /// kernel into one delivery; this tells them apart.
    pub async fn wait_until_delivered(&self, signal: Signal) {
        let pid = self.child.id().expect("the child is running");
        let bit = 1u64 << (signal as i32 - 1);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let pending = status
                .lines()
                .filter(|l| l.starts_with("ShdPnd:") || l.starts_with("SigPnd:"))
                .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
                .fold(0, |all, set| all | set);
            if pending & bit == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "{signal} stayed pending");
            tokio::task::yield_now().await;
        }
    }

    /// How many sockets the child holds open (listeners and connections).
    pub fn sockets(&self) -> usize {
        let pid = self.child.id().expect("the child is running");
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|fds| {
                fds.filter_map(Result::ok)
                    .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                    .filter(|target| target.to_string_lossy().starts_with("socket:"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Waits until the child holds `n` sockets: it has accepted a connection.
    pub async fn wait_for_sockets(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.sockets() < n {
            assert!(Instant::now() < deadline, "the child holds no {n} sockets");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits for the exit, and checks that it was clean (code 0) and that
    /// the log says each of `logged`; returns the log.
    pub async fn exit_clean(&mut self, logged: &[&str]) -> String {
        let (code, _) = self.exit().await;
        let log = self.log();
        assert_eq!(code, 0, "{log}");
        for expected in logged {
            assert!(log.contains(expected), "no {expected:?} in the log:\n{log}");
        }
        log
    }

    /// Waits for the child to exit, without waiting for its standard error
    /// to close (a restart's successor holds it open); returns its exit code.
    pub async fn exit_code(&mut self) -> i32 {
        match tokio::time::timeout(PATIENCE, self.child.wait()).await {
            Ok(status) => status.expect("wait for the child").code().unwrap_or(-1),
            Err(_) => panic!("the child did not exit in time; log:\n{}", self.log()),
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.child.id().expect("a running child") as i32
    }

    /// Waits for the child to exit; returns its exit code and how long the wait took.
    pub async fn exit(&mut self) -> (i32, Duration) {
        let started = Instant::now();
        let status = match tokio::time::timeout(PATIENCE, self.child.wait()).await {
            Ok(status) => status.expect("wait for the child"),
            Err(_) => panic!("the child did not exit in time; log:\n{}", self.log()),
        };
        // The child's standard error closes when it exits: read it to the end.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let notified = self.new_line.notified();
            if self.eof.load(Ordering::SeqCst) {
                break;
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                panic!("standard error stayed open after the exit");
            }
        }
        (status.code().unwrap_or(-1), started.elapsed())
    }
}

pub mod certificates;
mod kernel;
pub mod manifest;
mod processes;
pub mod race;
mod service_manager;

pub use graceful_load::client::{Answer, Outcome, connect, send};
/// Spawns `command`, again if its program is "busy": a program file the
/// test just wrote can be held open for writing, for an instant, by a
/// process another test thread forks before its `exec` closes it.
fn spawn(command: &mut Command) -> tokio::process::Child {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match command.spawn() {
            Err(err) if err.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                assert!(Instant::now() < deadline, "the program stayed busy: {err}");
                std::thread::sleep(Duration::from_millis(5));
            }
            spawned => return spawned.expect("spawn the fixture"),
        }
    }
}

/// The environment variable that makes the child log JSON objects, one a
/// line, for [`Fixture::events`].
pub const JSON: (&str, &str) = ("GRACEFUL_LOG_FORMAT", "json");

/// Whether `event` has each of `fields` with its value: a string equal to
/// it, or a number or boolean that reads as it (`("cut_off", "1")`).
pub fn has(event: &serde_json::Value, fields: &[(&str, &str)]) -> bool {
    fields.iter().all(|&(field, value)| match event.get(field) {
        Some(serde_json::Value::String(text)) => text == value,
        Some(other @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            serde_json::from_str::<serde_json::Value>(value).is_ok_and(|read| read == *other)
        }
        _ => false,
    })
}

/// A duration as `tracing` logs one (`Debug`: `1.5s`, `12.3ms`, `40µs`,
/// `7ns`).
pub fn duration(value: &serde_json::Value) -> Duration {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a duration: {value}"));
    let (number, unit) = ["ns", "µs", "ms", "s"]
        .iter()
        .find_map(|unit| Some((text.strip_suffix(unit)?, *unit)))
        .unwrap_or_else(|| panic!("not a duration: {text}"));
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("not a duration: {text}"));
    let scale = match unit {
        "ns" => 1e-9,
        "µs" => 1e-6,
        "ms" => 1e-3,
        _ => 1.0,
    };
    Duration::from_secs_f64(number * scale)
}

// Each test file uses its own subset.
#[allow(unused_imports)]
pub use kernel::{unread_at_server, until_unread_at_server};
#[allow(unused_imports)]
pub use processes::{
    child_of, children, environ, fixture_script, gone, install_script, runs, successor,
};
#[allow(unused_imports)]
pub use service_manager::ServiceManager;

/// The path of one of the examples, which `cargo test` builds beside the tests.
pub fn example_path(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test`, which builds the examples",
        path.display()
    );
    path
}

/// Reads a response to its end, on a connection the server closes after it.
pub async fn read_to_close(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    use tokio::io::AsyncReadExt;
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut response))
        .await
        .expect("the response in time")
        .expect("a clean close");
    response
}

/// A port that was free a moment ago, for a listener that cannot be
/// given port 0 (the service manager's).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A fresh directory for one test's files.
pub fn test_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("graceful-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// `GET path` on a new connection.
pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    let answer = async {
        let mut sender = connect(addr).await.expect("connect");
        send(&mut sender, "GET", path, b"").await
    };
    match tokio::time::timeout(PATIENCE, answer).await {
        Ok(Outcome::Answered(answer)) => answer,
        Ok(other) => panic!("GET {path}: {other:?}"),
        Err(_) => panic!("GET {path}: no answer in {PATIENCE:?}"),
    }
}
