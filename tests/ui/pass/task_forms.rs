// The process exits 0 only if every task started and stopped as told.

use std::sync::atomic::{AtomicBool, Ordering};

use graceful::{State, TaskContext};

include!("../client.rs");

static STARTED: AtomicBool = AtomicBool::new(false);

#[derive(Clone)]
struct Queue(&'static str);

type Jobs = State<Queue>;

#[graceful::server(addr = "127.0.0.1:0")]
async fn api() -> &'static str {
    "ok"
}

#[graceful::task]
async fn nothing() {
    STARTED.store(true, Ordering::SeqCst);
}

#[graceful::task(stop = "signal", timeout = "2s")]
async fn consume(ctx: TaskContext) {
    check(ctx.name() == "consume", "the name");
    ctx.stopping().await;
}

#[graceful::task(name = "relay", stop = "drained", phase = 1)]
async fn relay(queue: Jobs, ctx: graceful::TaskContext) -> Result<(), String> {
    check(queue.0.0 == "jobs", "the state");
    ctx.stopping().await;
    Ok(())
}

#[graceful::task(phase = -1)]
async fn result_io(ctx: TaskContext) -> std::io::Result<()> {
    ctx.stopping().await;
    Ok(())
}

#[graceful::main(task_timeout = "3s")]
async fn main() {
    graceful::provide(Queue("jobs"));
    after_ready(|| async {
        check(STARTED.load(Ordering::SeqCst), "the tasks started before serving");
    });
}
