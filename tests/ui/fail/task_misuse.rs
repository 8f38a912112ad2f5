#[graceful::task]
fn not_async() {}

#[graceful::task]
async fn wrong_parameter(_retries: u32) {}

#[graceful::task]
async fn context_twice(_a: graceful::TaskContext, _b: graceful::TaskContext) {}

#[graceful::task]
async fn wrong_return() -> u32 {
    0
}

#[graceful::task(stop = "later")]
async fn bad_moment() {}

#[graceful::task(stop = 1)]
async fn moment_not_a_string() {}

#[graceful::task(when = "signal")]
async fn unknown_key() {}

#[graceful::task(name = "")]
async fn empty_name() {}

#[graceful::task(timeout = "3")]
async fn bad_timeout() {}

#[graceful::on_shutdown(when = "soon")]
async fn bad_when() {}

fn main() {}
