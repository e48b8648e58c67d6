//! Verification of everything intyg issues: the format is detected, then the signature and
//! certificate chain, `typ`, validity times and (for SD-JWT VC) every disclosure are checked.

pub mod data_model;
mod error;
mod fetch;
mod hcert;
pub(crate) mod jws;
mod sd_jwt;
pub mod status;
mod vc;

pub use error::VerifyError;
pub use fetch::StatusListFetcher;
pub use hcert::{cbor_to_json, DecodedHcert};
pub use jws::DecodedJws;
pub use status::{apply_status, StatusList, StatusReference};

use std::sync::Arc;

use openssl::x509::X509;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::crypto::ChainCache;
use crate::formats::Format;

/// Trust anchors and verification time of a verifier.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Certificates accepted as trust anchors: roots, intermediates or signing certificates.
    pub anchors: Vec<X509>,
    /// The time at which validity is checked.
    pub at: OffsetDateTime,
    /// Chains that verified against `anchors`, shared by the clones of these options.
    pub chains: Arc<ChainCache>,
}

impl VerifyOptions {
    pub fn new(anchors: Vec<X509>, at: OffsetDateTime) -> Self {
        Self {
            anchors,
            at,
            chains: Arc::default(),
        }
    }

    /// Returns these options at another verification time, sharing the chain cache.
    pub fn with_at(&self, at: OffsetDateTime) -> Self {
        Self {
            anchors: self.anchors.clone(),
            at,
            chains: Arc::clone(&self.chains),
        }
    }
}

/// The outcome of verifying one credential.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    pub valid: bool,
    /// The detected format; `None` when the input matches none.
    pub format: Option<Format>,
    /// The certificate's claims as issued, with every disclosed claim restored.
    pub claims: Value,
    /// Issuer, type, times and holder key, when they could be read.
    pub metadata: Map<String, Value>,
    pub errors: Vec<VerifyError>,
    /// The status list entries the credential points at.
    #[serde(skip)]
    pub status: Vec<StatusReference>,
    /// True once [`apply_status`] has checked the entries.
    #[serde(skip)]
    pub status_checked: bool,
}

impl Verification {
    fn failed(format: Option<Format>, error: VerifyError) -> Self {
        Self {
            valid: false,
            format,
            claims: Value::Null,
            metadata: Map::new(),
            errors: vec![error],
            status: Vec::new(),
            status_checked: false,
        }
    }

    /// Returns the URLs of the status lists to check, each once. It is empty when the signature
    /// or its chain failed, so that nothing is fetched on the word of an untrusted credential.
    pub fn status_uris(&self) -> Vec<String> {
        let mut uris: Vec<String> = Vec::new();
        if self.signature_trusted() {
            for reference in &self.status {
                if !uris.iter().any(|uri| uri == reference.uri()) {
                    uris.push(reference.uri().to_owned());
                }
            }
        }
        uris
    }

    /// Returns whether the signature and chain passed, so the credential's status is worth
    /// looking up.
    pub fn signature_trusted(&self) -> bool {
        !self.errors.iter().any(|error| {
            matches!(
                error,
                VerifyError::UnknownFormat
                    | VerifyError::Malformed(_)
                    | VerifyError::UnsupportedAlgorithm(_)
                    | VerifyError::NoKey(_)
                    | VerifyError::UnknownKid(_)
                    | VerifyError::SignatureInvalid
                    | VerifyError::SignerNotValid { .. }
                    | VerifyError::UntrustedChain(_)
            )
        })
    }
}

/// The outcome of one check of a verification, as the verify API reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `format`, `signature`, `chain`, `typ`, `times`, `disclosures`, `key_binding`,
    /// `data_model` or `status`.
    pub name: &'static str,
    pub ok: bool,
    /// The failure, or a description of what was checked.
    pub detail: String,
}

impl Verification {
    /// Returns every check that applies to the credential's format, each failed one with the
    /// messages of its errors.
    pub fn checks(&self) -> Vec<Check> {
        let mut names: Vec<&'static str> = vec!["format"];
        match self.format {
            None => {}
            Some(Format::Hcert) => names.extend(["signature", "chain", "times"]),
            Some(Format::SdJwtVc) => {
                names.extend(["signature", "chain", "typ", "times", "disclosures"]);
                if self.metadata.contains_key("key_binding")
                    || self.errors.iter().any(|e| e.check() == "key_binding")
                {
                    names.push("key_binding");
                }
            }
            Some(Format::VcJwt | Format::JwtVcJson) => {
                names.extend(["signature", "chain", "typ", "times", "data_model"]);
            }
        }
        // A 2D code always gets a status entry, so a verifier can tell when its status was not
        // checked, because the code points at no status list.
        if !self.status.is_empty()
            || self.status_checked
            || self.format == Some(Format::Hcert)
            || self.errors.iter().any(|e| e.check() == "status")
        {
            names.push("status");
        }
        for error in &self.errors {
            if !names.contains(&error.check()) {
                names.push(error.check());
            }
        }
        names
            .into_iter()
            .map(|name| {
                let failures: Vec<String> = self
                    .errors
                    .iter()
                    .filter(|error| error.check() == name)
                    .map(ToString::to_string)
                    .collect();
                let detail = if !failures.is_empty() {
                    failures.join("; ")
                } else if name == "status" && !self.status_checked {
                    if self.format == Some(Format::Hcert) {
                        "not checked: a 2D code points at no status list, and the verifier has no record of its certificate".to_owned()
                    } else {
                        "not checked".to_owned()
                    }
                } else {
                    passed_detail(name, self)
                };
                Check {
                    name,
                    ok: failures.is_empty() && (name != "status" || self.status_checked),
                    detail,
                }
            })
            .collect()
    }
}

