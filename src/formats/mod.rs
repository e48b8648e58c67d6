//! Output formats. Each is a pure function: certificate data and a signing key in, bytes out.

pub mod base45;
pub(crate) mod claims;
pub mod google_wallet;
pub mod hcert;
pub mod jws;
pub mod pdf;
pub mod pkpass;
pub mod sd_jwt_vc;
#[cfg(test)]
mod test_support;
pub mod vc_jwt;

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::certificate::CertificateType;
use crate::crypto::{SignError, Signer};
use crate::status::StatusClaim;

/// A credential format that intyg issues, named by its OpenID4VCI 1.0 format identifier, or for
/// the 2D code, which OpenID4VCI does not define, by `hcert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Format {
    /// IETF SD-JWT VC (`dc+sd-jwt`).
    #[serde(rename = "dc+sd-jwt")]
    SdJwtVc,
    /// W3C VC Data Model 2.0 secured with JOSE (`vc+jwt`, VC-JOSE-COSE).
    #[serde(rename = "vc+jwt")]
    VcJwt,
    /// W3C VC Data Model 1.1 in a JWT `vc` claim (`jwt_vc_json`).
    #[serde(rename = "jwt_vc_json")]
    JwtVcJson,
    /// The signed 2D code payload: HCERT (`HC1:`) for a DCC, intyg's own code (`INTYG1:`) otherwise.
    #[serde(rename = "hcert")]
    Hcert,
}

impl Format {
    /// The credential formats a wallet can be offered through OpenID4VCI. [`Format::Hcert`] is
    /// not one of them, because the 2D code reaches the holder printed in the PDF.
    pub const ALL: [Format; 3] = [Format::SdJwtVc, Format::VcJwt, Format::JwtVcJson];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::SdJwtVc => "dc+sd-jwt",
            Format::VcJwt => "vc+jwt",
            Format::JwtVcJson => "jwt_vc_json",
            Format::Hcert => "hcert",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .chain([Format::Hcert])
            .find(|format| format.as_str() == text)
            .ok_or_else(|| {
                format!("unknown format {text:?}; use dc+sd-jwt, vc+jwt, jwt_vc_json or hcert")
            })
    }
}

/// Everything a format needs to issue one credential.
#[derive(Debug, Clone)]
pub struct Issuance<'a> {
    pub certificate_type: &'a CertificateType,
    /// The certificate's claims, already validated against the type's schema.
    pub claims: &'a Map<String, Value>,
    /// The credential issuer identifier: the public URL, with no trailing slash.
    pub issuer: &'a str,
    /// The certificate id, used as the credential's `id`/`jti` (`urn:uuid:...`).
    pub certificate_id: &'a str,
    pub issued_at: OffsetDateTime,
    pub valid_from: OffsetDateTime,
    pub valid_until: OffsetDateTime,
    /// The holder's public JWK; when present the credential is bound to it with `cnf.jwk`.
    pub holder_jwk: Option<&'a Map<String, Value>>,
    /// Where the certificate's status is published. SD-JWT VC and `jwt_vc_json` carry it as the
    /// Token Status List `status` claim, `vc+jwt` as Bitstring Status List entries in
    /// `credentialStatus`; the 2D code has no status member.
    pub status: Option<&'a StatusClaim>,
}

/// Failure to issue a credential.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("the claim {0:?} is reserved by the credential format; rename it in the certificate type's schema")]
    ReservedClaim(String),
    #[error("cannot encode the credential: {0}")]
    Encode(String),
    #[error("the 2D code payload has {size} characters, more than the {limit} that fit the largest QR code intyg prints; shorten the claims or leave out optional ones")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("the Google Wallet save link has {size} characters, more than the {limit} that links carry reliably; shorten the claims shown on the front of the pass (pass.primary, pass.secondary and pass.auxiliary in type.json)")]
    SaveLinkTooLong { size: usize, limit: usize },
    #[error("the certificate is issued at {issued_at} and valid until {valid_until}, but its signing certificate is valid only from {not_before} to {not_after}, and HCERT forbids a 2D code outside that period; shorten the validity (--validity-days) or sign with a certificate that covers it")]
    OutsideSigningCertificate {
        issued_at: String,
        valid_until: String,
        not_before: String,
        not_after: String,
    },
}

/// Issues one credential in `format`.
pub fn issue(
    format: Format,
    issuance: &Issuance<'_>,
    signer: &dyn Signer,
) -> Result<String, FormatError> {
    match format {
        Format::SdJwtVc => sd_jwt_vc::issue(issuance, signer),
        Format::VcJwt => vc_jwt::issue_vc_jwt(issuance, signer),
        Format::JwtVcJson => vc_jwt::issue_jwt_vc_json(issuance, signer),
        Format::Hcert => hcert::issue(issuance, signer),
    }
}

/// Formats `time` as an RFC 3339 date-time in UTC with seconds, such as `2026-12-04T10:00:00Z`.
pub fn rfc3339(time: OffsetDateTime) -> String {
    let time = time.to_offset(time::UtcOffset::UTC);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    // The description above has only numeric components, which format for any year 0..=9999.
    time.format(&format).unwrap_or_else(|_| time.to_string())
}
