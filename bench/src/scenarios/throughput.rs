//! Throughput and latency, side by side, with the equivalence check first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graceful_bench::client::{self, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::plan::*;
use crate::server::*;

/// One keep-alive connection sending `GET /` back to back until `deadline`,
/// with a minimal client so that the server, not the client, is the limit.
pub(crate) async fn hammer_raw(
    addr: SocketAddr,
    deadline: Instant,
    latencies: Arc<Mutex<Vec<u32>>>,
) {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
    let mut buf = Vec::with_capacity(1024);
    let mut mine = Vec::with_capacity(100_000);
    while Instant::now() < deadline {
        let started = Instant::now();
        if stream.write_all(request).await.is_err() {
            break;
        }
        buf.clear();
        loop {
            let mut chunk = [0u8; 1024];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if response_complete(&buf) {
                break;
            }
        }
        mine.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    latencies.lock().expect("not poisoned").extend(mine);
}

pub(crate) fn response_complete(buf: &[u8]) -> bool {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    buf.len() >= head_end + 4 + length
}

pub(crate) fn percentile(sorted: &[u32], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    u64::from(sorted[index])
}

/// `connections` keep-alive connections sending `GET /` back to back for
/// `seconds`; returns every request's latency in microseconds, sorted, and
/// the time it took.
pub(crate) async fn measure(addr: SocketAddr, connections: usize, seconds: f64) -> (Vec<u32>, f64) {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(hammer_raw(addr, deadline, Arc::clone(&latencies))))
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = std::mem::take(&mut *latencies.lock().expect("not poisoned"));
    latencies.sort_unstable();
    (latencies, elapsed)
}

/// What a server answers to `GET path`, without the `date` header's value:
/// status, headers (sorted: their order means nothing), body.
pub(crate) async fn answer_of(addr: SocketAddr, path: &str) -> String {
    let outcome = match client::connect(addr).await {
        Ok(mut sender) => client::send(&mut sender, "GET", path, b"").await,
        Err(err) => Outcome::Failed(err.to_string()),
    };
    let Outcome::Answered(answer) = outcome else {
        return format!("no answer: {outcome:?}");
    };
    let mut headers: Vec<String> = answer
        .headers
        .iter()
        .map(|(name, value)| {
            let value = if name == hyper::header::DATE {
                "(now)"
            } else {
                value.to_str().unwrap_or("(not text)")
            };
            format!("{name}: {value}\n")
        })
        .collect();
    headers.sort();
    let mut text = format!("{}\n{}", answer.status, headers.concat());
    text.push('\n');
    text.push_str(answer.text());
    text
}

/// Every server must write the same response, byte for byte but the date:
/// otherwise the throughput compares different work.
pub(crate) async fn check_equivalent(running: &[(&'static str, Server)]) {
    for path in ["/", "/slow?ms=1"] {
        let (first, server) = &running[0];
        let expected = answer_of(server.addr, path).await;
        for (name, server) in &running[1..] {
            let answer = answer_of(server.addr, path).await;
            assert!(
                answer == expected,
                "the servers are not equivalent: GET {path}\n{first}:\n{expected}\n\n{name}:\n{answer}"
            );
        }
    }
}

/// Throughput and latency: every server running side by side, idle but for
/// the one measured; each round measures each server once, graceful and bare
/// hyper back to back in alternating order, so that a round's ratios compare
/// neighbours in time and order effects cancel.
pub(crate) async fn throughput(
    dir: &Path,
    plan: &Plan,
    peers: &[(&'static str, &'static str)],
    servers: &mut BTreeMap<&'static str, Measured>,
) {
    let mut running = Vec::new();
    for &(name, bin) in peers {
        running.push((name, Server::start(&dir.join(bin)).await));
    }
    check_equivalent(&running).await;
    for (_, server) in &running {
        measure(server.addr, plan.connections, plan.seconds).await;
    }
    for round in 0..plan.rounds {
        let mut order: Vec<usize> = (0..running.len()).collect();
        if round % 2 == 1 {
            order.swap(0, 1);
            order.swap(2, 3);
        }
        for i in order {
            let (name, server) = &running[i];
            let (latencies, elapsed) = measure(server.addr, plan.connections, plan.seconds).await;
            let m = servers.entry(name).or_default();
            m.throughput.push(latencies.len() as f64 / elapsed);
            m.p50_us.push(percentile(&latencies, 0.50));
            m.p99_us.push(percentile(&latencies, 0.99));
        }
    }
    for (_, mut server) in running {
        server.signal();
        server.exit(Duration::from_secs(15)).await;
    }
    let hyper = servers["hyper"].throughput.clone();
    for m in servers.values_mut() {
        m.vs_hyper = m
            .throughput
            .iter()
            .zip(&hyper)
            .map(|(x, h)| x / h)
            .collect();
    }
}
