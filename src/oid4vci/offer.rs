//! Credential offers (OpenID4VCI 1.0) with a pre-authorized code and an optional
//! transaction code.
//!
//! An offer has a random id, which is the last segment of its `credential_offer_uri`. Its
//! pre-authorized code is derived from the id, so the by-reference endpoint can rebuild the offer
//! while the store keeps only hashes. Anyone with the offer link has the code anyway.

use rand::Rng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::authorization::{issuer_state, ISSUER_STATE};
use super::{configuration_id, hash_secret, new_secret, PRE_AUTHORIZED_CODE_GRANT};
use crate::crypto::b64url;
use crate::formats::Format;
use crate::store::{OfferRecord, Secret};

/// How long a credential offer's pre-authorized code stays valid, in seconds.
pub const OFFER_LIFETIME_SECONDS: i64 = 7 * 86_400;

/// Digits in a transaction code.
pub const TX_CODE_LENGTH: usize = 6;

/// Wrong transaction codes after which an offer is locked.
pub const MAX_TX_CODE_ATTEMPTS: i64 = 5;

/// The text the wallet shows the holder with the transaction code prompt (at most 300
/// characters, OpenID4VCI 1.0).
pub const TX_CODE_DESCRIPTION: &str =
    "Ange engångskoden som e-tjänsten skickade till dig i ett separat meddelande.";

/// A new credential offer with what the store keeps of it.
#[derive(Debug, Clone)]
pub struct NewOffer {
    /// The credential offer object.
    pub offer: Value,
    /// `openid-credential-offer://` link with the offer by value.
    pub link: String,
    /// `openid-credential-offer://` link with the offer by reference.
    pub reference_link: String,
    /// The offer id, the secret part of the by-reference URL.
    pub id: String,
    /// The transaction code, for the e-service to send to the holder through another channel.
    pub tx_code: Option<String>,
    /// The stored offer; storing it stores its pre-authorized code too.
    pub record: OfferRecord,
    /// The `issuer_state` of the authorization code grant, when the offer has one.
    pub issuer_state: Option<Secret>,
}

/// Creates an offer of every format of the certificate's type, with a fresh pre-authorized code,
/// a transaction code when `with_tx_code` is set, and an authorization code grant when
/// `with_authorization_code` is set.
pub fn new_offer(
    credential_issuer: &str,
    certificate_id: &str,
    type_id: &str,
    with_tx_code: bool,
    with_authorization_code: bool,
    now: i64,
) -> Result<NewOffer, openssl::error::ErrorStack> {
    let id = new_secret()?;
    let code = pre_authorized_code(&id);
    let tx_code = with_tx_code.then(new_tx_code);
    let tx_code_length = tx_code.as_ref().map(|_| TX_CODE_LENGTH as i64);
    let state = with_authorization_code.then(|| issuer_state(&id));
    let offer = offer_object(
        credential_issuer,
        type_id,
        &code,
        tx_code_length,
        state.as_deref(),
    );
    let expires_at = now + OFFER_LIFETIME_SECONDS;
    Ok(NewOffer {
        link: offer_link(&offer),
        reference_link: reference_link(&offer_uri(credential_issuer, &id)),
        record: OfferRecord {
            id_hash: hash_secret(&id),
            code_hash: hash_secret(&code),
            certificate_id: certificate_id.to_owned(),
            tx_code_hash: tx_code
                .as_deref()
                .map(|tx_code| tx_code_hash(&code, tx_code)),
            tx_code_length,
            failed_attempts: 0,
            expires_at,
        },
        issuer_state: state.map(|state| Secret {
            kind: ISSUER_STATE.into(),
            hash: hash_secret(&state),
            subject_id: certificate_id.to_owned(),
            expires_at,
        }),
        offer,
        id,
        tx_code,
    })
}

/// Builds the credential offer object for the certificate type's configurations.
pub fn offer_object(
    credential_issuer: &str,
    type_id: &str,
    code: &str,
    tx_code_length: Option<i64>,
    issuer_state: Option<&str>,
) -> Value {
    let configuration_ids: Vec<String> = Format::ALL
        .into_iter()
        .map(|format| configuration_id(type_id, format))
        .collect();
    let mut grant = json!({ "pre-authorized_code": code });
    if let Some(length) = tx_code_length {
        grant["tx_code"] = json!({
            "input_mode": "numeric",
            "length": length,
            "description": TX_CODE_DESCRIPTION,
        });
    }
    let mut grants = json!({ PRE_AUTHORIZED_CODE_GRANT: grant });
    if let Some(issuer_state) = issuer_state {
        grants["authorization_code"] = json!({ "issuer_state": issuer_state });
    }
    json!({
        "credential_issuer": credential_issuer,
        "credential_configuration_ids": configuration_ids,
        "grants": grants,
    })
}

