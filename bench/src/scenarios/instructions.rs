//! User-space instructions per request, under callgrind.

use std::path::Path;
use std::time::Duration;

use graceful_bench::client::{self, Outcome};
use tokio::process::Command;

use crate::server::*;

/// User-space instructions the server executes per `GET /`: the server
/// runs under `valgrind --tool=callgrind`, once serving no request and once
/// serving `requests` over one keep-alive connection; the difference, per
/// request. Unlike throughput, the count does not drift with the machine.
/// `None` without valgrind.
pub(crate) async fn instructions(binary: &Path, requests: u64) -> Option<f64> {
    let zero = callgrind_total(binary, 0).await?;
    let many = callgrind_total(binary, requests).await?;
    Some(many.saturating_sub(zero) as f64 / requests as f64)
}

pub(crate) async fn callgrind_total(binary: &Path, requests: u64) -> Option<u64> {
    let out = std::env::temp_dir().join(format!(
        "graceful-bench-callgrind-{}-{requests}",
        std::process::id()
    ));
    let mut command = Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(binary);
    let mut server = Server::spawn(command, binary).await;
    let mut sender = client::connect(server.addr).await.ok()?;
    for _ in 0..requests {
        if !matches!(
            client::send(&mut sender, "GET", "/", b"").await,
            Outcome::Answered(_)
        ) {
            return None;
        }
    }
    drop(sender);
    server.signal();
    server.exit(Duration::from_secs(60)).await;
    let profile = std::fs::read_to_string(&out).ok();
    match std::env::var_os("GRACEFUL_BENCH_PROFILES") {
        // Kept for `callgrind_annotate`, named after the server and the count.
        Some(dir) => {
            let name = binary.file_name().unwrap_or_default().to_string_lossy();
            let _ = std::fs::rename(&out, Path::new(&dir).join(format!("{name}-{requests}.out")));
        }
        None => {
            let _ = std::fs::remove_file(&out);
        }
    }
    profile?.lines().find_map(|line| {
        line.strip_prefix("summary:")
            .or_else(|| line.strip_prefix("totals:"))
            .and_then(|n| n.trim().parse().ok())
    })
}
