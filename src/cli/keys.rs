use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::EXIT_USAGE;
use crate::crypto::generate_development_set;

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Write a fresh development key set: issuer CA and signing key, stand-in Apple chain and Pass
    /// Type ID certificate, and a Google service account key. For development only.
    Generate {
        /// Folder to write to; created if missing, and no existing key file is overwritten.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

pub(super) fn run(command: KeysCommand) -> ExitCode {
    match command {
        KeysCommand::Generate { out } => match generate_development_set(&out) {
            Ok(paths) => {
                for path in paths {
                    println!("{}", path.display());
                }
                eprintln!(
                    "wrote a development key set to {}; never use it in production",
                    out.display()
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(EXIT_USAGE)
            }
        },
    }
}
