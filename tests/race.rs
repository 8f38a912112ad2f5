//! The race every peer loses, over cleartext: see `support::race`.

mod support;

use support::{Fixture, JSON};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_is_lost_across_sigterm_under_keep_alive_load() {
    let mut app = Fixture::spawn(&[], &[JSON]);
    let addr = app.addr("api").await;
    support::race::no_request_is_lost_across_sigterm(&mut app, addr.into()).await;
}
