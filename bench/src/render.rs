//! The results as a markdown table, a chart and the BENCHMARKS.md page.

use std::path::Path;

use crate::machine::*;
use crate::plan::*;

pub(crate) fn write_file(path: &Path, text: &str) {
    if let Err(err) = std::fs::write(path, text) {
        eprintln!("cannot write {}: {err}", path.display());
    }
}

pub(crate) fn markdown(r: &Results<'_>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let hyper_memory = r.servers["hyper"].memory.as_ref();
    let hyper_instructions = r.servers["hyper"].instructions;
    let _ = writeln!(
        s,
        "| server | req/s (median) | ÷ bare hyper (median of rounds) | instructions / request (÷ bare hyper) | p50 µs | p99 µs | drain: ok / refused / dirty | slow 200 | drain signal→exit ms (code) | idle exit ms | 2nd signal exit ms (code) | RSS idle MiB | RSS {n} conns MiB (KiB / conn) | {n} conns: exit ms (code) | {} conns: exit ms (code) |",
        r.plan.scale_connections,
        n = r.plan.memory_connections,
    );
    let _ = writeln!(
        s,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for (name, m) in r.servers.iter() {
        let d = m.drain.as_ref();
        let second = m.second_signal.as_ref();
        let p50: Vec<f64> = m.p50_us.iter().map(|&v| v as f64).collect();
        let p99: Vec<f64> = m.p99_us.iter().map(|&v| v as f64).collect();
        // A scenario this run did not measure (`throughput` alone) shows "–".
        let none = || "–".to_owned();
        let _ = writeln!(
            s,
            "| {name} | {:.0} | {:.3} | {} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            median(&m.throughput),
            median(&m.vs_hyper),
            match (m.instructions, hyper_instructions) {
                (Some(n), Some(h)) => format!("{n:.0} ({:.3})", n / h),
                _ => none(),
            },
            median(&p50),
            median(&p99),
            d.map_or_else(none, |d| format!("{} / {} / {}", d.ok, d.refused, d.dirty)),
            d.map_or_else(none, |d| format!("{}/{}", d.slow_ok, d.slow_total)),
            d.map_or_else(none, |d| format!(
                "{:.0} ({})",
                d.signal_to_exit_ms, d.exit_code
            )),
            if m.idle_exit_ms.is_empty() {
                none()
            } else {
                format!("{:.1}", median(&m.idle_exit_ms))
            },
            second.map_or_else(none, |s| format!("{:.0} ({})", s.exit_ms, s.exit_code)),
            m.memory
                .as_ref()
                .map_or_else(none, |m| format!("{:.1}", m.idle_kib as f64 / 1024.0)),
            m.memory.as_ref().map_or_else(none, |m| format!(
                "{:.1} ({:.1})",
                m.connections_kib as f64 / 1024.0,
                m.per_connection_kib(r.plan.memory_connections)
            )),
            m.memory
                .as_ref()
                .map_or_else(none, |m| format!("{:.0} ({})", m.exit_ms, m.exit_code)),
            m.scale
                .as_ref()
                .map_or_else(none, |s| format!("{:.0} ({})", s.exit_ms, s.exit_code)),
        );
    }
    if r.servers.values().any(|m| m.restart_stop_start.is_some()) {
        let _ = writeln!(
            s,
            "\nOne restart under direct load (no load balancer: four keep-alive clients and one connecting for every request, half a second before and after): stopped with SIGTERM and started again on its port, or, for graceful, restarted by listener handoff (`SIGUSR2`):\n\n| server | restart | answered | answered 503 | connections refused | failed |\n|---|---|---|---|---|---|"
        );
        for (name, m) in r.servers.iter() {
            for (how, restarted) in [
                ("stop, then start", &m.restart_stop_start),
                ("handoff", &m.restart_handoff),
            ] {
                if let Some(x) = restarted {
                    let _ = writeln!(
                        s,
                        "| {name} | {how} | {} | {} | {} | {} |",
                        x.answered, x.refused_503, x.refused_connections, x.failed
                    );
                }
            }
        }
    }
    if r.servers.values().any(|m| m.rolling.is_some()) {
        let _ = writeln!(
            s,
            "\nRolling restart behind nginx (three replicas, each restarted in turn: stopped with SIGTERM and started again, or, for graceful, by listener handoff; {} keep-alive clients; nginx retrying another upstream on a connection error, its default, or not retrying, `proxy_next_upstream off`):\n\n| server | restart | nginx | requests | failed (status / transport) | answered ≥ 0.5 s late | slowest ms |\n|---|---|---|---|---|---|---|",
            r.plan.rolling_clients
        );
        for (name, m) in r.servers.iter() {
            for (how, retries, rolled) in [
                ("stop, then start", "retries", &m.rolling),
                ("stop, then start", "no retries", &m.rolling_no_retry),
                ("handoff", "no retries", &m.rolling_handoff),
            ] {
                if let Some(roll) = rolled {
                    let _ = writeln!(
                        s,
                        "| {name} | {how} | {retries} | {} | {} ({} / {}) | {} | {:.0} |",
                        roll.requests,
                        roll.failed(),
                        roll.failed_status,
                        roll.failed_transport,
                        roll.late,
                        roll.max_ms
                    );
                }
            }
        }
    }
    let mut sorted = r.ratio_per_round.clone();
    sorted.sort_by(f64::total_cmp);
    let quartile = |q: f64| sorted.get(((sorted.len() as f64 - 1.0) * q).round() as usize);
    let _ = writeln!(
        s,
        "\nThroughput graceful / bare hyper: median **{:.3}** over {} rounds; quartiles {:.3} and {:.3} (every round's ratio is in `target/bench/results.json`).\n",
        r.ratio_median,
        sorted.len(),
        quartile(0.25).copied().unwrap_or(0.0),
        quartile(0.75).copied().unwrap_or(0.0),
    );
    let g = &r.servers["graceful"];
    let h = &r.servers["hyper"];
    let d = g.drain.as_ref();
    let n = r.plan.memory_connections;
    let idle = |m: &Measured| (!m.idle_exit_ms.is_empty()).then(|| median(&m.idle_exit_ms));
    let bars = [
        (
            "median throughput ≥ 0.99 × bare hyper".to_owned(),
            Some(r.ratio_median >= 0.99),
            format!("{:.3}", r.ratio_median),
        ),
        (
            "instructions per request ≤ 1.03 × bare hyper".to_owned(),
            g.instructions
                .zip(hyper_instructions)
                .map(|(g, h)| g <= 1.03 * h),
            g.instructions
                .zip(hyper_instructions)
                .map_or_else(String::new, |(g, h)| format!("{:.3}", g / h)),
        ),
        (
            "0 dirty failures in the drain, every slow request finished".to_owned(),
            d.map(|d| d.dirty == 0 && d.slow_ok == d.slow_total),
            d.map_or_else(String::new, |d| {
                format!("{} dirty, {}/{} slow", d.dirty, d.slow_ok, d.slow_total)
            }),
        ),
        (
            "idle SIGTERM to exit within 1 ms of bare hyper".to_owned(),
            idle(g).zip(idle(h)).map(|(g, h)| g <= h + 1.0),
            idle(g)
                .zip(idle(h))
                .map_or_else(String::new, |(g, h)| format!("{g:.1} ms vs {h:.1} ms")),
        ),
        {
            let both = g.memory.as_ref().zip(hyper_memory);
            (
                format!("exit with {n} idle connections no slower than bare hyper"),
                both.map(|(g, h)| g.exit_ms <= h.exit_ms),
                both.map_or_else(String::new, |(g, h)| {
                    format!("{:.0} ms vs {:.0} ms", g.exit_ms, h.exit_ms)
                }),
            )
        },
        (
            format!(
                "exit with {} idle connections under 150 ms",
                r.plan.scale_connections
            ),
            g.scale.as_ref().map(|s| s.exit_ms < 150.0),
            g.scale
                .as_ref()
                .map_or_else(String::new, |s| format!("{:.0} ms", s.exit_ms)),
        ),
        (
            "rolling restart behind nginx: nothing failed, nothing 0.5 s late".to_owned(),
            g.rolling.as_ref().map(|r| r.failed() == 0 && r.late == 0),
            g.rolling.as_ref().map_or_else(String::new, |r| {
                format!("{} failed, {} late", r.failed(), r.late)
            }),
        ),
        (
            "rolling restart by handoff behind nginx without retries: nothing failed, nothing 0.5 s late"
                .to_owned(),
            g.rolling_handoff
                .as_ref()
                .map(|r| r.failed() == 0 && r.late == 0),
            g.rolling_handoff.as_ref().map_or_else(String::new, |r| {
                format!("{} failed, {} late", r.failed(), r.late)
            }),
        ),
        (
            "one restart by handoff: no connection refused, no request failed".to_owned(),
            g.restart_handoff
                .as_ref()
                .map(|r| r.refused_connections == 0 && r.failed == 0),
            g.restart_handoff.as_ref().map_or_else(String::new, |r| {
                format!(
                    "{} refused, {} failed (stop, then start: {})",
                    r.refused_connections,
                    r.failed,
                    g.restart_stop_start
                        .as_ref()
                        .map_or_else(String::new, |s| format!(
                            "{} refused, {} failed",
                            s.refused_connections, s.failed
                        ))
                )
            }),
        ),
        {
            let both = g.memory.as_ref().zip(hyper_memory);
            (
                "memory per idle connection ≤ bare hyper's".to_owned(),
                both.map(|(g, h)| g.per_connection_kib(n) <= h.per_connection_kib(n)),
                both.map_or_else(String::new, |(g, h)| {
                    format!(
                        "{:.1} KiB vs {:.1} KiB",
                        g.per_connection_kib(n),
                        h.per_connection_kib(n)
                    )
                }),
            )
        },
    ];
    let _ = writeln!(s, "| bar for graceful | met | measured |\n|---|---|---|");
    for (bar, met, value) in bars {
        let _ = match met {
            Some(true) => writeln!(s, "| {bar} | yes | {value} |"),
            Some(false) => writeln!(s, "| {bar} | **no** | {value} |"),
            None => writeln!(s, "| {bar} | – | not measured in this run |"),
        };
    }
    s
}

pub(crate) fn chart(r: &Results<'_>, path: &Path) {
    use plotters::prelude::*;
    let names: Vec<&str> = r.servers.keys().copied().collect();
    let ratios: Vec<f64> = names
        .iter()
        .map(|n| median(&r.servers[n].vs_hyper))
        .collect();
    let dirty: Vec<u64> = names
        .iter()
        .map(|n| r.servers[n].drain.as_ref().map_or(0, |d| d.dirty))
        .collect();
    let root = SVGBackend::new(path, (900, 360)).into_drawing_area();
    let _ = root.fill(&WHITE);
    let (left, right) = root.split_horizontally(450);
    let draw = |area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
                title: &str,
                values: &[f64],
                max: f64| {
        let Ok(mut chart) = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d((0..names.len()).into_segmented(), 0.0..max)
        else {
            return;
        };
        let _ = chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => {
                    names.get(*i).map_or(String::new(), |n| (*n).to_owned())
                }
                _ => String::new(),
            })
            .draw();
        let _ = chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            let color = if names[i] == "graceful" {
                BLUE
            } else {
                RGBColor(150, 150, 150)
            };
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                color.filled(),
            )
        }));
    };
    draw(
        &left,
        "throughput / bare hyper (median)",
        &ratios,
        ratios.iter().cloned().fold(1.2, f64::max),
    );
    let dirty_f: Vec<f64> = dirty.iter().map(|&d| d as f64).collect();
    let measured = names.iter().any(|n| r.servers[n].drain.is_some());
    draw(
        &right,
        if measured {
            "requests lost in the drain (dirty)"
        } else {
            "requests lost in the drain: not measured"
        },
        &dirty_f,
        dirty_f.iter().cloned().fold(5.0, f64::max) * 1.1,
    );
    let _ = root.present();
}

