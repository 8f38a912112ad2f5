#[graceful::on_shutdown]
fn not_async() {}

#[graceful::on_shutdown]
async fn wrong_parameter(_retries: u32) {}

#[graceful::on_shutdown]
async fn wrong_return() -> u32 {
    0
}

#[graceful::on_shutdown]
async fn error_not_display() -> Result<(), NotDisplay> {
    Ok(())
}

struct NotDisplay;

fn main() {}
