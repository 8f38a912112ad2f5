//! Run with: `cargo run -p graceful-examples-grpc --example grpc`, then
//! `grpcurl -plaintext -proto examples/grpc/proto/greeter.proto -d '{"name":"you"}' localhost:50051 greeter.Greeter/SayHello`
//! and Ctrl-C.
//!
//! A gRPC server: a `#[graceful::server]` function returns a `graceful::Grpc`,
//! tonic's services added as to tonic's own router. The health protocol
//! comes with it (`grpc_health_probe -addr=localhost:50051`, or a
//! Kubernetes `grpc` probe): `SERVING` while the app runs, `NOT_SERVING`
//! from the first signal on. The streaming call sees the shutdown coming
//! through the `ShutdownHandle` in its request's extensions, and ends
//! cleanly instead of being cut off.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::Stream;
use graceful::tonic::{self, Request, Response, Status};
use graceful::{ShutdownHandle, State};

mod pb {
    tonic::include_proto!("greeter");
}

use pb::greeter_server::{Greeter, GreeterServer};
use pb::{CountdownReply, CountdownRequest, HelloReply, HelloRequest};

/// How many greetings were said: state the server function is given.
#[derive(Clone, Default)]
struct Greetings(Arc<AtomicU64>);

struct Service {
    greetings: Greetings,
}

type Countdown = Pin<Box<dyn Stream<Item = Result<CountdownReply, Status>> + Send>>;

#[tonic::async_trait]
impl Greeter for Service {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        self.greetings.0.fetch_add(1, Ordering::Relaxed);
        let message = format!("hello, {}", request.into_inner().name);
        Ok(Response::new(HelloReply { message }))
    }

    type CountdownStream = Countdown;

    async fn countdown(
        &self,
        request: Request<CountdownRequest>,
    ) -> Result<Response<Countdown>, Status> {
        // Every request a gRPC server of graceful serves carries it.
        let shutdown = request
            .extensions()
            .get::<ShutdownHandle>()
            .cloned()
            .ok_or_else(|| Status::internal("served without graceful"))?;
        let from = request.into_inner().from;
        let replies = futures_util::stream::unfold(Some(from), move |left| {
            let shutdown = shutdown.clone();
            async move {
                let left = left?;
                let reply = tokio::select! {
                    () = shutdown.shutting_down() => CountdownReply { left, shutting_down: true },
                    () = tokio::time::sleep(Duration::from_secs(1)) => CountdownReply { left, shutting_down: false },
                };
                let next = (!reply.shutting_down && left > 0).then(|| left - 1);
                Some((Ok(reply), next))
            }
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

#[graceful::server(name = "greeter", addr = "127.0.0.1:50051")]
fn greeter(greetings: State<Greetings>) -> graceful::Grpc {
    graceful::Grpc::new().add_service(GreeterServer::new(Service {
        greetings: greetings.0,
    }))
}

#[graceful::on_shutdown]
async fn farewell(greetings: State<Greetings>) {
    let greetings = greetings.0.0.load(Ordering::Relaxed);
    tracing::info!(greetings, "said hello");
}

#[graceful::main]
async fn main() {
    graceful::provide(Greetings::default());
}
