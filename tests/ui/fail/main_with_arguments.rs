#[graceful::main]
async fn main(_port: u16) {}
