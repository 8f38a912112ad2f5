//! Attribute macros for [`graceful`](https://docs.rs/graceful).
//!
//! This crate is a placeholder until the attributes land; depend on `graceful`,
//! which will re-export them.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
