//! A gRPC app that the integration tests run as a child process and send
//! real signals to: the `Work` service of `proto/fixture.proto`, served by
//! `#[graceful::server]` on a function returning a `graceful::Grpc`, with
//! the state it counts in. Not an example: it is a test rig.
//!
//! - `Unary(ms)`: waits `ms`, counts the call, and answers how many this
//!   process has processed, and its pid;
//! - `Ticks(ms)`: a tick every `ms`; when the shutdown begins (the
//!   `ShutdownHandle` in the request's extensions says so), a last tick and
//!   the end. With `ignore_shutdown`, it ticks until it is cut off. Logs
//!   `started = "ticks"` when a stream starts.
//!
//! The server is `grpc` on `127.0.0.1:0` (`GRACEFUL_ADDR_GRPC` overrides
//! it); settings come from the `GRACEFUL_*` environment variables. At the
//! shutdown, a callback logs `processed = N`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::Stream;
use graceful::tonic::{self, Request, Response, Status};
use graceful::{ShutdownHandle, State};

mod pb {
    tonic::include_proto!("fixture");
}

use pb::work_server::{Work, WorkServer};
use pb::{Done, Job, Tick};

/// How many `Unary` calls were processed.
#[derive(Clone, Debug, Default)]
struct Processed(Arc<AtomicU64>);

struct Worker {
    processed: Processed,
}

type Ticks = Pin<Box<dyn Stream<Item = Result<Tick, Status>> + Send>>;

#[tonic::async_trait]
impl Work for Worker {
    async fn unary(&self, request: Request<Job>) -> Result<Response<Done>, Status> {
        let ms = request.get_ref().ms;
        if ms > 0 {
            // The work itself.
            tokio::time::sleep(Duration::from_millis(ms.into())).await;
        }
        let processed = self.processed.0.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Response::new(Done {
            processed,
            pid: std::process::id(),
        }))
    }

    type TicksStream = Ticks;

    async fn ticks(&self, request: Request<Job>) -> Result<Response<Ticks>, Status> {
        let handle = request
            .extensions()
            .get::<ShutdownHandle>()
            .cloned()
            .ok_or_else(|| Status::internal("no ShutdownHandle in the request's extensions"))?;
        let Job {
            ms,
            ignore_shutdown,
        } = request.into_inner();
        tracing::info!(started = "ticks", ignore_shutdown, "ticks stream started");
        let every = Duration::from_millis(ms.max(1).into());
        let ticks = futures_util::stream::unfold((0u64, false), move |(n, ended)| {
            let handle = handle.clone();
            async move {
                if ended {
                    return None;
                }
                let last = tokio::select! {
                    () = handle.shutting_down(), if !ignore_shutdown => true,
                    () = tokio::time::sleep(every) => false,
                };
                let tick = Tick {
                    n,
                    last,
                    pid: std::process::id(),
                };
                Some((Ok(tick), (n + 1, last)))
            }
        });
        Ok(Response::new(Box::pin(ticks)))
    }
}

#[graceful::server(name = "grpc", addr = "127.0.0.1:0")]
fn grpc(processed: State<Processed>) -> graceful::Grpc {
    graceful::Grpc::new().add_service(WorkServer::new(Worker {
        processed: processed.0,
    }))
}

#[graceful::on_shutdown]
async fn count(processed: State<Processed>) {
    let processed = processed.0.0.load(Ordering::Relaxed);
    tracing::info!(processed, "processed");
}

#[graceful::main]
async fn main() {
    graceful::provide(Processed::default());
}
