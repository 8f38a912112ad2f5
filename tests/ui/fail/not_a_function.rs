#[graceful::server(addr = "127.0.0.1:8080")]
struct Api;

fn main() {}
