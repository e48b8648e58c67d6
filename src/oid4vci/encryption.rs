//! Encrypted credential requests and responses (OpenID4VCI 1.0): JWE
//! with ECDH-ES key agreement and A128GCM or A256GCM content encryption.
//!
//! A wallet that requests an encrypted response sends its public key in the request, so 1.0
//! requires that request to be encrypted too, to the key the issuer publishes in
//! `credential_request_encryption`.

use josekit::jwe::{self, JweHeader, ECDH_ES};
use josekit::jwk::Jwk;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use serde_json::{Map, Value};

use super::metadata::ENCRYPTION_ENC_VALUES;
use crate::crypto::{ec_public_jwk, jwk_thumbprint, DataKeys};

/// Failure to decrypt a request or to encrypt a response.
#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    #[error("{0}")]
    InvalidParameters(String),
    #[error("the request cannot be decrypted: {0}")]
    Decrypt(String),
    #[error("the response cannot be encrypted: {0}")]
    Encrypt(String),
    #[error("the request encryption key cannot be derived: {0}")]
    Key(String),
}

/// The issuer's ECDH-ES key for encrypted credential requests. It is derived from the active data
/// key, so every node configured with the same data keys has the same key.
pub struct RequestDecryptionKey {
    private_der: Vec<u8>,
    public_jwk: Map<String, Value>,
}

impl std::fmt::Debug for RequestDecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestDecryptionKey")
            .field("kid", &self.public_jwk.get("kid"))
            .finish_non_exhaustive()
    }
}

impl RequestDecryptionKey {
    /// Derives the P-256 key from the data keys.
    pub fn derive(data_keys: &DataKeys) -> Result<Self, EncryptionError> {
        let failed = |error: openssl::error::ErrorStack| EncryptionError::Key(error.to_string());
        let seed = data_keys.derive("intyg OpenID4VCI credential request encryption key");
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(failed)?;
        let mut context = BigNumContext::new().map_err(failed)?;
        let mut order = BigNum::new().map_err(failed)?;
        group.order(&mut order, &mut context).map_err(failed)?;
        // d = seed mod (n - 1) + 1 lies in [1, n - 1], the valid range of a private scalar.
        let mut order_less_one = BigNum::new().map_err(failed)?;
        order_less_one
            .checked_sub(&order, BigNum::from_u32(1).map_err(failed)?.as_ref())
            .map_err(failed)?;
        let seed = BigNum::from_slice(&seed).map_err(failed)?;
        let mut scalar = BigNum::new().map_err(failed)?;
        scalar
            .nnmod(&seed, &order_less_one, &mut context)
            .map_err(failed)?;
        scalar.add_word(1).map_err(failed)?;
        let mut point = EcPoint::new(&group).map_err(failed)?;
        point
            .mul_generator2(&group, &scalar, &mut context)
            .map_err(failed)?;
        let key = EcKey::from_private_components(&group, &scalar, &point).map_err(failed)?;
        let private_der = key.private_key_to_der().map_err(failed)?;
        let public = EcKey::from_public_key(&group, &point).map_err(failed)?;
        let public = PKey::from_ec_key(public).map_err(failed)?;
        let mut public_jwk =
            ec_public_jwk(&public).map_err(|error| EncryptionError::Key(error.to_string()))?;
        let kid =
            jwk_thumbprint(&public_jwk).map_err(|error| EncryptionError::Key(error.to_string()))?;
        public_jwk.insert("use".into(), Value::from("enc"));
        public_jwk.insert("alg".into(), Value::from("ECDH-ES"));
        public_jwk.insert("kid".into(), Value::from(kid));
        Ok(Self {
            private_der,
            public_jwk,
        })
    }

    /// Returns the public JWK, with `kid`, `use` and `alg`, as the metadata publishes it.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        &self.public_jwk
    }

    /// Decrypts a compact JWE credential request and returns its JSON payload.
    pub fn decrypt(&self, compact: &str) -> Result<Vec<u8>, EncryptionError> {
        let header = decode_protected_header(compact)?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg != "ECDH-ES" {
            return Err(EncryptionError::InvalidParameters(format!(
                "the request JWE has alg {alg:?}; use ECDH-ES"
            )));
        }
        let enc = header.get("enc").and_then(Value::as_str).unwrap_or("");
        if !ENCRYPTION_ENC_VALUES.contains(&enc) {
            return Err(EncryptionError::InvalidParameters(format!(
                "the request JWE has enc {enc:?}; use A128GCM or A256GCM"
            )));
        }
        if let Some(kid) = header.get("kid").and_then(Value::as_str) {
            if Some(kid) != self.public_jwk.get("kid").and_then(Value::as_str) {
                return Err(EncryptionError::InvalidParameters(format!(
                    "the request JWE names the key {kid:?}, which is not the issuer's current request encryption key; fetch the metadata again"
                )));
            }
        }
        if header.contains_key("zip") {
            return Err(EncryptionError::InvalidParameters(
                "the request JWE is compressed (zip), which the issuer does not support".into(),
            ));
        }
        let decrypter = ECDH_ES
            .decrypter_from_der(&self.private_der)
            .map_err(|error| EncryptionError::Decrypt(error.to_string()))?;
        let (payload, _) = jwe::deserialize_compact(compact, &decrypter)
            .map_err(|error| EncryptionError::Decrypt(error.to_string()))?;
        Ok(payload)
    }
}

