//! The command-line interface. Exit codes: 0 success, 1 a credential did not verify, 2 bad usage
//! or bad input (including claims that break the schema).

mod clients;
mod issue;
mod keys;
mod serve;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat, Overrides};
use crate::crypto::{GoogleServiceAccount, IssuerKey, PassSigningKey};
use crate::issuer::Wallets;

#[derive(Debug, Parser)]
#[command(
    name = "intyg",
    version,
    about = "Issue, sign, distribute and verify certificates"
)]
struct Cli {
    /// Configuration file (TOML); INTYG_* environment variables override it.
    #[arg(long, global = true, env = "INTYG_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Issue credentials from claims in JSON or JSON Lines, one credential a line.
    Issue(issue::IssueArgs),
    /// Verify a credential and print its claims; exit 0 when valid, 1 when not.
    Verify(verify::VerifyArgs),
    /// Run the HTTP server.
    Serve(serve::ServeArgs),
    /// Manage e-service clients and their API keys.
    Clients {
        #[command(subcommand)]
        command: clients::ClientsCommand,
    },
    /// Manage keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
}

/// Exit code for bad usage, bad input and configuration errors.
pub(crate) const EXIT_USAGE: u8 = 2;

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = match &cli.command {
        Command::Serve(args) => args.overrides(),
        Command::Clients { command } => command.overrides(),
        _ => Overrides::default(),
    };
    let config = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_logging(config.log_format);

    match cli.command {
        Command::Issue(args) => issue::run(args, &config),
        Command::Verify(args) => verify::run(args, &config),
        Command::Serve(_) => serve::run(&config),
        Command::Clients { command } => clients::run(command, &config),
        Command::Keys { command } => keys::run(command),
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("INTYG_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Loads the signing key named in `config`, warning when it is the development key.
pub(crate) fn load_signing_key(config: &Config) -> Result<IssuerKey, crate::crypto::KeyError> {
    let key = IssuerKey::load(
        &config.signing_key,
        &config.signing_chain,
        time::OffsetDateTime::now_utc(),
    )?;
    if config.development_keys {
        tracing::warn!(
            key_id = crate::crypto::Signer::key_id(&key),
            "development keys from keys-example/ are in use; configure signing_key and signing_chain for production"
        );
    }
    Ok(key)
}

/// Loads the Apple Wallet and Google Wallet keys named in `config` and checks that they belong
/// together, warning when they are the development keys.
pub(crate) fn load_wallets(config: &Config) -> Result<Wallets, String> {
    let apple = &config.apple_wallet;
    let pass_key = PassSigningKey::load(
        &apple.certificate,
        &apple.key,
        &apple.wwdr_certificate,
        apple.pass_type_id.as_deref(),
        apple.team_id.as_deref(),
    )
    .map_err(|error| error.to_string())?;
    let google = &config.google_wallet;
    let google_account =
        GoogleServiceAccount::load(&google.service_account).map_err(|error| error.to_string())?;
    if apple.development_keys || google.development_keys {
        tracing::warn!(
            pass_type_id = pass_key.pass_type_id(),
            "development wallet keys from keys-example/ are in use; configure [apple_wallet] and [google_wallet] for production"
        );
    }
    Ok(Wallets {
        pass_key,
        organization_name: apple.organization_name.clone(),
        google_account,
        google_issuer_id: google.issuer_id.clone(),
        google_origins: google.origins.clone(),
    })
}
