//! Compiles the gRPC fixture's service (`proto/fixture.proto`), with
//! `protoc` (Debian's `protobuf-compiler`, installed by `.ci/run`).

fn main() -> std::io::Result<()> {
    println!("cargo::rerun-if-changed=proto/fixture.proto");
    tonic_prost_build::configure().compile_protos(&["proto/fixture.proto"], &["proto"])
}
