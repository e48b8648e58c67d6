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

use crate::crypto::{b64url, DataKeyError, DataKeys};
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

/// Returns a value that the issuer recognises later without having stored it: 128 random bits
/// and the expiry, then a MAC over both and `subject` under a key derived from the data key for
/// `purpose`. A value made for one purpose or subject does not pass as another's.
pub fn new_sealed_value(
    keys: &DataKeys,
    purpose: &str,
    subject: &str,
    expires_at: i64,
) -> Result<String, DataKeyError> {
    let mut body = [0u8; 24];
    openssl::rand::rand_bytes(&mut body[..16])
        .map_err(|error| DataKeyError::Crypto(error.to_string()))?;
    body[16..].copy_from_slice(&expires_at.to_be_bytes());
    let mac = keys.token(purpose, &mac_input(&body, subject));
    Ok(format!("{}.{mac}", b64url(body)))
}

/// Returns the expiry of a value made by [`new_sealed_value`] for `purpose` and `subject`, or
/// `None` when the value was not made here, was made for something else, or has expired.
pub fn open_sealed_value(
    keys: &DataKeys,
    purpose: &str,
    subject: &str,
    value: &str,
    now: i64,
) -> Option<i64> {
    let (body, mac) = value.split_once('.')?;
    let body: [u8; 24] = crate::crypto::b64url_decode(body).ok()?.try_into().ok()?;
    if !keys.verify_token(purpose, &mac_input(&body, subject), mac) {
        return None;
    }
    let mut expiry = [0u8; 8];
    expiry.copy_from_slice(&body[16..]);
    Some(i64::from_be_bytes(expiry)).filter(|expires_at| *expires_at > now)
}

/// Builds the MAC input of a sealed value: its body, then the subject, which has no fixed length
/// and so comes last.
fn mac_input(body: &[u8; 24], subject: &str) -> Vec<u8> {
    let mut input = Vec::with_capacity(body.len() + subject.len());
    input.extend_from_slice(body);
    input.extend_from_slice(subject.as_bytes());
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DataKeys {
        DataKeys::parse(&[DataKeys::generate_entry("k1").unwrap()]).unwrap()
    }

    #[test]
    fn sealed_value_bound_to_purpose_and_subject() {
        let keys = keys();
        let value = new_sealed_value(&keys, "c_nonce", "a", 1_000).unwrap();
        assert_eq!(
            open_sealed_value(&keys, "c_nonce", "a", &value, 999),
            Some(1_000)
        );
        assert_eq!(
            open_sealed_value(&keys, "c_nonce", "a", &value, 1_000),
            None
        );
        assert_eq!(
            open_sealed_value(&keys, "notification_id", "a", &value, 0),
            None
        );
        assert_eq!(open_sealed_value(&keys, "c_nonce", "b", &value, 0), None);
        assert_eq!(
            open_sealed_value(&self::keys(), "c_nonce", "a", &value, 0),
            None
        );
        assert_ne!(
            value,
            new_sealed_value(&keys, "c_nonce", "a", 1_000).unwrap()
        );
    }

    #[test]
    fn altered_sealed_value_rejected() {
        let keys = keys();
        let value = new_sealed_value(&keys, "c_nonce", "", 1_000).unwrap();
        let (body, mac) = value.split_once('.').unwrap();
        let mut bytes = crate::crypto::b64url_decode(body).unwrap();
        // A later expiry with the old MAC.
        bytes[23] ^= 0x80;
        let later = format!("{}.{mac}", b64url(&bytes));
        assert_eq!(open_sealed_value(&keys, "c_nonce", "", &later, 0), None);
        for broken in ["", ".", "abc", &format!("{body}."), &format!(".{mac}")] {
            assert_eq!(open_sealed_value(&keys, "c_nonce", "", broken, 0), None);
        }
    }
}
