//! OpenID for Verifiable Credential Issuance 1.0: issuer metadata, credential offers, the token
//! endpoint's pre-authorized code grant, nonces, key proofs, DPoP, the credential and deferred
//! credential endpoints, and encrypted requests and responses.

pub mod authorization;
pub mod credential;
pub mod dpop;
pub mod encryption;
pub mod metadata;
pub mod nonce;
pub mod offer;
pub mod proof;
pub mod qr;
pub mod token;
pub mod upstream;

use sha2::{Digest, Sha256};

use crate::crypto::b64url;
use crate::formats::Format;

/// The grant type of the pre-authorized code flow (OpenID4VCI 1.0).
pub const PRE_AUTHORIZED_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

/// Secret kind of the pre-authorized codes in the store.
pub const PRE_AUTHORIZED_CODE: &str = "pre-authorized_code";

/// Returns the credential configuration id of a certificate type in a format, such as
/// `personbevis.dc+sd-jwt`.
pub fn configuration_id(type_id: &str, format: Format) -> String {
    format!("{type_id}.{}", format.as_str())
}

/// Returns 256 random bits, base64url: the form of every code and token intyg hands out.
pub fn new_secret() -> Result<String, openssl::error::ErrorStack> {
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(b64url(bytes))
}

/// Returns the stored form of a code or token: SHA-256, base64url.
pub fn hash_secret(secret: &str) -> String {
    b64url(Sha256::digest(secret.as_bytes()))
}
