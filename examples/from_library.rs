//! Run with: `cargo run --example from_library`, then `curl 127.0.0.1:8083` and Ctrl-C.
//!
//! Servers and callbacks registered in a library crate run in this binary.
//! The one line to write: a reference to the library. Without it the linker
//! drops the library (nothing in the binary uses it) and its registrations
//! with it, and the start fails with "no server is registered".

use graceful_example_library as _;

#[graceful::main]
async fn main() {}
