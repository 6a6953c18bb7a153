//! `terarchitect-agent`: reads its job from the environment, runs it, and tells the
//! worker host how it went through stdout and the exit code.

use anyhow::Context;
use terarchitect_agent::{Config, job};

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

#[tokio::main]
async fn main() {
    let code = match start().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agent failed: {e:#}");
            println!("TERARCHITECT_ERROR={e:#}");
            2
        }
    };
    std::process::exit(code);
}

async fn start() -> anyhow::Result<i32> {
    let api = env("TERARCHITECT_API_URL")?;
    let token = env("TERARCHITECT_JOB_TOKEN")?;
    let job_id = env("TERARCHITECT_JOB_ID")?;
    eprintln!("terarchitect-agent {} for job {job_id}", env!("CARGO_PKG_VERSION"));
    let mut cfg = Config::new(&api, &token, job::default_work_dir()?);
    cfg.git_url = std::env::var("TERARCHITECT_GIT_URL").ok().filter(|u| !u.is_empty());
    // `docker stop` sends SIGTERM: stop at once; whatever was not pushed stays unpushed.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let result = tokio::select! {
        r = terarchitect_agent::run(cfg) => r,
        _ = term.recv() => {
            println!("TERARCHITECT_ERROR=terminated by signal");
            return Ok(143);
        }
    };
    Ok(match result {
        Ok(o) => {
            println!("TERARCHITECT_PR_URL={}", o.pr_url);
            println!("TERARCHITECT_PR_NUMBER={}", o.pr_number);
            0
        }
        Err(e) => {
            let code = e.exit_code();
            println!("TERARCHITECT_ERROR={e}");
            code
        }
    })
}
