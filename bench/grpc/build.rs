//! Compiles the benchmark's service (`proto/bench.proto`) with `protoc`.

fn main() -> std::io::Result<()> {
    println!("cargo::rerun-if-changed=proto/bench.proto");
    tonic_prost_build::configure()
        .build_client(false)
        .compile_protos(&["proto/bench.proto"], &["proto"])
}
