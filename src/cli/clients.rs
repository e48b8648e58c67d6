use std::process::ExitCode;

use clap::Subcommand;

use super::EXIT_USAGE;
use crate::certificate::TypeRegistry;
use crate::config::Config;
use crate::http::auth::{hash_api_key, new_api_key};
use crate::store::ApiClient;

#[derive(Debug, Subcommand)]
pub(super) enum ClientsCommand {
    /// Add an e-service client and print its API key, once: only its hash is stored.
    Add {
        /// A unique name for the client, such as the e-service's name.
        name: String,
        /// Certificate types the client may issue, comma-separated; the scope vc-api lets it use
        /// the VC-API issue endpoint.
        #[arg(long, value_delimiter = ',', required = true)]
        types: Vec<String>,
        /// Database URL: sqlite://PATH or postgres://... [default: as intyg serve].
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
}

impl ClientsCommand {
    pub(super) fn overrides(&self) -> crate::config::Overrides {
        match self {
            ClientsCommand::Add { database, .. } => crate::config::Overrides {
                database: database.clone(),
                ..crate::config::Overrides::default()
            },
        }
    }
}

pub(super) fn run(command: ClientsCommand, config: &Config) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

async fn execute(command: ClientsCommand, config: &Config) -> Result<(), String> {
    match command {
        ClientsCommand::Add { name, types, .. } => {
            let name = name.trim().to_owned();
            if name.is_empty() {
                return Err("the client name is empty".into());
            }
            let registry =
                TypeRegistry::load(&config.schemas_dir).map_err(|error| error.to_string())?;
            for type_id in &types {
                if type_id != crate::http::vc_api::VC_API_SCOPE {
                    registry.get(type_id).map_err(|error| error.to_string())?;
                }
            }
            let store = crate::store::open(&config.database)
                .await
                .map_err(|error| format!("cannot open the database: {error}"))?;
            let key = new_api_key().map_err(|error| format!("cannot generate a key: {error}"))?;
            let client = ApiClient {
                id: uuid::Uuid::now_v7().to_string(),
                name: name.clone(),
                key_hash: hash_api_key(&key),
                types,
                created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
            };
            store
                .add_client(&client)
                .await
                .map_err(|error| error.to_string())?;
            println!("{key}");
            eprintln!(
                "added client {name:?} (id {}); the API key above is shown only this once, so store it now",
                client.id
            );
            Ok(())
        }
    }
}
