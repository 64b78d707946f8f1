//! `kontor`: the one binary that runs every role of the platform (ARCHITECTURE §1) and its
//! maintenance commands. It reads the configuration, wires the chosen backends and hands over to the
//! library crates; all business logic lives there.

mod commands;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kontor_config::{LogFormat, Settings};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "kontor", version, about = "Kontor commerce platform")]
struct Cli {
    /// Configuration file (default: ./kontor.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations (a no-op when the schema is current).
    Migrate,
    /// Run the backend role: admin API (and later the Back Office UI) on `backend.listen`.
    Backend,
    /// Run every role in one process on the embedded default; migrates first.
    Serve,
    /// Manage Back Office users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a Back Office user, optionally with an API token for the admin API.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input; otherwise one is generated and shown once.
        #[arg(long)]
        password_stdin: bool,
        /// Also issue an API token (shown once).
        #[arg(long)]
        api_token: bool,
        /// A label for the token, e.g. the client that uses it.
        #[arg(long, default_value = "cli", requires = "api_token")]
        token_name: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration as TOML, with secrets redacted.
    Show,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("configuration is invalid")?;
    init_logging(&settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(run(cli.command, settings))
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Migrate => commands::migrate(&settings).await,
        Command::Backend => commands::backend(&settings, false).await,
        Command::Serve => commands::backend(&settings, true).await,
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    password_stdin,
                    api_token,
                    token_name,
                },
        } => {
            let password = if password_stdin {
                Some(commands::read_password_line()?)
            } else {
                None
            };
            let token_name = api_token.then_some(token_name.as_str());
            commands::create_user(&settings, &email, password, token_name).await
        }
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            print!("{}", settings.to_redacted_toml());
            Ok(())
        }
    }
}

fn init_logging(settings: &Settings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log.filter)
        .with_context(|| format!("invalid value for `log.filter`: {:?}", settings.log.filter))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}
