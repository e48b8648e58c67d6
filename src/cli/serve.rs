use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::{load_signing_key, EXIT_USAGE};
use crate::certificate::TypeRegistry;
use crate::config::{Config, Overrides};
use crate::http::{router, AppState};
use crate::issuer::Issuer;
use crate::store::Database;

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Public base URL, used as the credential issuer identifier [default: http://LISTEN].
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Database URL: sqlite://PATH or postgres://... [default: SQLite in the data directory].
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

impl ServeArgs {
    pub(super) fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen.clone(),
            public_url: self.public_url.clone(),
            database: self.database.clone(),
        }
    }
}

pub(super) fn run(config: &Config) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

async fn serve(config: &Config) -> Result<(), String> {
    let types = TypeRegistry::load(&config.schemas_dir).map_err(|error| error.to_string())?;
    let key = load_signing_key(config).map_err(|error| error.to_string())?;
    let database = Database::connect(&config.database)
        .await
        .map_err(|error| format!("cannot open the database: {error}"))?;
    let issuer = Issuer {
        types,
        key: Arc::new(key),
        issuer_id: config.public_url.clone(),
    };
    let app = router(AppState {
        issuer: Arc::new(issuer),
        database,
    });

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", config.listen))?;
    tracing::info!(listen = %config.listen, public_url = %config.public_url, "intyg serve started");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| format!("server error: {error}"))?;
    tracing::info!("intyg serve stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C; axum then stops accepting and lets in-flight requests finish.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
