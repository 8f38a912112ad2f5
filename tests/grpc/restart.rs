//! A restart by handoff under a gRPC stream, with tonic's client: the
//! stream on the parent ends cleanly when the parent begins its shutdown,
//! and the same channel's next stream is served by the successor.

use nix::sys::signal::Signal::{SIGTERM, SIGUSR2};
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::grpc_app;
use crate::pb::Job;
use crate::pb::work_client::WorkClient;
use crate::support::{PATIENCE, ServiceManager, gone, successor, test_dir};

#[tokio::test]
async fn a_stream_ends_cleanly_across_a_restart_and_the_successor_serves_the_next() {
    // A service manager that follows `MAINPID=`, as systemd does.
    let dir = test_dir("grpc-restart");
    let mut manager = ServiceManager::new(&dir);
    let (var, path) = manager.var();
    let listening =
        tokio::spawn(async move { while manager.next_within(PATIENCE).await.is_some() {} });
    let mut app = grpc_app(&[(var, &path)]);
    let addr = app.addr("grpc").await;
    let mut client = WorkClient::connect(format!("http://{addr}"))
        .await
        .expect("tonic connects");
    let job = Job {
        ms: 20,
        ignore_shutdown: false,
    };
    let mut ticks = client.ticks(job).await.expect("a stream").into_inner();
    let first = ticks.message().await.expect("a tick").expect("a tick");
    let parent = u32::try_from(app.pid()).unwrap();
    assert_eq!(first.pid, parent);

    app.signal(SIGUSR2);
    let successor = successor(&app, 1).await;
    // The parent's stream says its last tick, then ends with OK.
    let last = loop {
        let tick = tokio::time::timeout(PATIENCE, ticks.message())
            .await
            .expect("the stream goes on")
            .expect("no error")
            .expect("a last tick");
        if tick.last {
            break tick;
        }
    };
    assert_eq!(last.pid, parent);
    assert!(matches!(ticks.message().await, Ok(None)));
    assert_eq!(app.exit_code().await, 0, "{}", app.log());

    // The same channel reconnects, to the successor.
    let mut ticks = client.ticks(job).await.expect("a stream").into_inner();
    let next = ticks.message().await.expect("a tick").expect("a tick");
    assert_eq!(next.pid, u32::try_from(successor).unwrap());
    drop(ticks);
    kill(Pid::from_raw(successor), SIGTERM).unwrap();
    gone(successor).await;
    listening.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
