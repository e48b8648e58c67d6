//! Signing keys, X.509 chains and JWKs.
//!
//! Credentials, status lists and metadata are signed with ES256 (P-256) and carry the signing
//! certificate's chain in `x5c`, as HAIP requires. The [`Signer`] trait is the seam where a key held
//! in an HSM can replace the software key.

mod chain;
mod data_key;
mod generate;
mod jwk;
mod keys;
mod wallet_keys;

pub use chain::{verify_chain, verify_chain_window, ChainCache, ChainError, VerifiedChain};
pub use data_key::{DataKeyError, DataKeys, SealedData};
pub use generate::{generate_development_set, GenerateError};
pub use jwk::{
    ec_public_jwk, holder_key, jwk_thumbprint, parse_holder_jwk, public_key_from_jwk, JwkError,
};
pub use keys::{IssuerKey, KeyError, RetiredKey};
pub use wallet_keys::{GoogleServiceAccount, PassSigningKey, WalletKeyError};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openssl::x509::X509;
use time::OffsetDateTime;

use keys::asn1_to_offset;

/// A key that signs JWS signing inputs.
pub trait Signer: Send + Sync {
    /// Returns the JWS `alg` value, such as `ES256`.
    fn algorithm(&self) -> &'static str;
    /// Returns the `kid` under which the public key is published in the JWKS.
    fn key_id(&self) -> &str;
    /// Returns the certificate chain, leaf first, as base64 DER for the `x5c` header.
    fn x5c(&self) -> &[String];
    /// Signs `message` and returns the JWS signature bytes (`r || s` for ECDSA).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;

    /// Returns the validity period (not before, not after) of the signing certificate, the
    /// first entry of [`Signer::x5c`]. This default parses the certificate on every call, which
    /// took about 0.1 ms with OpenSSL 3 in the HCERT benchmark, so a key that keeps its
    /// certificate parsed overrides it.
    fn certificate_validity(&self) -> Result<(OffsetDateTime, OffsetDateTime), SignError> {
        let failed = |detail: String| SignError(format!("the signing certificate: {detail}"));
        let leaf = self
            .x5c()
            .first()
            .ok_or_else(|| failed("missing from the chain".into()))?;
        let der = b64_std_decode(leaf).map_err(|error| failed(error.to_string()))?;
        let certificate = X509::from_der(&der).map_err(|error| failed(error.to_string()))?;
        let not_before =
            asn1_to_offset(certificate.not_before()).map_err(|error| failed(error.to_string()))?;
        let not_after =
            asn1_to_offset(certificate.not_after()).map_err(|error| failed(error.to_string()))?;
        Ok((not_before, not_after))
    }
}

/// A signing operation that failed inside the crypto library.
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// Encodes `bytes` as unpadded base64url, the encoding of every JOSE member.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

/// Encodes DER as standard base64 with padding, the `x5c` encoding (RFC 7515, section 4.1.6).
pub fn b64_std(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64 with padding.
pub fn b64_std_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD.decode(text)
}
