//! The attributes at compile time: every accepted form compiles and runs
//! (`tests/ui/pass`), every misuse is a compile error at the offending token
//! with a message that says what to write instead (`tests/ui/fail`, with the
//! expected output in `.stderr` files).

#[test]
fn attributes() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
