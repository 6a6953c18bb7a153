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
    let cfg = Config::new(&api, &token, job::default_work_dir()?);
    Ok(match terarchitect_agent::run(cfg).await {
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
