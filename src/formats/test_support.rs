//! Fixtures for the unit tests of the formats: the development key, the shipped certificate
//! types, and claims that match them.

use std::path::Path;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::certificate::CertificateType;
use crate::crypto::IssuerKey;

/// Loads the development signing key from `keys-example/`.
pub(crate) fn development_key() -> IssuerKey {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys-example");
    IssuerKey::load(
        &keys.join("issuer-signing.key.pem"),
        &keys.join("issuer-signing.chain.pem"),
        OffsetDateTime::now_utc(),
    )
    .unwrap()
}

/// Loads the certificate type `id` from `schemas/`.
pub(crate) fn certificate_type(id: &str) -> CertificateType {
    CertificateType::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(id),
    )
    .unwrap()
}

/// Returns personbevis claims with å, ä and ö in them.
pub(crate) fn personbevis_claims() -> Map<String, Value> {
    let claims = json!({
        "given_name": "Åsa", "family_name": "Öberg", "personal_identity_number": "198112289874",
        "birthdate": "1981-12-28",
        "address": {"street_address": "Storgatan 1", "postal_code": "111 22", "locality": "Stockholm"},
        "county": {"code": "01", "name": "Stockholms län"},
        "municipality": {"code": "0180", "name": "Stockholm"},
        "extract_date": "2026-12-04"
    });
    claims.as_object().unwrap().clone()
}
