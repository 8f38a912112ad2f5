//! One module per scenario.

pub(crate) mod drain;
pub(crate) mod grpc;
pub(crate) mod instructions;
pub(crate) mod memory;
pub(crate) mod metrics;
pub(crate) mod restart;
pub(crate) mod rolling;
pub(crate) mod shutdown;
pub(crate) mod throughput;
pub(crate) mod tls;
pub(crate) mod worker;
