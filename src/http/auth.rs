//! Authentication of e-service clients with API keys: `Authorization: Bearer <key>`. Keys are
//! stored as SHA-256 hashes; a key is 256 random bits, so a fast hash is enough.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::problem::Problem;
use super::AppState;
use crate::crypto::b64url;
use crate::store::ApiClient;

/// Prefix of every API key, so a leaked key is recognisable in a secret scanner.
pub const API_KEY_PREFIX: &str = "intyg_";

/// How long a looked-up client stays cached. A client's scope change reaches every node within
/// this time.
const CLIENT_CACHE_SECONDS: u64 = 60;
/// Entries after which the cache is emptied, so unbounded key churn cannot grow memory.
const CLIENT_CACHE_MAX_ENTRIES: usize = 10_000;

/// Clients found by API key hash, so a request does not query the database to authenticate.
/// Unknown keys are not cached.
#[derive(Debug, Default)]
pub struct ClientCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (ApiClient, std::time::Instant)>>,
}

impl ClientCache {
    fn get(&self, key_hash: &str) -> Option<ApiClient> {
        let entries = self.entries.lock().ok()?;
        let (client, stored) = entries.get(key_hash)?;
        (stored.elapsed().as_secs() < CLIENT_CACHE_SECONDS).then(|| client.clone())
    }

    fn insert(&self, key_hash: String, client: ApiClient) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CLIENT_CACHE_MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key_hash, (client, std::time::Instant::now()));
        }
    }
}

/// The authenticated client of a request.
#[derive(Debug, Clone)]
pub struct Client(pub ApiClient);

/// Returns a new API key: the prefix and 256 random bits, base64url.
pub fn new_api_key() -> Result<String, openssl::error::ErrorStack> {
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(format!("{API_KEY_PREFIX}{}", b64url(bytes)))
}

/// Returns the stored form of an API key: SHA-256, hex.
pub fn hash_api_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl FromRequestParts<AppState> for Client {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Err(Problem::unauthorized(
                "send the API key as Authorization: Bearer <key>",
            ));
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized("the Authorization header must be Bearer <key>")
            })?;
        let key_hash = hash_api_key(key);
        let client = match state.clients.get(&key_hash) {
            Some(client) => Some(client),
            None => {
                let found = state
                    .service
                    .store
                    .client_by_key_hash(&key_hash)
                    .await
                    .map_err(|error| {
                        tracing::error!(%error, "cannot look up the API key");
                        Problem::internal()
                    })?;
                if let Some(client) = &found {
                    state.clients.insert(key_hash, client.clone());
                }
                found
            }
        };
        match client {
            Some(client) => {
                tracing::Span::current().record("client_id", client.id.as_str());
                Ok(Client(client))
            }
            None => {
                tracing::info!("request with an unknown API key rejected");
                Err(Problem::unauthorized(
                    "the API key is not valid; check it, or ask the operator for a new one",
                ))
            }
        }
    }
}
