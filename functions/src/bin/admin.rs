//! Operator commands against the database named by DATABASE_URL.
use clap::{Parser, Subcommand};
use terarchitect_functions::{domain::crypto, store};
use terarchitect_protocol::TokenKind;

#[derive(Parser)]
#[command(about = "Terarchitect operator commands (uses DATABASE_URL)")]
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
        /// `user` for people and the UI, `worker` for worker hosts.
        #[arg(long, default_value = "user")]
        kind: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let url = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("DATABASE_URL is not set"))?;
    let pool = store::connect(&url, 1).await?;
    match cli.cmd {
        Cmd::MintToken { name, kind } => {
            let kind = TokenKind::parse(&kind).ok_or_else(|| anyhow::anyhow!("--kind must be user or worker"))?;
            let token = crypto::new_token(if kind == TokenKind::User { "tt_" } else { "tw_" });
            store::tokens::insert(&pool, &name, kind, &crypto::hash_token(&token)).await?;
            println!("{token}");
        }
    }
    Ok(())
}
