//! The service both gRPC servers of the benchmark serve, the same code in
//! each: `Unary` answers its data back (after its delay, for the drain), and
//! `Stream` sends `count` messages of `size` bytes.

use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use tonic::{Request, Response, Status};

/// The generated code of `proto/bench.proto`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("bench");
}

use pb::{Job, Payload, StreamRequest};

/// The service.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bench;

/// What `Stream` answers with.
pub type Payloads = Pin<Box<dyn Stream<Item = Result<Payload, Status>> + Send>>;

#[tonic::async_trait]
impl pb::bench_server::Bench for Bench {
    async fn unary(&self, request: Request<Job>) -> Result<Response<Payload>, Status> {
        let Job { data, delay_ms } = request.into_inner();
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms.into())).await;
        }
        Ok(Response::new(Payload { data }))
    }

    type StreamStream = Payloads;

    async fn stream(&self, request: Request<StreamRequest>) -> Result<Response<Payloads>, Status> {
        let StreamRequest { count, size } = request.into_inner();
        let payload = Payload {
            data: vec![b'x'; size as usize],
        };
        let payloads = futures_util::stream::iter((0..count).map(move |_| Ok(payload.clone())));
        Ok(Response::new(Box::pin(payloads)))
    }
}

/// The service, as tonic's generated server.
pub fn server() -> pb::bench_server::BenchServer<Bench> {
    pb::bench_server::BenchServer::new(Bench)
}
