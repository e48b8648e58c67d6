//! The nonce endpoint (OpenID4VCI 1.0): a fresh `c_nonce` for key proofs. A nonce is a sealed
//! value ([`super::new_sealed_value`]), so handing one out stores nothing. The credential
//! endpoint accepts a nonce once, by recording it as spent in one atomic store operation, and
//! refuses it after it expires.

use super::{hash_secret, new_sealed_value, open_sealed_value};
use crate::crypto::{DataKeyError, DataKeys};
use crate::store::{Secret, Store, StoreError};

/// Purpose of the MAC of `c_nonce` values.
pub const C_NONCE: &str = "c_nonce";

/// Secret kind of the `c_nonce` values already used in a proof; kept until they expire.
pub const SPENT_C_NONCE: &str = "spent_c_nonce";

/// How long a `c_nonce` stays valid, in seconds.
pub const C_NONCE_LIFETIME_SECONDS: i64 = 300;

/// Returns a fresh `c_nonce`.
pub fn new_c_nonce(keys: &DataKeys, now: i64) -> Result<String, DataKeyError> {
    new_sealed_value(keys, C_NONCE, "", now + C_NONCE_LIFETIME_SECONDS)
}

/// Consumes a `c_nonce` and returns whether it was issued here, unexpired and unused.
pub async fn consume_c_nonce(
    store: &dyn Store,
    keys: &DataKeys,
    nonce: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(expires_at) = open_sealed_value(keys, C_NONCE, "", nonce, now) else {
        return Ok(false);
    };
    store
        .put_secret_once(&Secret {
            kind: SPENT_C_NONCE.into(),
            hash: hash_secret(nonce),
            subject_id: String::new(),
            expires_at,
        })
        .await
}
