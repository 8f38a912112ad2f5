//! Throughput by `h2load` (nghttp2's HTTP/2 load generator), which sends a
//! gRPC request as a body file with gRPC's headers.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

/// One `h2load` run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Load<'a> {
    pub(crate) addr: SocketAddr,
    /// `/bench.Bench/Unary` or `/bench.Bench/Stream`.
    pub(crate) path: &'a str,
    /// The framed request message.
    pub(crate) body: &'a Path,
    pub(crate) duration: Duration,
    pub(crate) connections: usize,
    /// Concurrent streams per connection.
    pub(crate) streams: usize,
}

/// What `h2load` measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Measured {
    pub(crate) requests_per_s: f64,
    /// Response bytes (DATA frames' payloads) per second.
    pub(crate) data_bytes_per_s: f64,
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
}

/// Whether `h2load` can be run.
pub(crate) fn installed() -> bool {
    std::process::Command::new("h2load")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Runs `h2load` (on this process's core, which it inherits) for
/// `load.duration` after a warm-up, and reads its summary.
pub(crate) async fn run(load: Load<'_>) -> Result<Measured, String> {
    let out = Command::new("h2load")
        .arg("--duration")
        .arg(format!("{}ms", load.duration.as_millis()))
        .arg("--warm-up-time=100ms")
        .args(["-t", "1", "-c", &load.connections.to_string()])
        .args(["-m", &load.streams.to_string()])
        .arg("-d")
        .arg(load.body)
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg(format!("http://{}{}", load.addr, load.path))
        .output()
        .await
        .map_err(|err| format!("cannot run h2load: {err}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text, load.duration).ok_or_else(|| format!("h2load printed no summary: {text}"))
}

/// Reads `finished in`, `requests:` and `traffic:` from h2load's summary.
fn parse(text: &str, duration: Duration) -> Option<Measured> {
    let line = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix));
    let requests_per_s = line("finished in ")?
        .split(", ")
        .find_map(|part| part.strip_suffix(" req/s"))?
        .parse()
        .ok()?;
    let count = |what: &str| {
        line("requests: ")?
            .split(", ")
            .find_map(|part| part.strip_suffix(what))?
            .trim()
            .parse::<u64>()
            .ok()
    };
    // `traffic: 1.46GB (1572864000) total, ... 1.45GB (1560000000) data`
    let data_bytes: f64 = line("traffic: ")?
        .split(", ")
        .find(|part| part.ends_with(" data"))?
        .split(['(', ')'])
        .nth(1)?
        .parse()
        .ok()?;
    Some(Measured {
        requests_per_s,
        data_bytes_per_s: data_bytes / duration.as_secs_f64(),
        succeeded: count(" succeeded")?,
        failed: count(" failed")? + count(" errored")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_h2load_prints() {
        let text = "\
finished in 2.00s, 84211.50 req/s, 7.47MB/s
requests: 168423 total, 168743 started, 168423 done, 168420 succeeded, 3 failed, 1 errored, 0 timeout
status codes: 168423 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 14.95MB (15674322) total, 1.10MB (1157281) headers (space savings 95.47%), 2.25MB (2358022) data
";
        let m = parse(text, Duration::from_secs(2)).expect("parsed");
        assert_eq!(m.requests_per_s, 84211.5);
        assert_eq!(m.succeeded, 168420);
        assert_eq!(m.failed, 4);
        assert_eq!(m.data_bytes_per_s, 2358022.0 / 2.0);
        assert_eq!(
            parse("h2load: connection refused", Duration::from_secs(1)),
            None
        );
    }
}
