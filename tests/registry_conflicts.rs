//! Registrations that do not fit together are a start-up error naming both
//! functions and where they are, every problem at once.

use graceful::hyper::StatusCode;
use graceful::{App, Error, Problem, Site};

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
        format!(
            "callback \"flush\" is declared twice: `flush` at {file}:43 and `flush_again` at {file}:46"
        ),
    ];
    let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(texts, expected);
    // The same, as typed data: each function named by its site.
    let sites = |problem: &Problem| -> Vec<(Option<&str>, u32)> {
        let of = |site: &Site| (site.function, site.line);
        match problem {
            Problem::TwoAddresses { first, second, .. }
            | Problem::SamePath { first, second, .. }
            | Problem::SameCallbackName { first, second, .. } => vec![of(first), of(second)],
            Problem::NoAddress { functions, .. } => functions.iter().map(of).collect(),
            Problem::NotAlone { service, other, .. } => vec![of(service), of(other)],
            other => panic!("unexpected {other:?}"),
        }
    };
    let all: Vec<_> = problems.iter().map(sites).collect();
    assert_eq!(
        all,
        [
            vec![(Some("first_address"), 8), (Some("second_address"), 13)],
            vec![(Some("no_address"), 18)],
            vec![(Some("same_path_one"), 23), (Some("same_path_two"), 28)],
            vec![(Some("whole_router"), 33), (Some("extra_handler"), 38)],
            vec![(Some("flush"), 43), (Some("flush_again"), 46)],
        ]
    );
    assert!(problems.iter().all(|problem| sites_in(problem, file)));
}

/// Whether every site of `problem` is in `file`.
fn sites_in(problem: &Problem, file: &str) -> bool {
    match problem {
        Problem::TwoAddresses { first, second, .. }
        | Problem::SamePath { first, second, .. }
        | Problem::SameCallbackName { first, second, .. } => {
            first.file == file && second.file == file
        }
        Problem::NoAddress { functions, .. } => functions.iter().all(|site| site.file == file),
        Problem::NotAlone { service, other, .. } => service.file == file && other.file == file,
        _ => false,
    }
}
