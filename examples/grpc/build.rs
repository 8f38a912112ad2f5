//! Compiles the example's service (`proto/greeter.proto`) with `protoc`
//! (on Debian: `apt-get install protobuf-compiler`).

fn main() -> std::io::Result<()> {
    println!("cargo::rerun-if-changed=proto/greeter.proto");
    tonic_prost_build::configure()
        .build_client(false)
        .compile_protos(&["proto/greeter.proto"], &["proto"])
}
