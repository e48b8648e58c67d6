//! Google Wallet "save" links: a JWT signed with the agency's service account key (RS256) that
//! carries a generic class for the certificate type and a generic private pass for the
//! certificate. Google requires the private pass type where a pass contains health or identity data. The link works
//! offline: nothing is sent to Google until the holder opens it.
//!
//! A link must stay under 1,800 characters, and a whole certificate's 2D code with the RSA
//! signature around it does not fit. So the pass's barcode is a compact 2D code of intyg's own
//! form (`INTYG1:`) that signs only the claims on the front of the pass, the ones a verifier
//! compares with the holder's identity document. The complete 2D code is in the PDF and the
//! Apple Wallet pass.

use serde_json::json;
use time::OffsetDateTime;

use super::{hcert, rfc3339, FormatError, Issuance};
use crate::crypto::{b64url, GoogleServiceAccount, Signer};

/// The maximum length of a save JWT, so that the link stays short enough to pass through browsers
/// and mail clients whole.
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

/// Returns the save JWT of one certificate, with a compact 2D code signed by `signer`.
pub fn save_jwt(
    issuance: &Issuance<'_>,
    signer: &dyn Signer,
    wallet: &GoogleWallet<'_>,
    now: OffsetDateTime,
) -> Result<String, FormatError> {
    let certificate_type = issuance.certificate_type;
    let display = &certificate_type.pass;
    let front_claims = super::pkpass::claims_at(
        issuance.claims,
        display.primary.iter().chain(&display.secondary),
    );
    let compact = Issuance {
        claims: &front_claims,
        ..issuance.clone()
    };
    let payload = hcert::issue_own(&compact, signer)?;
    let title = json!({
        "defaultValue": { "language": "sv", "value": certificate_type.display_for("sv").name },
        "translatedValues": [{ "language": "en", "value": certificate_type.display_for("en").name }],
    });
    // The header is the primary fields' values, such as the holder's name; the type's name
    // when there are none.
    let primary: Vec<String> = super::pkpass::front(issuance)
        .into_iter()
        .filter(|field| field.is_primary())
        .map(|field| field.value)
        .collect();
    let header = if primary.is_empty() {
        title.clone()
    } else {
        json!({ "defaultValue": { "language": "sv", "value": primary.join(" ") } })
    };
    // Every member counts against the length limit, so the pass holds only what the holder
    // needs to recognise it and the verifier needs to check it.
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
                "title": title,
                "header": header,
                "barcode": { "type": "QR_CODE", "value": payload },
                "validTimeInterval": { "end": { "date": rfc3339(issuance.valid_until) } },
            }],
        },
    });
    // No kid: Google finds the key by the service account in iss, and the limit is tight.
    let header = json!({ "alg": "RS256", "typ": "JWT" });
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