/// The wallet's `credential_response_encryption` request parameter, checked.
#[derive(Debug, Clone)]
pub struct ResponseEncryption {
    jwk: Map<String, Value>,
    enc: String,
}

impl ResponseEncryption {
    /// Checks the parameter: a public EC P-256 `jwk` with `alg` ECDH-ES and an `enc` the issuer
    /// supports.
    pub fn parse(value: &Value) -> Result<Self, EncryptionError> {
        let invalid = |detail: &str| EncryptionError::InvalidParameters(detail.to_owned());
        let object = value
            .as_object()
            .ok_or_else(|| invalid("credential_response_encryption must be an object"))?;
        let jwk = object
            .get("jwk")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("credential_response_encryption.jwk is missing"))?;
        let alg = jwk.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg != "ECDH-ES" {
            return Err(EncryptionError::InvalidParameters(format!(
                "credential_response_encryption.jwk.alg is {alg:?}; use ECDH-ES"
            )));
        }
        crate::crypto::parse_holder_jwk(&Value::Object(jwk.clone())).map_err(|error| {
            EncryptionError::InvalidParameters(format!(
                "credential_response_encryption.jwk: {error}"
            ))
        })?;
        let enc = object.get("enc").and_then(Value::as_str).unwrap_or("");
        if !ENCRYPTION_ENC_VALUES.contains(&enc) {
            return Err(EncryptionError::InvalidParameters(format!(
                "credential_response_encryption.enc is {enc:?}; use A128GCM or A256GCM"
            )));
        }
        if object.contains_key("zip") {
            return Err(invalid(
                "credential_response_encryption.zip is not supported; leave it out",
            ));
        }
        Ok(Self {
            jwk: jwk.clone(),
            enc: enc.to_owned(),
        })
    }

    /// Encrypts a JSON response body to the wallet's key.
    pub fn encrypt(&self, payload: &[u8]) -> Result<String, EncryptionError> {
        let failed = |error: josekit::JoseError| EncryptionError::Encrypt(error.to_string());
        let jwk = Jwk::from_map(self.jwk.clone()).map_err(failed)?;
        let encrypter = ECDH_ES.encrypter_from_jwk(&jwk).map_err(failed)?;
        let mut header = JweHeader::new();
        header.set_content_encryption(self.enc.as_str());
        if let Some(kid) = self.jwk.get("kid").and_then(Value::as_str) {
            header.set_key_id(kid);
        }
        jwe::serialize_compact(payload, &header, &encrypter).map_err(failed)
    }
}

fn decode_protected_header(compact: &str) -> Result<Map<String, Value>, EncryptionError> {
    let invalid = |detail: String| EncryptionError::InvalidParameters(detail);
    if compact.split('.').count() != 5 {
        return Err(invalid(
            "an encrypted credential request is a compact JWE of five parts".into(),
        ));
    }
    let header = compact.split('.').next().unwrap_or("");
    let bytes = crate::crypto::b64url_decode(header)
        .map_err(|error| invalid(format!("the JWE header is not base64url: {error}")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(header)) => Ok(header),
        _ => Err(invalid("the JWE header is not a JSON object".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_keys() -> DataKeys {
        DataKeys::parse(&["k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()]).unwrap()
    }

    #[test]
    fn request_key_is_deterministic() {
        let first = RequestDecryptionKey::derive(&data_keys()).unwrap();
        let second = RequestDecryptionKey::derive(&data_keys()).unwrap();
        assert_eq!(first.public_jwk(), second.public_jwk());
    }

    #[test]
    fn request_round_trip() {
        let key = RequestDecryptionKey::derive(&data_keys()).unwrap();
        let jwk = Jwk::from_map(key.public_jwk().clone()).unwrap();
        let encrypter = ECDH_ES.encrypter_from_jwk(&jwk).unwrap();
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        let compact = jwe::serialize_compact(br#"{"a":1}"#, &header, &encrypter).unwrap();
        assert_eq!(key.decrypt(&compact).unwrap(), br#"{"a":1}"#);
    }

    #[test]
    fn response_encryption_rejects_other_enc() {
        let key = RequestDecryptionKey::derive(&data_keys()).unwrap();
        let mut jwk = key.public_jwk().clone();
        jwk.remove("use");
        let error =
            ResponseEncryption::parse(&serde_json::json!({ "jwk": jwk, "enc": "A128CBC-HS256" }))
                .unwrap_err();
        assert!(error.to_string().contains("A128CBC-HS256"), "{error}");
    }
}
