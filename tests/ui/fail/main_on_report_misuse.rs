// A report hook that does not take `&Report`, and one that is no path.
#[graceful::main(on_report = export)]
async fn main() {}

fn export(report: String) {
    drop(report);
}

mod other {
    #[graceful::main(on_report = "export")]
    async fn main() {}
}
