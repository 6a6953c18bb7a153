//! Pickup benchmark: time from the API's move response to the agent container's start,
//! and the host's memory, with the real API, queue, engine and `worker-host` binary.
//!
//!   ./dev services &   # then export what it prints
//!   cargo build -p terarchitect-worker-host --bin worker-host [--release]
//!   cargo run -p terarchitect-worker-host --example bench -- [JOBS] [BURST_CONCURRENCY]
//!
//! WORKER_HOST_BIN overrides the binary (default: next to this example's target dir,
//! release if present). Prints p50/p95 pickup latency over sequential jobs (an idle host
//! long-polling), RSS idle / busy, and the wall time of a burst.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use terarchitect_protocol::JobStatus;
use terarchitect_testkit::docker::containers_with_label;
use terarchitect_testkit::eventually;
use terarchitect_testkit::process::ProcessGroup;

fn host_binary() -> PathBuf {
    if let Ok(p) = std::env::var("WORKER_HOST_BIN") {
        return p.into();
    }
    // target/debug/examples/bench → target/{release,debug}/worker-host
    let exe = std::env::current_exe().expect("current exe");
    let target = exe
        .parent()
        .and_then(|p| p.parent())
        .and_then(|p| p.parent())
        .expect("target dir");
    let release = target.join("release/worker-host");
    if release.exists() {
        release
    } else {
        target.join("debug/worker-host")
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn started_at(container: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.State.StartedAt}}", container])
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout);
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let mut argv = std::env::args().skip(1);
    let jobs: usize = argv.next().and_then(|a| a.parse().ok()).unwrap_or(20).max(1);
    let burst_max: u32 = argv.next().and_then(|a| a.parse().ok()).unwrap_or(4).max(1);
    let env = common::Env::new().await;
    let bin = host_binary();
    println!("worker-host binary: {}", bin.display());
    let mut args = env.args(burst_max);
    // Production-like polling: 20 s long polls, 30 s heartbeats.
    args.retain(|a| !a.starts_with("--poll-wait-secs") && !a.starts_with("--heartbeat-interval-secs"));
    args.push("--poll-wait-secs=20".into());
    args.push("--heartbeat-interval-secs=30".into());
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(&args[1..])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null());
    let host = ProcessGroup::spawn(cmd).expect("spawn worker-host");
    let pid = host.pid();
    tokio::time::sleep(Duration::from_secs(3)).await; // settle into its first long poll
    let idle_rss = rss_kib(pid);

    // Sequential: one job at a time against an idle, long-polling host.
    let mut latencies = Vec::new();
    let mut busy_rss = 0;
    for i in 0..jobs {
        let t0 = chrono::Utc::now();
        let job = env.queue_job(&format!("--sleep 0.5 --pr pr-{i}")).await;
        let label = format!("terarchitect.job-id={job}");
        let started = eventually("container started", Duration::from_secs(60), || async {
            let c = containers_with_label(&label).into_iter().next()?;
            started_at(&c.id).filter(|t| t.timestamp() > 0)
        })
        .await;
        busy_rss = busy_rss.max(rss_kib(pid));
        latencies.push((started - t0).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        eventually("job done", Duration::from_secs(60), || async {
            (env.job(job).await.status == JobStatus::Succeeded).then_some(())
        })
        .await;
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());

    // Burst: all at once, MAX_CONCURRENT_AGENTS = burst_max.
    let t = Instant::now();
    let mut burst = Vec::new();
    for i in 0..jobs {
        burst.push(env.queue_job(&format!("--sleep 1 --pr pr-{i}")).await);
    }
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    for job in &burst {
        eventually("burst job done", Duration::from_secs(300), || async {
            (env.job(*job).await.status == JobStatus::Succeeded).then_some(())
        })
        .await;
    }
    let burst_wall = t.elapsed();
    sampler.abort();
    let burst_rss = peak.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_after = rss_kib(pid);
    host.signal(libc::SIGTERM);
    drop(host);

    println!("jobs: {jobs} sequential, then {jobs} in a burst with MAX_CONCURRENT_AGENTS={burst_max}");
    println!(
        "move -> container start: p50 {:.0} ms, p95 {:.0} ms, min {:.0} ms, max {:.0} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies[0],
        latencies[latencies.len() - 1]
    );
    println!(
        "RSS: idle {} KiB at start, {} KiB after work; busy max {} KiB (1 agent), {} KiB (burst)",
        idle_rss, idle_after, busy_rss, burst_rss
    );
    println!(
        "burst: {jobs} jobs of 1 s in {:.1} s ({:.2} jobs/s)",
        burst_wall.as_secs_f64(),
        jobs as f64 / burst_wall.as_secs_f64()
    );
}
