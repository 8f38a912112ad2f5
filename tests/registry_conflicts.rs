//! Registrations that do not fit together are a start-up error naming both
//! functions and where they are, every problem at once.

use graceful::hyper::StatusCode;
use graceful::{App, Error};

#[graceful::server(name = "a-two-addresses", addr = "127.0.0.1:7001", path = "/one")]
async fn first_address() -> StatusCode {
    StatusCode::OK
}

#[graceful::server(name = "a-two-addresses", addr = "127.0.0.1:7002", path = "/two")]
async fn second_address() -> StatusCode {
    StatusCode::OK
}

#[graceful::server(name = "b-no-address", path = "/lonely")]
async fn no_address() -> StatusCode {
    StatusCode::OK
}

#[graceful::server(name = "c-same-path", addr = "127.0.0.1:7003", path = "/same")]
async fn same_path_one() -> StatusCode {
    StatusCode::OK
}

#[graceful::server(name = "c-same-path", path = "/same")]
async fn same_path_two() -> StatusCode {
    StatusCode::OK
}

#[graceful::server(name = "d-service-and-handler", addr = "127.0.0.1:7004")]
fn whole_router() -> axum::Router {
    axum::Router::new()
}

#[graceful::server(name = "d-service-and-handler", path = "/extra")]
async fn extra_handler() -> StatusCode {
    StatusCode::OK
}

#[graceful::on_shutdown]
async fn flush() {}

#[graceful::on_shutdown(name = "flush")]
async fn flush_again() {}

#[test]
fn every_conflict_is_reported_with_both_functions_and_their_lines() {
    let Err(Error::Registration(problems)) = App::registered() else {
        panic!("conflicting registrations were accepted");
    };
    let file = "tests/registry_conflicts.rs";
    let expected = [
        format!(
            "server \"a-two-addresses\": two addresses: \"127.0.0.1:7001\" from `first_address` at {file}:8 and \"127.0.0.1:7002\" from `second_address` at {file}:13"
        ),
        format!(
            "server \"b-no-address\": no address: give `addr = \"ip:port\"` on one of `no_address` at {file}:18"
        ),
        format!(
            "server \"c-same-path\": `same_path_one` at {file}:23 and `same_path_two` at {file}:28 both serve path \"/same\""
        ),
        format!(
            "server \"d-service-and-handler\": `whole_router` at {file}:33 serves the whole server, so `extra_handler` at {file}:38 cannot serve it too"
        ),
        format!("callback \"flush\": declared twice, at {file}:43 and at {file}:46"),
    ];
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems, expected);
}