/// Derives an offer's pre-authorized code from its id.
pub fn pre_authorized_code(offer_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"intyg pre-authorized code\0");
    hasher.update(offer_id.as_bytes());
    b64url(hasher.finalize())
}

/// Hashes a transaction code together with its pre-authorized code, so that the short code
/// cannot be found by trying every value against the stored hash without the pre-authorized
/// code, which the store does not keep.
pub fn tx_code_hash(code: &str, tx_code: &str) -> String {
    hash_secret(&format!("{code}\0{tx_code}"))
}

/// Returns the URL of an offer by reference.
pub fn offer_uri(credential_issuer: &str, offer_id: &str) -> String {
    format!("{credential_issuer}/offers/{offer_id}")
}

fn offer_link(offer: &Value) -> String {
    format!(
        "openid-credential-offer://?credential_offer={}",
        percent_encode(&offer.to_string())
    )
}

fn reference_link(uri: &str) -> String {
    format!(
        "openid-credential-offer://?credential_offer_uri={}",
        percent_encode(uri)
    )
}

fn new_tx_code() -> String {
    let mut random = rand::thread_rng();
    (0..TX_CODE_LENGTH)
        .map(|_| char::from(b'0' + random.gen_range(0..10u8)))
        .collect()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_link_carries_encoded_offer() {
        let offer = new_offer(
            "https://intyg.example.se",
            "c1",
            "personbevis",
            false,
            false,
            0,
        )
        .unwrap();
        assert!(offer
            .link
            .starts_with("openid-credential-offer://?credential_offer=%7B%22credential_issuer%22"));
        assert!(!offer.link[40..].contains(['{', '"', ' ', ':']));
        let code = offer.offer["grants"][PRE_AUTHORIZED_CODE_GRANT]["pre-authorized_code"]
            .as_str()
            .unwrap();
        assert_eq!(offer.record.code_hash, hash_secret(code));
        assert_eq!(code, pre_authorized_code(&offer.id));
        assert_eq!(
            offer.offer["credential_configuration_ids"][0],
            "personbevis.dc+sd-jwt"
        );
        assert!(offer.tx_code.is_none());
        assert!(offer.offer["grants"][PRE_AUTHORIZED_CODE_GRANT]
            .get("tx_code")
            .is_none());
    }

    #[test]
    fn offer_with_tx_code() {
        let offer = new_offer(
            "https://intyg.example.se",
            "c1",
            "personbevis",
            true,
            false,
            0,
        )
        .unwrap();
        let tx_code = offer.tx_code.clone().unwrap();
        assert_eq!(tx_code.len(), TX_CODE_LENGTH);
        assert!(tx_code.bytes().all(|byte| byte.is_ascii_digit()));
        let grant = &offer.offer["grants"][PRE_AUTHORIZED_CODE_GRANT];
        assert_eq!(grant["tx_code"]["input_mode"], "numeric");
        assert_eq!(grant["tx_code"]["length"], TX_CODE_LENGTH);
        assert!(TX_CODE_DESCRIPTION.chars().count() <= 300);
        let code = grant["pre-authorized_code"].as_str().unwrap();
        assert_eq!(
            offer.record.tx_code_hash,
            Some(tx_code_hash(code, &tx_code))
        );
        assert!(!offer.offer.to_string().contains(&format!("\"{tx_code}\"")));
    }

    #[test]
    fn reference_link_encodes_uri() {
        let offer = new_offer(
            "https://intyg.example.se",
            "c1",
            "personbevis",
            false,
            false,
            0,
        )
        .unwrap();
        assert_eq!(
            offer.reference_link,
            format!(
                "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fintyg.example.se%2Foffers%2F{}",
                offer.id
            )
        );
    }

    #[test]
    fn percent_encoding_of_reserved() {
        assert_eq!(percent_encode("a b/å~"), "a%20b%2F%C3%A5~");
    }
}
