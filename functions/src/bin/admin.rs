//! Operator commands. Locally: `./dev admin ...` (or the binary with DATABASE_URL set).
//! In AWS the same binary is a function without a route, so operators reach the private
//! database through IAM: `aws lambda invoke --function-name <AdminFunction>
//! --payload '{"args":["requeue-ticket","<id>"]}' out.json` returns `{"output": "..."}`.
use std::fmt::Write as _;

use clap::{Parser, Subcommand};
use lambda_runtime::{LambdaEvent, service_fn};
use terarchitect_functions::{
    config::Config,
    domain::{App, hosts, ops, settings},
    runtime,
    store::tokens::Revoke,
};
use terarchitect_protocol::{ProjectId, TicketId, TokenKind};

#[derive(Parser)]
#[command(
    name = "admin",
    about = "Terarchitect operator commands (DATABASE_URL, JOB_QUEUE_URL, TERARCHITECT_SECRET_KEY, \
             TERARCHITECT_SECRET_KEY_PREVIOUS)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Mint an API token and print it once (only its hash is stored).
    MintToken {
        #[arg(long)]
        name: String,
        /// `user` for people and the UI, `worker` for a worker host (with --host).
        #[arg(long, default_value = "user")]
        kind: String,
        /// The worker host the token is for (its WORKER_HOST_ID): it claims, heartbeats,
        /// logs and finishes jobs as that host only. Required for `worker`.
        #[arg(long)]
        host: Option<String>,
        /// Its own limit of writes per minute (default: 240 for a user, 3000 for a worker).
        #[arg(long)]
        writes_per_minute: Option<u32>,
    },
    /// Revoke tokens at once: every live token with this name, or every one of this
    /// worker host (which then gets 401 while other hosts go on).
    RevokeToken {
        #[arg(long, required_unless_present = "host", conflicts_with = "host")]
        name: Option<String>,
        #[arg(long)]
        host: Option<String>,
    },
    /// A worker host joined (in AWS: the worker group launched an instance): mint its
    /// token and store it in the secret PREFIX+HOST, tagged with the instance's ARN so
    /// that only the instance can read it.
    RegisterHost {
        #[arg(long)]
        host: String,
        #[arg(long)]
        secret_prefix: String,
        #[arg(long)]
        host_arn: String,
        /// KMS key for the secret (default: the account's Secrets Manager key).
        #[arg(long)]
        kms_key: Option<String>,
    },
    /// A worker host left for good (an instance terminated): revoke its tokens and delete
    /// its secret.
    RetireHost {
        #[arg(long)]
        host: String,
        #[arg(long)]
        secret_prefix: String,
    },
    /// Make sure a ticket has a queued job in the queue: re-send a queued job's message,
    /// retry a failed or cancelled one, or queue a new one. A running job is refused.
    RequeueTicket { ticket: TicketId },
    /// Print every job of a ticket with its whole execution log.
    DumpLogs {
        ticket: TicketId,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the latest log lines over every job (of one project, or all), newest first.
    RecentLogs {
        #[arg(long)]
        project: Option<ProjectId>,
        /// How many (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Delete the logs of jobs that finished more than N days ago. The jobs stay (their
    /// outcome, pull request and metered usage), only their log lines go.
    PurgeLogs {
        #[arg(long)]
        older_than_days: u32,
    },
    /// Add a "Project setup" ticket to a project's Backlog (as a new project gets).
    SetupTicket { project: ProjectId },
    /// Print what a project's memory holds: passages and the facts extracted from them.
    DumpMemory {
        project: ProjectId,
        #[arg(long)]
        json: bool,
    },
    /// Send one real request to each configured LLM and embedding endpoint (the global
    /// settings, or the project's effective ones) and report latency and answer.
    SmokeLlm {
        #[arg(long)]
        project: Option<ProjectId>,
    },
    /// Re-seal every stored secret with TERARCHITECT_SECRET_KEY, in one transaction. Secrets
    /// sealed with a key of TERARCHITECT_SECRET_KEY_PREVIOUS (or before key ids existed) are
    /// re-sealed; running it again changes nothing. Afterwards the previous keys can go.
    RotateSecrets,
}

async fn run(app: &App, cmd: Cmd) -> anyhow::Result<String> {
    let mut out = String::new();
    match cmd {
        Cmd::MintToken {
            name,
            kind,
            host,
            writes_per_minute,
        } => {
            let kind = TokenKind::parse(&kind).ok_or_else(|| anyhow::anyhow!("--kind must be user or worker"))?;
            let writes_per_minute = writes_per_minute
                .map(|n| i32::try_from(n).ok().filter(|n| *n > 0))
                .map(|n| n.ok_or_else(|| anyhow::anyhow!("--writes-per-minute must be from 1 to {}", i32::MAX)))
                .transpose()?;
            let new = hosts::NewToken {
                name: &name,
                kind,
                host: host.as_deref(),
                writes_per_minute,
            };
            writeln!(out, "{}", hosts::mint(app, new).await?)?;
        }
        Cmd::RevokeToken { name, host } => {
            let which = match (&name, &host) {
                (Some(n), _) => Revoke::Name(n),
                (None, Some(h)) => Revoke::Host(h),
                (None, None) => anyhow::bail!("give --name or --host"),
            };
            match hosts::revoke(app, which).await? {
                0 => anyhow::bail!("no live token matches {which:?}"),
                n => writeln!(out, "revoked {n} token(s)")?,
            }
        }
        Cmd::RegisterHost {
            host,
            secret_prefix,
            host_arn,
            kms_key,
        } => {
            let secret = hosts::HostSecret {
                name: &format!("{secret_prefix}{host}"),
                host_arn: &host_arn,
                kms_key: kms_key.as_deref(),
            };
            hosts::register(app, &secrets_client().await, &host, secret).await?;
            writeln!(out, "host {host}: token stored in {}", secret.name)?;
        }
        Cmd::RetireHost { host, secret_prefix } => {
            let name = format!("{secret_prefix}{host}");
            let n = hosts::retire(app, &secrets_client().await, &host, &name).await?;
            writeln!(out, "host {host}: {n} token(s) revoked, {name} deleted")?;
        }
        Cmd::RequeueTicket { ticket } => {
            let r = ops::requeue_ticket(app, ticket).await?;
            writeln!(
                out,
                "{}: job {} ({}) is {}",
                r.action,
                r.job.id,
                r.job.kind.as_str(),
                r.job.status.as_str()
            )?;
        }
        Cmd::DumpLogs { ticket, json } => {
            let logs = ops::ticket_logs(app, ticket).await?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&logs)?)?;
            }
            for l in logs.iter().filter(|_| !json) {
                let j = &l.job;
                writeln!(
                    out,
                    "== job {} {} attempt {} {}{}",
                    j.id,
                    j.kind.as_str(),
                    j.attempt,
                    j.status.as_str(),
                    j.failure_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )?;
                for e in &l.events {
                    writeln!(
                        out,
                        "{} #{} [{}] {}: {}",
                        e.at.format("%H:%M:%S%.3f"),
                        e.seq,
                        e.phase,
                        e.step,
                        e.summary
                    )?;
                }
            }
        }
        Cmd::RecentLogs { project, limit, json } => {
            let events = ops::recent_logs(app, project, limit).await?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&events)?)?;
            }
            for e in events.iter().filter(|_| !json) {
                writeln!(
                    out,
                    "{} job {} \"{}\" #{} [{}] {}: {}",
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    e.job_id,
                    e.ticket_title,
                    e.seq,
                    e.phase,
                    e.step,
                    e.summary
                )?;
            }
        }
        Cmd::PurgeLogs { older_than_days } => {
            let p = ops::purge_logs(app, older_than_days).await?;
            writeln!(out, "removed {} log lines of {} finished jobs", p.events, p.jobs)?;
        }
        Cmd::SetupTicket { project } => {
            let t = ops::add_setup_ticket(app, project).await?;
            writeln!(out, "ticket {} \"{}\" added to the Backlog", t.id, t.title)?;
        }
        Cmd::DumpMemory { project, json } => {
            let dump = ops::memory_dump(app, project).await?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&dump)?)?;
            } else {
                writeln!(out, "{} passages, {} facts", dump.passages.len(), dump.facts.len())?;
                for p in &dump.passages {
                    writeln!(out, "\n-- {} {}\n{}", p.id, p.created_at.to_rfc3339(), p.content)?;
                }
                for f in &dump.facts {
                    writeln!(out, "fact: {} | {} | {}", f.subject, f.relation, f.object)?;
                }
            }
        }
        Cmd::SmokeLlm { project } => {
            let results = ops::smoke_test_llms(app, project).await?;
            for r in &results {
                writeln!(
                    out,
                    "{} {:<10} {} ({}) {} ms: {}",
                    if r.ok { "ok  " } else { "FAIL" },
                    r.what,
                    r.url,
                    r.model,
                    r.millis,
                    r.detail
                )?;
            }
            if results.iter().any(|r| !r.ok) {
                anyhow::bail!("{out}some endpoints failed");
            }
        }
        Cmd::RotateSecrets => {
            let r = settings::rotate_secrets(app).await?;
            writeln!(
                out,
                "{} secrets: {} re-sealed, {} already sealed with key {}",
                r.total,
                r.resealed,
                r.total - r.resealed,
                r.key_id
            )?;
        }
    }
    Ok(out)
}

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
}

#[derive(serde::Deserialize)]
struct Invocation {
    args: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::var("AWS_LAMBDA_RUNTIME_API").is_ok() {
        runtime::init_tracing();
        let app = App::from_config(&Config::from_env()?, 1).await?;
        let app = &app;
        return lambda_runtime::run(service_fn(move |ev: LambdaEvent<Invocation>| async move {
            let cli = Cli::try_parse_from(std::iter::once("admin".to_string()).chain(ev.payload.args))
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            let output = run(app, cli.cmd)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "output": output }))
        }))
        .await
        .map_err(|e| anyhow::anyhow!(e));
    }
    let cli = Cli::parse();
    let app = App::from_config(&Config::from_env()?, 1).await?;
    print!("{}", run(&app, cli.cmd).await?);
    Ok(())
}
