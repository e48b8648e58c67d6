//! The nonce endpoint (OpenID4VCI 1.0): a fresh `c_nonce` for key proofs. Each nonce
//! is accepted once, by one atomic store operation, and expires.

use super::{hash_secret, new_secret};
use crate::store::{Secret, Store, StoreError};

/// Secret kind of the `c_nonce` values.
pub const C_NONCE: &str = "c_nonce";

/// How long a `c_nonce` stays valid, in seconds.
pub const C_NONCE_LIFETIME_SECONDS: i64 = 300;

/// Failure to create a nonce.
#[derive(Debug, thiserror::Error)]
pub enum NonceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot generate a nonce: {0}")]
    Random(#[from] openssl::error::ErrorStack),
}

/// Creates and stores a fresh `c_nonce`.
pub async fn new_c_nonce(store: &dyn Store, now: i64) -> Result<String, NonceError> {
    let nonce = new_secret()?;
    store
        .put_secret(&Secret {
            kind: C_NONCE.into(),
            hash: hash_secret(&nonce),
            subject_id: String::new(),
            expires_at: now + C_NONCE_LIFETIME_SECONDS,
        })
        .await?;
    Ok(nonce)
}

/// Consumes a `c_nonce`; returns whether it was issued here, unexpired and unused.
pub async fn consume_c_nonce(store: &dyn Store, nonce: &str, now: i64) -> Result<bool, StoreError> {
    Ok(store
        .consume_secret(C_NONCE, &hash_secret(nonce), now)
        .await?
        .is_some())
}
