//! Encryption of personal data at rest: AES-256-GCM with a 96-bit random nonce, under a data key
//! from the configuration. The key id is stored beside the ciphertext, so keys can rotate: new data
//! is sealed with the first (active) key, and data sealed with any configured key can be opened.

use std::collections::HashMap;

use openssl::rand::rand_bytes;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

use super::{b64_std, b64_std_decode};

/// AES-256-GCM ciphertext (with the 16-byte tag appended) and the id of the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedData {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// A data key that cannot be parsed, or data that cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum DataKeyError {
    #[error("no data key is configured; set data_keys (INTYG_DATA_KEYS) to ID:BASE64 entries of 32-byte keys")]
    NoKeys,
    #[error("data key entry {index} is invalid: {reason}; the form is ID:BASE64 with a 32-byte key (openssl rand -base64 32)")]
    Invalid { index: usize, reason: String },
    #[error(
        "the data was sealed with the key {0:?}, which is not configured; add it to data_keys"
    )]
    UnknownKey(String),
    #[error("cannot open the sealed data: it was altered or sealed for another record")]
    Tampered,
    #[error("encryption failed in the crypto library: {0}")]
    Crypto(String),
}

const TAG_LENGTH: usize = 16;
const NONCE_LENGTH: usize = 12;

/// The configured data keys; the first one seals new data.
#[derive(Clone)]
pub struct DataKeys {
    active_id: String,
    keys: HashMap<String, [u8; 32]>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys")
            .field("active_id", &self.active_id)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl DataKeys {
    /// Parses `ID:BASE64` entries; the first is the active key.
    pub fn parse(entries: &[String]) -> Result<Self, DataKeyError> {
        let mut keys = HashMap::new();
        let mut active_id = None;
        for (index, entry) in entries.iter().enumerate() {
            let invalid = |reason: &str| DataKeyError::Invalid {
                index,
                reason: reason.to_owned(),
            };
            let (id, encoded) = entry
                .trim()
                .split_once(':')
                .ok_or_else(|| invalid("no ':' between id and key"))?;
            if id.is_empty() {
                return Err(invalid("the id is empty"));
            }
            let bytes =
                b64_std_decode(encoded.trim()).map_err(|_| invalid("the key is not base64"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| invalid("the key is not 32 bytes"))?;
            if keys.insert(id.to_owned(), key).is_some() {
                return Err(invalid("the id is used twice"));
            }
            active_id.get_or_insert_with(|| id.to_owned());
        }
        let active_id = active_id.ok_or(DataKeyError::NoKeys)?;
        Ok(Self { active_id, keys })
    }

    /// Returns a new random key entry in the `ID:BASE64` form.
    pub fn generate_entry(id: &str) -> Result<String, DataKeyError> {
        let mut key = [0u8; 32];
        rand_bytes(&mut key).map_err(|error| DataKeyError::Crypto(error.to_string()))?;
        Ok(format!("{id}:{}", b64_std(key)))
    }

    /// Derives 32 bytes for `purpose` from the active key: SHA-256 of the purpose and the key.
    /// Every node configured with the same data keys derives the same bytes.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(purpose.as_bytes());
        hasher.update([0u8]);
        if let Some(key) = self.keys.get(&self.active_id) {
            hasher.update(key);
        }
        hasher.finalize().into()
    }

    /// Encrypts `plaintext` with the active key. `context` (such as the record id) is
    /// authenticated, so the ciphertext cannot be moved to another record.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<SealedData, DataKeyError> {
        let crypto = |error: openssl::error::ErrorStack| DataKeyError::Crypto(error.to_string());
        let key = &self.keys[&self.active_id];
        let mut nonce = vec![0u8; NONCE_LENGTH];
        rand_bytes(&mut nonce).map_err(crypto)?;
        let mut tag = [0u8; TAG_LENGTH];
        let mut ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            key,
            Some(&nonce),
            context,
            plaintext,
            &mut tag,
        )
        .map_err(crypto)?;
        ciphertext.extend_from_slice(&tag);
        Ok(SealedData {
            key_id: self.active_id.clone(),
            nonce,
            ciphertext,
        })
    }

    /// Decrypts data sealed by [`DataKeys::seal`] with the same `context`.
    pub fn open(&self, sealed: &SealedData, context: &[u8]) -> Result<Vec<u8>, DataKeyError> {
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| DataKeyError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.ciphertext.len() < TAG_LENGTH || sealed.nonce.len() != NONCE_LENGTH {
            return Err(DataKeyError::Tampered);
        }
        let (ciphertext, tag) = sealed
            .ciphertext
            .split_at(sealed.ciphertext.len() - TAG_LENGTH);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            key,
            Some(&sealed.nonce),
            context,
            ciphertext,
            tag,
        )
        .map_err(|_| DataKeyError::Tampered)
    }

    /// Returns a token that authenticates `message` for `purpose`, such as a pass serial number
    /// for the PassKit web service: HMAC-SHA256 under a key derived from the active data key for
    /// that purpose, base64url. Nothing is stored, and tokens made with any configured key verify,
    /// so a key rotation keeps them working.
    pub fn token(&self, purpose: &str, message: &[u8]) -> String {
        let key = &self.keys[&self.active_id];
        super::b64url(hmac_for(key, purpose, message))
    }

    /// Checks a token made by [`DataKeys::token`] with any configured key, in constant time.
    pub fn verify_token(&self, purpose: &str, message: &[u8], token: &str) -> bool {
        let Ok(presented) = super::b64url_decode(token) else {
            return false;
        };
        self.keys.values().any(|key| {
            let expected = hmac_for(key, purpose, message);
            expected.len() == presented.len() && openssl::memcmp::eq(&expected, &presented)
        })
    }
}

