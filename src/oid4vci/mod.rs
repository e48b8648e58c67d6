//! OpenID for Verifiable Credential Issuance 1.0: credential offers and the token endpoint's
//! pre-authorized code grant.

pub mod offer;
pub mod token;

use sha2::{Digest, Sha256};

use crate::crypto::b64url;
use crate::formats::Format;

/// The grant type of the pre-authorized code flow (OpenID4VCI 1.0, section 4.1.1).
pub const PRE_AUTHORIZED_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

/// Secret kinds in the store.
pub const PRE_AUTHORIZED_CODE: &str = "pre-authorized_code";
pub const ACCESS_TOKEN: &str = "access_token";

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
