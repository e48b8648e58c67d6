//! Updates of Apple Wallet passes: the authentication tokens of the PassKit web service, and the
//! pushes that tell registered devices a pass changed.
//!
//! A pass's serial number is its certificate's id. When the certificate changes (it is revoked,
//! say), every device registered for the pass gets an empty push over HTTP/2 from the Apple Push
//! Notification service. The device then requests the list of its changed passes from the web
//! service and downloads them.

use std::sync::Arc;
use std::time::Duration;

use crate::crypto::{DataKeys, PassSigningKey};
use crate::store::Store;

/// The purpose under which pass authentication tokens are derived from the data keys.
const TOKEN_PURPOSE: &str = "apple-pass-authentication";

/// Returns the authentication token of the pass `serial_number`. It is derived from the data
/// keys, so it is stable for the pass and nothing needs to be stored.
pub fn authentication_token(keys: &DataKeys, serial_number: &str) -> String {
    keys.token(TOKEN_PURPOSE, serial_number.as_bytes())
}

/// Checks the token a device presents in `Authorization: ApplePass <token>`.
pub fn token_is_valid(keys: &DataKeys, serial_number: &str, token: &str) -> bool {
    keys.verify_token(TOKEN_PURPOSE, serial_number.as_bytes(), token)
}

/// Failure to set up the push client.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("the APNs URL {0:?} is not valid; use https://api.push.apple.com, or http://HOST:PORT for a local stand-in")]
    Url(String),
    #[error("cannot set up the APNs client: {0}")]
    Client(String),
}

/// Counts of the pushes sent for one change.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PushSummary {
    pub sent: usize,
    /// Push tokens the service reported as gone; their registrations were removed.
    pub unregistered: usize,
    pub failed: usize,
}

/// Sends pushes to the devices registered for a pass.
pub struct PassUpdates {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    apns_url: String,
    topic: String,
}

impl std::fmt::Debug for PassUpdates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassUpdates")
            .field("apns_url", &self.apns_url)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl PassUpdates {
    /// Sets up HTTP/2 to `apns_url`. Over https the Pass Type ID certificate is the TLS client
    /// certificate, as Apple requires; over http (a local stand-in) HTTP/2 is spoken without TLS.
    pub fn new(
        store: Arc<dyn Store>,
        apns_url: &str,
        key: &PassSigningKey,
    ) -> Result<Self, PushError> {
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5));
        let builder = if let Some(rest) = apns_url.strip_prefix("https://") {
            if rest.is_empty() {
                return Err(PushError::Url(apns_url.to_owned()));
            }
            let (certificate, private_key) = key
                .identity_pem()
                .map_err(|error| PushError::Client(error.to_string()))?;
            let identity = reqwest::Identity::from_pkcs8_pem(&certificate, &private_key)
                .map_err(|error| PushError::Client(error.to_string()))?;
            builder.identity(identity).use_native_tls()
        } else if apns_url.starts_with("http://") && apns_url.len() > "http://".len() {
            builder.http2_prior_knowledge()
        } else {
            return Err(PushError::Url(apns_url.to_owned()));
        };
        let client = builder
            .build()
            .map_err(|error| PushError::Client(error.to_string()))?;
        Ok(Self {
            store,
            client,
            apns_url: apns_url.trim_end_matches('/').to_owned(),
            topic: key.pass_type_id().to_owned(),
        })
    }

    /// Pushes to every device registered for the pass of `certificate_id` in the background. A
    /// failed push is logged, and the device still gets the change at its next update check.
    pub fn certificate_changed(self: &Arc<Self>, certificate_id: &str) {
        let updates = Arc::clone(self);
        let certificate_id = certificate_id.to_owned();
        tokio::spawn(async move {
            let summary = updates.push(&certificate_id).await;
            tracing::info!(
                certificate_id = %certificate_id,
                sent = summary.sent,
                unregistered = summary.unregistered,
                failed = summary.failed,
                "pass update pushed"
            );
        });
    }

    /// Pushes to every device registered for the pass of `certificate_id` and waits for the
    /// responses.
    pub async fn push(&self, certificate_id: &str) -> PushSummary {
        let mut summary = PushSummary::default();
        let tokens = match self.store.pass_push_tokens(certificate_id).await {
            Ok(tokens) => tokens,
            Err(error) => {
                tracing::error!(certificate_id = %certificate_id, %error, "cannot read the pass registrations");
                summary.failed += 1;
                return summary;
            }
        };
        for token in tokens {
            match self.push_one(&token).await {
                Ok(reqwest::StatusCode::OK) => summary.sent += 1,
                Ok(reqwest::StatusCode::GONE) => {
                    summary.unregistered += 1;
                    if let Err(error) = self.store.forget_push_token(&token).await {
                        tracing::error!(%error, "cannot remove a registration the push service reported gone");
                    }
                }
                Ok(status) => {
                    summary.failed += 1;
                    tracing::warn!(certificate_id = %certificate_id, status = status.as_u16(), "the push service rejected a pass update");
                }
                Err(error) => {
                    summary.failed += 1;
                    tracing::warn!(certificate_id = %certificate_id, error = %error.without_url(), "cannot reach the push service");
                }
            }
        }
        summary
    }

    /// Sends one push: `POST /3/device/<token>` with the pass type identifier as the topic and an
    /// empty JSON object, as the PassKit web service documentation prescribes.
    async fn push_one(&self, push_token: &str) -> Result<reqwest::StatusCode, reqwest::Error> {
        let response = self
            .client
            .post(format!("{}/3/device/{push_token}", self.apns_url))
            .header("apns-topic", &self.topic)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await?;
        Ok(response.status())
    }
}
