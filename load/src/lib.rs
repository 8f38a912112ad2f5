//! Load that tells a clean refusal from a lost request: an HTTP/1.1
//! keep-alive client that classifies every request, and a load generator
//! built on it. The benchmark and the integration tests share it, so that
//! both count a "dirty" failure the same way.

pub mod client;
pub mod load;
