//! SD-JWT VC (`dc+sd-jwt`): an issuer-signed JWT whose disclosable claims are replaced by digests
//! of salted disclosures (RFC 9901), with the SD-JWT VC claims `vct`, `iss`, `iat`, `nbf`, `exp`
//! and `cnf`.

use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{jws, FormatError, Issuance};
use crate::certificate::CertificateType;
use crate::crypto::{b64url, Signer};
use crate::status::token;

/// The JOSE `typ` of an SD-JWT VC (SD-JWT VC draft, section 3.2.1).
pub const TYP: &str = "dc+sd-jwt";

/// Payload members the format itself sets; a certificate claim may not use these names.
pub const RESERVED_CLAIMS: [&str; 11] = [
    "iss",
    "sub",
    "iat",
    "nbf",
    "exp",
    "vct",
    "vct#integrity",
    "cnf",
    "status",
    "_sd",
    "_sd_alg",
];

/// Issues an SD-JWT VC and returns it in compact form, `<jws>~<disclosure>~...~`.
pub fn issue(issuance: &Issuance<'_>, signer: &dyn Signer) -> Result<String, FormatError> {
    let mut disclosures = Vec::new();
    let mut path = Vec::new();
    let concealed = conceal_object(
        issuance.claims,
        issuance.certificate_type,
        &mut path,
        &mut disclosures,
    )?;

    let mut payload = Map::new();
    payload.insert("iss".into(), Value::from(issuance.issuer));
    payload.insert(
        "iat".into(),
        Value::from(issuance.issued_at.unix_timestamp()),
    );
    payload.insert(
        "nbf".into(),
        Value::from(issuance.valid_from.unix_timestamp()),
    );
    payload.insert(
        "exp".into(),
        Value::from(issuance.valid_until.unix_timestamp()),
    );
    payload.insert(
        "vct".into(),
        Value::from(issuance.certificate_type.vct.as_str()),
    );
    for (name, value) in concealed {
        if RESERVED_CLAIMS.contains(&name.as_str()) && name != "_sd" {
            return Err(FormatError::ReservedClaim(name));
        }
        payload.insert(name, value);
    }
    payload.insert("_sd_alg".into(), Value::from("sha-256"));
    if let Some(status) = issuance.status {
        payload.insert(
            "status".into(),
            token::status_claim(status.index, &status.token_list_uri),
        );
    }
    if let Some(holder_jwk) = issuance.holder_jwk {
        let mut cnf = Map::new();
        cnf.insert("jwk".into(), Value::Object(holder_jwk.clone()));
        payload.insert("cnf".into(), Value::Object(cnf));
    }

    let payload =
        serde_json::to_vec(&payload).map_err(|error| FormatError::Encode(error.to_string()))?;
    let token = jws::sign_compact(&jws::header(TYP, signer), &payload, signer)?;

    let mut compact = String::with_capacity(
        token.len() + disclosures.iter().map(|d| d.len() + 1).sum::<usize>() + 1,
    );
    compact.push_str(&token);
    compact.push('~');
    for disclosure in &disclosures {
        compact.push_str(disclosure);
        compact.push('~');
    }
    Ok(compact)
}

/// Returns the base64url SHA-256 digest of a disclosure, as `_sd` and `...` entries carry it.
pub fn disclosure_digest(disclosure: &str) -> String {
    b64url(Sha256::digest(disclosure.as_bytes()))
}

/// Replaces the disclosable members of `object` (per the type's claim rules) with digests in `_sd`.
fn conceal_object<'a>(
    object: &'a Map<String, Value>,
    certificate_type: &CertificateType,
    path: &mut Vec<Option<&'a str>>,
    disclosures: &mut Vec<String>,
) -> Result<Map<String, Value>, FormatError> {
    let mut output = Map::new();
    let mut digests = Vec::new();
    for (name, value) in object {
        if name == "_sd" || name == "..." {
            return Err(FormatError::ReservedClaim(name.clone()));
        }
        path.push(Some(name.as_str()));
        let value = conceal_value(value, certificate_type, path, disclosures)?;
        if certificate_type.is_disclosable(path) {
            let disclosure =
                encode_disclosure(&[Value::from(new_salt()), Value::from(name.as_str()), value])?;
            digests.push(disclosure_digest(&disclosure));
            disclosures.push(disclosure);
        } else {
            output.insert(name.clone(), value);
        }
        path.pop();
    }
    if !digests.is_empty() {
        // Sorted so the order of the digests reveals nothing about the order of the claims
        // (RFC 9901, section 4.2.4.1).
        digests.sort_unstable();
        output.insert("_sd".into(), Value::from(digests));
    }
    Ok(output)
}

fn conceal_value<'a>(
    value: &'a Value,
    certificate_type: &CertificateType,
    path: &mut Vec<Option<&'a str>>,
    disclosures: &mut Vec<String>,
) -> Result<Value, FormatError> {
    match value {
        Value::Object(object) => Ok(Value::Object(conceal_object(
            object,
            certificate_type,
            path,
            disclosures,
        )?)),
        Value::Array(elements) => {
            path.push(None);
            let mut output = Vec::with_capacity(elements.len());
            for element in elements {
                let element = conceal_value(element, certificate_type, path, disclosures)?;
                if certificate_type.is_disclosable(path) {
                    let disclosure = encode_disclosure(&[Value::from(new_salt()), element])?;
                    let mut reference = Map::new();
                    reference.insert("...".into(), Value::from(disclosure_digest(&disclosure)));
                    output.push(Value::Object(reference));
                    disclosures.push(disclosure);
                } else {
                    output.push(element);
                }
            }
            path.pop();
            Ok(Value::Array(output))
        }
        scalar => Ok(scalar.clone()),
    }
}

/// Encodes a disclosure: base64url of the UTF-8 JSON array `[salt, name, value]` or `[salt, value]`.
fn encode_disclosure(members: &[Value]) -> Result<String, FormatError> {
    let json =
        serde_json::to_vec(members).map_err(|error| FormatError::Encode(error.to_string()))?;
    Ok(b64url(json))
}

/// Returns a salt of 128 random bits, the minimum RFC 9901 (section 9.3) recommends.
fn new_salt() -> String {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    b64url(salt)
}