fn passed_detail(name: &str, verification: &Verification) -> String {
    match name {
        "format" => format!(
            "detected {}",
            verification.format.map_or("nothing", Format::as_str)
        ),
        "signature" => "the ES256 signature matches".into(),
        "chain" => "the signing certificate leads to a trust anchor".into(),
        "typ" => "the typ header is the format's".into(),
        "times" => "valid at the verification time".into(),
        "disclosures" => "every disclosure matches a digest".into(),
        "key_binding" => {
            "the key binding JWT is signed by the holder key and its sd_hash matches".into()
        }
        "data_model" => "the credential follows the data model".into(),
        "status" => {
            let uris: Vec<&str> = verification
                .status
                .iter()
                .map(StatusReference::uri)
                .collect();
            if uris.is_empty() {
                "active in the issuer's records".to_owned()
            } else {
                format!("valid in {}", uris.join(", "))
            }
        }
        _ => "passed".into(),
    }
}

/// Detects the format of `input` and verifies it.
pub fn verify(input: &str, options: &VerifyOptions) -> Verification {
    let input = input.trim();
    match detect_format(input) {
        Ok(Format::SdJwtVc) => sd_jwt::verify(input, options),
        Ok(Format::VcJwt) => vc::verify_vc_jwt(input, options),
        Ok(Format::JwtVcJson) => vc::verify_jwt_vc_json(input, options),
        Ok(Format::Hcert) => hcert::verify(input, options),
        Err(error) => Verification::failed(None, error),
    }
}

/// Tells the format from the serialization: an `HC1:` or `INTYG1:` prefix means a 2D code, `~`
/// separators mean SD-JWT, otherwise the JWS `typ` decides, and for any other `typ` the payload
/// (a `vc` claim, or a VCDM 2.0 `@context`).
pub fn detect_format(input: &str) -> Result<Format, VerifyError> {
    // Checked first, because the Base45 alphabet contains '.', which would look like JWS parts.
    if hcert::has_prefix(input) {
        return Ok(Format::Hcert);
    }
    if input.contains('~') {
        return Ok(Format::SdJwtVc);
    }
    if input.split('.').count() != 3 {
        return Err(VerifyError::UnknownFormat);
    }
    let decoded = DecodedJws::decode(input)?;
    match decoded.header.get("typ").and_then(Value::as_str) {
        Some(crate::formats::sd_jwt_vc::TYP) => Ok(Format::SdJwtVc),
        Some(crate::formats::vc_jwt::VC_JWT_TYP) => Ok(Format::VcJwt),
        _ if decoded.payload.contains_key("vc") => Ok(Format::JwtVcJson),
        // A VCDM 2.0 credential under another typ is still checked as vc+jwt, so that the
        // report names the wrong typ rather than an unknown format.
        _ if decoded.payload.contains_key("@context") => Ok(Format::VcJwt),
        _ => Err(VerifyError::UnknownFormat),
    }
}

/// Checks `exp` and `nbf` (NumericDate seconds) of a JWT payload against `at`.
fn check_times(payload: &Map<String, Value>, at: OffsetDateTime, errors: &mut Vec<VerifyError>) {
    let now = at.unix_timestamp();
    match payload.get("exp").map(Value::as_i64) {
        Some(Some(exp)) if exp <= now => errors.push(VerifyError::Expired { exp, at: now }),
        Some(None) => errors.push(VerifyError::Malformed("exp is not a NumericDate".into())),
        _ => {}
    }
    match payload.get("nbf").map(Value::as_i64) {
        Some(Some(nbf)) if nbf > now => errors.push(VerifyError::NotYetValid { nbf, at: now }),
        Some(None) => errors.push(VerifyError::Malformed("nbf is not a NumericDate".into())),
        _ => {}
    }
}

/// Copies issuer, times and holder key from a JWT payload into the metadata of a verification.
fn collect_metadata(payload: &Map<String, Value>) -> Map<String, Value> {
    let mut metadata = Map::new();
    for (name, label) in [
        ("iss", "issuer"),
        ("vct", "vct"),
        ("iat", "issued_at"),
        ("nbf", "valid_from"),
        ("exp", "valid_until"),
        ("cnf", "cnf"),
        ("status", "status"),
    ] {
        if let Some(value) = payload.get(name) {
            let value = match value.as_i64() {
                Some(seconds) if name != "cnf" => OffsetDateTime::from_unix_timestamp(seconds)
                    .map(|time| Value::from(crate::formats::rfc3339(time)))
                    .unwrap_or_else(|_| value.clone()),
                _ => value.clone(),
            };
            metadata.insert(label.into(), value);
        }
    }
    metadata
}

#[cfg(test)]
mod tests;