/// The BENCHMARKS.md page: how the figures were measured, then the table
/// and the chart.
pub(crate) fn benchmarks_page(results: &Results<'_>, table: &str) -> String {
    let plan = &results.plan;
    format!(
        "# Benchmarks\n\nMeasured by `graceful-bench` (see `bench/src/`: one module per scenario, `render.rs` for the table and chart); every figure below comes from one run of\n\n```sh\n{}\n```\n\non {}.\n\nThe servers (`bench/src/bin/`): **graceful**, one `#[graceful::server]` handler, as a user writes it; **graceful-routed**, two handlers sharing the server by path, through its router; **graceful-builder**, the builder API running the very service bare hyper runs, to tell the runtime's cost from the attributes'; **hyper**, bare hyper with hyper-util's `GracefulShutdown`; **axum**, with `with_graceful_shutdown`; **actix-web**, with the graceful shutdown it runs on SIGTERM (10 s, as bare hyper). Each runs as a child process pinned to core 1; the load generator is pinned to core 0. Before measuring, the tool checks that every server answers `GET /` and `GET /slow` with the same status, headers and body (`content-type: text/plain; charset=utf-8`, as axum and `graceful` set it for a `&'static str`), so that the throughput compares the same work. Throughput: the servers run side by side; each round measures each for {} s with {} keep-alive connections, graceful and bare hyper back to back in alternating order; a server's ratio is the median over {} rounds of its throughput divided by bare hyper's in the same round. Instructions: each server runs under `valgrind --tool=callgrind`, once serving nothing and once serving {} `GET /` over one keep-alive connection; the difference per request counts every user-space instruction of the server (hyper, tokio, the allocator and, for graceful, its accounting), and does not drift with the machine as throughput does.\n\n{table}\n![throughput ratio and dirty failures per server](bench/chart.svg)\n",
        results.command,
        results.machine,
        plan.seconds,
        plan.connections,
        plan.rounds,
        plan.instruction_requests
    )
}