/// HMAC-SHA256 of `message` under HMAC-SHA256(`key`, `purpose`), so each purpose has a key of
/// its own.
fn hmac_for(key: &[u8; 32], purpose: &str, message: &[u8]) -> [u8; 32] {
    hmac_sha256(&hmac_sha256(key, purpose.as_bytes()), message)
}

/// HMAC-SHA256 (RFC 2104). The pure Rust implementation gives the same bytes as OpenSSL's for a
/// small fraction of the set-up cost that OpenSSL pays per key.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    // HMAC takes keys of any length (RFC 2104 hashes a key longer than the block), and the hmac
    // crate's `new_from_slice` accepts every length, so creating the MAC cannot fail.
    #[allow(clippy::expect_used)]
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts any key");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_across_rotation_and_purpose() {
        let old = DataKeys::generate_entry("old").unwrap();
        let new = DataKeys::generate_entry("new").unwrap();
        let before = DataKeys::parse(std::slice::from_ref(&old)).unwrap();
        let token = before.token("pass", b"serial-1");
        assert!(before.verify_token("pass", b"serial-1", &token));
        assert!(!before.verify_token("pass", b"serial-2", &token));
        assert!(!before.verify_token("download", b"serial-1", &token));
        assert!(!before.verify_token("pass", b"serial-1", "not base64!"));
        let rotated = DataKeys::parse(&[new, old]).unwrap();
        assert!(rotated.verify_token("pass", b"serial-1", &token));
        assert_ne!(rotated.token("pass", b"serial-1"), token);
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac.iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn keys(entries: &[&str]) -> DataKeys {
        DataKeys::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn seal_and_open_round_trip() {
        let keys = keys(&[&DataKeys::generate_entry("k1").unwrap()]);
        let sealed = keys
            .seal(b"{\"given_name\":\"\xc3\x85sa\"}", b"record-1")
            .unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert_eq!(
            keys.open(&sealed, b"record-1").unwrap(),
            b"{\"given_name\":\"\xc3\x85sa\"}"
        );
    }

    #[test]
    fn other_record_context_rejected() {
        let keys = keys(&[&DataKeys::generate_entry("k1").unwrap()]);
        let sealed = keys.seal(b"secret", b"record-1").unwrap();
        assert!(matches!(
            keys.open(&sealed, b"record-2"),
            Err(DataKeyError::Tampered)
        ));
    }

    #[test]
    fn rotated_key_still_opens_old_data() {
        let old = DataKeys::generate_entry("2025").unwrap();
        let sealed = keys(&[&old]).seal(b"secret", b"r").unwrap();
        let rotated = keys(&[&DataKeys::generate_entry("2026").unwrap(), &old]);
        assert_eq!(rotated.open(&sealed, b"r").unwrap(), b"secret");
        assert_eq!(rotated.seal(b"new", b"r").unwrap().key_id, "2026");
    }

    #[test]
    fn invalid_entries_rejected() {
        for entry in ["nokey", ":AAAA", "k:not base64!", "k:AAAA"] {
            let error = DataKeys::parse(&[entry.to_owned()]).unwrap_err();
            assert!(error.to_string().contains("entry 0"), "{entry}: {error}");
        }
        assert!(matches!(DataKeys::parse(&[]), Err(DataKeyError::NoKeys)));
    }
}
