use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::{load_signing_key, EXIT_USAGE};
use crate::certificate::{CertificateService, TypeRegistry};
use crate::config::{Config, Overrides};
use crate::crypto::DataKeys;
use crate::crypto::{IssuerKey, RetiredKey};
use crate::http::verifier::VerifierState;
use crate::http::wallet::WalletState;
use crate::http::{router, AppState};
use crate::issuer::Issuer;
use crate::passes::PassUpdates;
use crate::status::StatusLists;
use crate::store::Store;
use crate::verify::{StatusListFetcher, VerifyOptions};
use openssl::x509::X509;

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
    let data_keys = DataKeys::parse(&config.data_keys).map_err(|error| error.to_string())?;
    // The wallet keys are checked before the database is touched, so a mismatched Pass Type ID
    // certificate stops start-up with nothing created.
    let wallets = super::load_wallets(config)?;
    if config.development_data_keys {
        tracing::warn!("the development data key from keys-example/ encrypts personal data; configure data_keys for production");
    }
    let store = crate::store::open(&config.database)
        .await
        .map_err(|error| format!("cannot open the database: {error}"))?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[
            0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ])
        .and_then(|builder| builder.install_recorder())
        .map_err(|error| format!("cannot install the metrics recorder: {error}"))?;

    let pass_updates = PassUpdates::new(
        Arc::clone(&store),
        &config.apple_wallet.apns_url,
        &wallets.pass_key,
    )
    .map_err(|error| error.to_string())?;
    let issuer = Issuer {
        types,
        key: Arc::new(key),
        issuer_id: config.public_url.clone(),
        wallets: Some(Arc::new(wallets)),
    };
    let status_lists = StatusLists::open(Arc::clone(&store))
        .await
        .map_err(|error| format!("cannot read the status lists: {error}"))?;
    let wallet = WalletState::new(
        &issuer.issuer_id,
        &issuer.types,
        issuer.key.as_ref(),
        &data_keys,
        config.upstream.clone(),
        time::OffsetDateTime::now_utc(),
    )
    .map_err(|error| error.to_string())?;
    let service = CertificateService {
        status_lists: Arc::new(status_lists),
        store: Arc::clone(&store),
        issuer: Arc::new(issuer),
        data_keys: Arc::new(data_keys),
        authorization_code_offers: wallet.upstream.is_some(),
        pass_updates: Some(Arc::new(pass_updates)),
    };
    let retired_keys = load_retired_keys(config)?;
    let verifier = VerifierState {
        options: VerifyOptions::new(
            verifier_anchors(config, &service.issuer.key, &retired_keys)?,
            time::OffsetDateTime::now_utc(),
        ),
        fetcher: StatusListFetcher::new(Some(service.status_lists.generation()))?,
    };
    let app = router(
        AppState {
            service,
            metrics: Arc::new(metrics),
            clients: Arc::default(),
            verifier: Arc::new(verifier),
            retired_keys: Arc::new(retired_keys),
            wallet: Arc::new(wallet),
        },
        config.max_body_bytes,
    );
    let retention = tokio::spawn(purge_expired_data(store, config.retention_check_seconds));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", config.listen))?;
    tracing::info!(listen = %config.listen, public_url = %config.public_url, "intyg serve started");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| format!("server error: {error}"));
    retention.abort();
    served?;
    tracing::info!("intyg serve stopped");
    Ok(())
}

/// Loads the retired signing keys. One whose certificate has expired is left out, because
/// nothing it signed verifies any more.
fn load_retired_keys(config: &Config) -> Result<Vec<RetiredKey>, String> {
    let now = time::OffsetDateTime::now_utc();
    let mut keys = Vec::new();
    for path in &config.previous_signing_chains {
        let key = RetiredKey::load(path).map_err(|error| error.to_string())?;
        let kid = key.public_jwk.get("kid").cloned().unwrap_or_default();
        if key.not_after <= now {
            tracing::info!(%kid, path = %path.display(), "a previous signing certificate has expired and is no longer published; remove it from previous_signing_chains");
            continue;
        }
        tracing::info!(%kid, not_after = %crate::formats::rfc3339(key.not_after), "publishing a previous signing key");
        keys.push(key);
    }
    Ok(keys)
}

/// Returns the verify API's trust anchors: the configured ones and the server's own signing
/// certificates, current and retired, so the server always verifies what it issued.
fn verifier_anchors(
    config: &Config,
    key: &IssuerKey,
    retired_keys: &[RetiredKey],
) -> Result<Vec<X509>, String> {
    let mut anchors = super::verify::load_anchors(&config.trust_anchors)?;
    anchors.extend(key.chain().first().cloned());
    anchors.extend(retired_keys.iter().map(|key| key.certificate.clone()));
    Ok(anchors)
}

/// Deletes personal data past its retention period, now and then every `interval_seconds`.
async fn purge_expired_data(store: Arc<dyn Store>, interval_seconds: u64) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(interval_seconds));
    loop {
        interval.tick().await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match store.purge_expired_secrets(now).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "deleted expired codes, nonces and tokens"),
            Err(error) => {
                tracing::error!(%error, "deleting expired codes, nonces and tokens failed; retrying at the next interval")
            }
        }
        match store.purge_expired_data(now).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(
                count,
                "deleted the personal data of certificates past their retention period"
            ),
            Err(error) => {
                tracing::error!(%error, "deleting personal data past its retention period failed; retrying at the next interval")
            }
        }
    }
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
