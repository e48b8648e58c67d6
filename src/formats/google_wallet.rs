//! Google Wallet "save" links: a JWT signed with the agency's service account key (RS256) that
//! carries a generic class for the certificate type and a generic private pass for the
//! certificate. Google requires private passes for health and identity data. The link works
//! offline: nothing is sent to Google until the holder opens it.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::claims::Label;
use super::{rfc3339, FormatError, Issuance};
use crate::crypto::{b64url, GoogleServiceAccount};

/// The longest save JWT intyg hands out. Longer links break in some browsers and mail clients.
pub const MAX_JWT_CHARS: usize = 1_800;

/// The address a save JWT is appended to.
pub const SAVE_URL: &str = "https://pay.google.com/gp/v/save/";

/// The agency's Google Wallet account.
#[derive(Debug, Clone, Copy)]
pub struct GoogleWallet<'a> {
    pub account: &'a GoogleServiceAccount,
    /// The issuer id from the Google Pay and Wallet Console.
    pub issuer_id: &'a str,
    /// The web origins that may show the save button.
    pub origins: &'a [String],
}

/// Returns the save JWT of one certificate whose 2D code `payload` is already signed.
pub fn save_jwt(
    issuance: &Issuance<'_>,
    payload: &str,
    wallet: &GoogleWallet<'_>,
    now: OffsetDateTime,
) -> Result<String, FormatError> {
    let certificate_type = issuance.certificate_type;
    let localized = |label: &Label| {
        json!({
            "defaultValue": { "language": "sv", "value": label.sv },
            "translatedValues": [{ "language": "en", "value": label.en }],
        })
    };
    let type_name = Label {
        sv: certificate_type.display_for("sv").name.clone(),
        en: certificate_type.display_for("en").name.clone(),
    };
    let front = super::pkpass::front(issuance);
    let header = front
        .first()
        .map(|field| json!({ "defaultValue": { "language": "sv", "value": field.value } }))
        .unwrap_or_else(|| localized(&type_name));
    let text_modules: Vec<Value> = front
        .iter()
        .enumerate()
        .skip(1)
        .map(|(index, field)| {
            let label = &field.label;
            let english = if label.en.is_empty() { &label.sv } else { &label.en };
            json!({ "id": format!("f{index}"), "header": format!("{} / {english}", label.sv), "body": field.value })
        })
        .collect();
    let claims = json!({
        "iss": wallet.account.email(),
        "aud": "google",
        "typ": "savetowallet",
        "iat": now.unix_timestamp(),
        "origins": wallet.origins,
        "payload": {
            "genericClasses": [{ "id": format!("{}.{}", wallet.issuer_id, certificate_type.id) }],
            "genericPrivatePasses": [{
                "id": format!("{}.{}", wallet.issuer_id, issuance.certificate_id),
                "type": "GENERIC_PRIVATE_PASS_TYPE_UNSPECIFIED",
                "title": localized(&type_name),
                "header": header,
                "textModulesData": text_modules,
                "hexBackgroundColor": certificate_type.pass.background_color.hex(),
                "barcode": { "type": "QR_CODE", "value": payload },
                "validTimeInterval": {
                    "start": { "date": rfc3339(issuance.valid_from) },
                    "end": { "date": rfc3339(issuance.valid_until) },
                },
            }],
        },
    });
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": wallet.account.key_id() });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string()),
        b64url(claims.to_string())
    );
    let signature = wallet.account.sign_rs256(signing_input.as_bytes())?;
    let jwt = format!("{signing_input}.{}", b64url(signature));
    if jwt.len() > MAX_JWT_CHARS {
        return Err(FormatError::SaveLinkTooLong {
            size: jwt.len(),
            limit: MAX_JWT_CHARS,
        });
    }
    Ok(jwt)
}
