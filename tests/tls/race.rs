//! The keep-alive race over TLS: connections busy with back-to-back
//! requests when SIGTERM arrives. Every request written gets a full
//! response or a clean refusal: the check for bytes on their way peeks the
//! kernel's socket, where over TLS they wait as records.

use graceful_load::client::Dial;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_is_lost_across_sigterm_under_keep_alive_load_over_tls() {
    let dir = test_dir("tls-race");
    let (cert, key) = rustls_certificate(&dir);
    let mut app = tls_fixture(&cert, &key, &[]);
    let addr = app.addr("api").await;
    let dial = Dial::tls_to_localhost(addr, &cert, &[b"http/1.1"]).expect("a TLS client");
    support::race::no_request_is_lost_across_sigterm(&mut app, dial).await;
}
