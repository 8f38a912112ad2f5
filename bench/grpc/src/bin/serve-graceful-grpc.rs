//! The benchmark's `graceful` gRPC server: the service returned from a
//! `#[graceful::server]` function, as an app writes it.

#[graceful::server(name = "bench", addr = "127.0.0.1:0")]
fn bench() -> graceful::Grpc {
    graceful::Grpc::new().add_service(graceful_bench_grpc::server())
}

#[graceful::main]
async fn main() {}
