//! Credential offers (OpenID4VCI 1.0, section 4.1) with a pre-authorized code.

use serde_json::{json, Value};

use super::{
    configuration_id, hash_secret, new_secret, PRE_AUTHORIZED_CODE, PRE_AUTHORIZED_CODE_GRANT,
};
use crate::formats::Format;
use crate::store::Secret;

/// How long a credential offer's pre-authorized code stays valid, in seconds.
pub const OFFER_LIFETIME_SECONDS: i64 = 7 * 86_400;

/// A new credential offer: the offer object, its `openid-credential-offer://` link, and the
/// pre-authorized code's stored form.
#[derive(Debug, Clone)]
pub struct CredentialOffer {
    pub offer: Value,
    pub link: String,
    pub secret: Secret,
}

/// Creates an offer for every format of the certificate's type, with a fresh pre-authorized code.
pub fn new_offer(
    credential_issuer: &str,
    certificate_id: &str,
    type_id: &str,
    now: i64,
) -> Result<CredentialOffer, openssl::error::ErrorStack> {
    let code = new_secret()?;
    let configuration_ids: Vec<String> = Format::ALL
        .into_iter()
        .map(|format| configuration_id(type_id, format))
        .collect();
    let offer = json!({
        "credential_issuer": credential_issuer,
        "credential_configuration_ids": configuration_ids,
        "grants": {
            PRE_AUTHORIZED_CODE_GRANT: { "pre-authorized_code": code }
        }
    });
    let link = format!(
        "openid-credential-offer://?credential_offer={}",
        percent_encode(&offer.to_string())
    );
    Ok(CredentialOffer {
        offer,
        link,
        secret: Secret {
            kind: PRE_AUTHORIZED_CODE.into(),
            hash: hash_secret(&code),
            subject_id: certificate_id.to_owned(),
            expires_at: now + OFFER_LIFETIME_SECONDS,
        },
    })
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
        let offer = new_offer("https://intyg.example.se", "c1", "personbevis", 0).unwrap();
        assert!(offer
            .link
            .starts_with("openid-credential-offer://?credential_offer=%7B%22credential_issuer%22"));
        assert!(!offer.link[40..].contains(['{', '"', ' ', ':']));
        let code = offer.offer["grants"][PRE_AUTHORIZED_CODE_GRANT]["pre-authorized_code"]
            .as_str()
            .unwrap();
        assert_eq!(offer.secret.hash, hash_secret(code));
        assert_eq!(
            offer.offer["credential_configuration_ids"][0],
            "personbevis.dc+sd-jwt"
        );
    }

    #[test]
    fn percent_encoding_of_reserved() {
        assert_eq!(percent_encode("a b/å~"), "a%20b%2F%C3%A5~");
    }
}
