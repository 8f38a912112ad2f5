#[graceful::server(addr = "127.0.0.1:0")]
fn api() -> u32 {
    7
}

#[graceful::main]
async fn main() {}
