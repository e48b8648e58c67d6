//! DPoP proofs (RFC 9449): a wallet that sends a DPoP proof to the token endpoint gets an access
//! token bound to the proof's key, and must prove possession of that key on every later request.
//!
//! Server nonces (RFC 9449, section 8) are stateless. A nonce is a time step and its HMAC under a
//! key derived from the data keys, so every node accepts the nonces of every other node without a
//! database lookup. Proof `jti` values are recorded in the store, once.

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer as HmacSigner;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::hash_secret;
use super::metadata::SIGNING_ALGORITHM;
use crate::crypto::{b64url, holder_key, jwk_thumbprint, DataKeys};
use crate::store::{Secret, Store, StoreError};
use crate::verify::jws::{es256_signature_matches, DecodedJws};

/// The JOSE `typ` of a DPoP proof.
pub const DPOP_TYP: &str = "dpop+jwt";

/// Secret kind of the `jti` values of accepted DPoP proofs.
pub const DPOP_JTI: &str = "dpop_jti";

/// How long a server nonce stays valid, in seconds: two time steps of this length.
pub const NONCE_STEP_SECONDS: i64 = 300;

/// How far a proof's `iat` may differ from the server's clock, in seconds.
pub const MAX_IAT_DIFFERENCE_SECONDS: i64 = 300;

/// Longest accepted `jti`, in characters.
const MAX_JTI_LENGTH: usize = 256;

/// A rejected DPoP proof.
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    /// The proof is malformed or fails a check; the message names the check.
    #[error("{0}")]
    Invalid(String),
    /// The proof has no nonce or an expired one; the client retries with the nonce sent in the
    /// `DPoP-Nonce` header.
    #[error("{0}")]
    UseNonce(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The request a DPoP proof must be bound to.
#[derive(Debug, Clone, Copy)]
pub struct DpopTarget<'a> {
    /// The HTTP method, such as `POST`.
    pub method: &'a str,
    /// The endpoint URL as the client addressed it, without query and fragment.
    pub url: &'a str,
    /// The access token the request presents, which `ath` must hash; `None` at the token
    /// endpoint.
    pub access_token: Option<&'a str>,
}

/// Issues and checks the stateless server nonces.
pub struct DpopNonces {
    key: [u8; 32],
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopNonces")
    }
}

impl DpopNonces {
    pub fn new(data_keys: &DataKeys) -> Self {
        Self {
            key: data_keys.derive("intyg DPoP server nonce"),
        }
    }

    /// Returns the nonce of the time step that contains `now`.
    pub fn current(&self, now: i64) -> String {
        let step = now.div_euclid(NONCE_STEP_SECONDS);
        format!("{step}.{}", self.tag(step))
    }

    /// Checks that `nonce` is of the current or the previous time step.
    pub fn is_valid(&self, nonce: &str, now: i64) -> bool {
        let Some((step, tag)) = nonce.split_once('.') else {
            return false;
        };
        let Ok(step) = step.parse::<i64>() else {
            return false;
        };
        let current = now.div_euclid(NONCE_STEP_SECONDS);
        (step == current || step == current - 1)
            && constant_time_eq(tag.as_bytes(), self.tag(step).as_bytes())
    }

    fn tag(&self, step: i64) -> String {
        let tag = PKey::hmac(&self.key)
            .and_then(|key| {
                let mut signer = HmacSigner::new(MessageDigest::sha256(), &key)?;
                signer.update(&step.to_be_bytes())?;
                signer.sign_to_vec()
            })
            .unwrap_or_default();
        b64url(tag)
    }
}

/// Compares in constant time; slices of different lengths are unequal.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

/// Checks a DPoP proof against the request and returns the RFC 7638 thumbprint of its key. The
/// proof's `jti` is recorded, so a replayed proof is rejected on any node.
pub async fn check_dpop_proof(
    proof: &str,
    target: &DpopTarget<'_>,
    nonces: &DpopNonces,
    store: &dyn Store,
    now: i64,
) -> Result<String, DpopError> {
    let invalid = |detail: String| Err(DpopError::Invalid(detail));
    let decoded = DecodedJws::decode(proof).map_err(|error| {
        DpopError::Invalid(format!("the DPoP proof is not a compact JWT: {error}"))
    })?;
    let header = &decoded.header;
    let payload = &decoded.payload;
    if decoded.typ() != DPOP_TYP {
        return invalid(format!(
            "the DPoP proof's typ is {:?}; it must be {DPOP_TYP}",
            decoded.typ()
        ));
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != SIGNING_ALGORITHM {
        return invalid(format!(
            "the DPoP proof's alg is {alg:?}; the issuer accepts only {SIGNING_ALGORITHM} (dpop_signing_alg_values_supported)"
        ));
    }
    let Some(jwk) = header.get("jwk") else {
        return invalid("the DPoP proof has no jwk header".into());
    };
    if jwk.as_object().is_some_and(|jwk| jwk.contains_key("d")) {
        return invalid("the DPoP proof's jwk contains the private key member \"d\"".into());
    }
    let (jwk, key) = holder_key(jwk)
        .map_err(|error| DpopError::Invalid(format!("the DPoP proof's jwk: {error}")))?;
    if !es256_signature_matches(&key, decoded.signing_input.as_bytes(), &decoded.signature) {
        return invalid("the DPoP proof's signature does not verify with its jwk".into());
    }

    let claim = |name: &str| payload.get(name).and_then(Value::as_str);
    if claim("htm") != Some(target.method) {
        return invalid(format!(
            "the DPoP proof's htm must be {:?}, the method of this request",
            target.method
        ));
    }
    let htu = claim("htu").unwrap_or("");
    let htu = htu.split(['?', '#']).next().unwrap_or("");
    if htu != target.url {
        return invalid(format!(
            "the DPoP proof's htu is {htu:?}; it must be {:?}",
            target.url
        ));
    }
    let Some(iat) = payload.get("iat").and_then(Value::as_i64) else {
        return invalid("the DPoP proof has no numeric iat".into());
    };
    if (iat - now).abs() > MAX_IAT_DIFFERENCE_SECONDS {
        return invalid(format!(
            "the DPoP proof's iat {iat} differs from the server's time by more than {MAX_IAT_DIFFERENCE_SECONDS} s"
        ));
    }
    let jti = claim("jti").unwrap_or("");
    if jti.is_empty() || jti.len() > MAX_JTI_LENGTH {
        return invalid(format!(
            "the DPoP proof needs a jti of 1 to {MAX_JTI_LENGTH} characters"
        ));
    }
    if let Some(access_token) = target.access_token {
        let expected = b64url(Sha256::digest(access_token.as_bytes()));
        if claim("ath") != Some(expected.as_str()) {
            return invalid(
                "the DPoP proof's ath is missing or is not the SHA-256 hash of the access token"
                    .into(),
            );
        }
    }
    match claim("nonce") {
        Some(nonce) if nonces.is_valid(nonce, now) => {}
        Some(_) => return Err(DpopError::UseNonce(
            "the DPoP proof's nonce is unknown or expired; use the nonce in the DPoP-Nonce header"
                .into(),
        )),
        None => {
            return Err(DpopError::UseNonce(
                "the DPoP proof has no nonce; use the nonce in the DPoP-Nonce header".into(),
            ))
        }
    }

    let thumbprint = jwk_thumbprint(&jwk)
        .map_err(|error| DpopError::Invalid(format!("the DPoP proof's jwk: {error}")))?;
    let fresh = store
        .put_secret_once(&Secret {
            kind: DPOP_JTI.into(),
            hash: hash_secret(&format!("{thumbprint}.{jti}")),
            subject_id: String::new(),
            expires_at: now + 2 * MAX_IAT_DIFFERENCE_SECONDS,
        })
        .await?;
    if !fresh {
        return invalid("the DPoP proof was used before (its jti is not new)".into());
    }
    Ok(thumbprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonces() -> DpopNonces {
        let keys =
            DataKeys::parse(&["k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()]).unwrap();
        DpopNonces::new(&keys)
    }

    #[test]
    fn nonce_valid_for_two_steps() {
        let nonces = nonces();
        let now = 1_796_400_000;
        let nonce = nonces.current(now);
        assert!(nonces.is_valid(&nonce, now));
        assert!(nonces.is_valid(&nonce, now + NONCE_STEP_SECONDS));
        assert!(!nonces.is_valid(&nonce, now + 2 * NONCE_STEP_SECONDS));
        assert!(!nonces.is_valid("1.AAAA", now));
        assert!(!nonces.is_valid("garbage", now));
    }
}
