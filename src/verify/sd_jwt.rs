use std::collections::HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::jws::signature_matches_jwk;
use super::status::token_reference;
use super::{check_times, collect_metadata, DecodedJws, Verification, VerifyError, VerifyOptions};
use crate::crypto::{b64url, b64url_decode};
use crate::formats::sd_jwt_vc::{disclosure_digest, RESERVED_CLAIMS, TYP};
use crate::formats::Format;

/// The JOSE `typ` of a key binding JWT (RFC 9901, section 4.3).
const KB_JWT_TYP: &str = "kb+jwt";

/// A decoded disclosure and whether a digest in the payload has claimed it.
struct Disclosure {
    index: usize,
    members: Vec<Value>,
    used: bool,
}

/// Verifies an SD-JWT VC, `<jws>~<disclosure>~...~[<kb-jwt>]`.
pub(super) fn verify(input: &str, options: &VerifyOptions) -> Verification {
    let parts: Vec<&str> = input.split('~').collect();
    let Some((&issuer_jwt, rest)) = parts.split_first() else {
        return Verification::failed(
            Some(Format::SdJwtVc),
            VerifyError::Malformed("empty input".into()),
        );
    };
    // The last part is empty when there is no key binding JWT, because the serialization then ends with '~'.
    let (disclosure_parts, key_binding) = match rest.split_last() {
        Some((&"", disclosures)) => (disclosures, None),
        Some((&kb_jwt, disclosures)) => (disclosures, Some(kb_jwt)),
        None => (rest, None),
    };

    let decoded = match DecodedJws::decode(issuer_jwt) {
        Ok(decoded) => decoded,
        Err(error) => return Verification::failed(Some(Format::SdJwtVc), error),
    };
    let mut errors = Vec::new();
    decoded.check_typ(TYP, &mut errors);
    decoded.check_signature(options, &mut errors);
    check_times(&decoded.payload, options.at, &mut errors);
    match decoded.payload.get("_sd_alg").map(Value::as_str) {
        None | Some(Some("sha-256")) => {}
        Some(other) => errors.push(VerifyError::UnsupportedDigest(
            other.unwrap_or("").to_owned(),
        )),
    }

    let mut disclosures: HashMap<String, Disclosure> =
        HashMap::with_capacity(disclosure_parts.len());
    for (index, encoded) in disclosure_parts.iter().enumerate() {
        let members = match decode_disclosure(encoded) {
            Ok(members) => members,
            Err(detail) => {
                errors.push(VerifyError::DisclosureMalformed { index, detail });
                continue;
            }
        };
        let digest = disclosure_digest(encoded);
        if disclosures
            .insert(
                digest,
                Disclosure {
                    index,
                    members,
                    used: false,
                },
            )
            .is_some()
        {
            errors.push(VerifyError::DisclosureDuplicate { index });
        }
    }

    let mut payload = Value::Object(decoded.payload.clone());
    restore(&mut payload, &mut disclosures, &mut errors);
    let mut unused: Vec<usize> = disclosures
        .values()
        .filter(|d| !d.used)
        .map(|d| d.index)
        .collect();
    unused.sort_unstable();
    for index in unused {
        errors.push(VerifyError::DisclosureNotReferenced { index });
    }

    let Value::Object(mut payload) = payload else {
        return Verification::failed(
            Some(Format::SdJwtVc),
            VerifyError::Malformed("payload".into()),
        );
    };
    let mut metadata = collect_metadata(&payload);
    if let Some(kb_jwt) = key_binding {
        let presented = &input[..input.len() - kb_jwt.len()];
        match check_key_binding(kb_jwt, presented, &payload) {
            Ok(binding) => {
                metadata.insert("key_binding".into(), Value::Object(binding));
            }
            Err(detail) => errors.push(VerifyError::KeyBinding(detail)),
        }
    }
    let status = token_reference(&payload, &mut errors).into_iter().collect();
    for name in RESERVED_CLAIMS {
        payload.remove(name);
    }

    Verification {
        valid: errors.is_empty(),
        format: Some(Format::SdJwtVc),
        claims: Value::Object(payload),
        metadata,
        errors,
        status,
        status_checked: false,
    }
}

fn decode_disclosure(encoded: &str) -> Result<Vec<Value>, String> {
    let bytes = b64url_decode(encoded).map_err(|error| format!("not base64url: {error}"))?;
    let members: Vec<Value> =
        serde_json::from_slice(&bytes).map_err(|error| format!("not a JSON array: {error}"))?;
    match members.len() {
        2 | 3 if members[0].is_string() => {}
        _ => return Err("a disclosure is [salt, name, value] or [salt, value]".into()),
    }
    if members.len() == 3 {
        match members[1].as_str() {
            Some("_sd" | "...") | None => {
                return Err("the claim name must be a string other than _sd and ...".into())
            }
            Some(_) => {}
        }
    }
    Ok(members)
}

/// Replaces `_sd` digests and `{"...": digest}` array elements in `value` with the disclosed
/// claims, recursively, as RFC 9901 section 7.1 describes. Digests without a disclosure are decoys
/// or undisclosed claims and are dropped.
fn restore(
    value: &mut Value,
    disclosures: &mut HashMap<String, Disclosure>,
    errors: &mut Vec<VerifyError>,
) {
    match value {
        Value::Object(object) => {
            if let Some(digests) = object.remove("_sd") {
                let Value::Array(digests) = digests else {
                    errors.push(VerifyError::Malformed("_sd is not an array".into()));
                    return;
                };
                for digest in digests {
                    let Some(digest) = digest.as_str() else {
                        errors.push(VerifyError::Malformed(
                            "an _sd entry is not a string".into(),
                        ));
                        continue;
                    };
                    let Some(disclosure) = claim_disclosure(digest, disclosures, errors) else {
                        continue;
                    };
                    let Some(name) = disclosure.members[1].as_str().map(str::to_owned) else {
                        continue;
                    };
                    let mut claim = disclosure.members[2].clone();
                    restore(&mut claim, disclosures, errors);
                    if object.insert(name.clone(), claim).is_some() {
                        errors.push(VerifyError::Malformed(format!(
                            "the disclosed claim {name:?} is also in the payload"
                        )));
                    }
                }
            }
            for member in object.values_mut() {
                restore(member, disclosures, errors);
            }
        }
        Value::Array(elements) => {
            let mut restored = Vec::with_capacity(elements.len());
            for mut element in std::mem::take(elements) {
                let reference = element
                    .as_object()
                    .filter(|object| object.len() == 1)
                    .and_then(|object| object.get("..."))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                match reference {
                    Some(digest) => {
                        if let Some(disclosure) = claim_disclosure(&digest, disclosures, errors) {
                            if disclosure.members.len() == 2 {
                                let mut claim = disclosure.members[1].clone();
                                restore(&mut claim, disclosures, errors);
                                restored.push(claim);
                            } else {
                                errors.push(VerifyError::DisclosureMalformed {
                                    index: disclosure.index,
                                    detail: "an array element disclosure has two members".into(),
                                });
                            }
                        }
                    }
                    None => {
                        restore(&mut element, disclosures, errors);
                        restored.push(element);
                    }
                }
            }
            *elements = restored;
        }
        _ => {}
    }
}

/// Marks the disclosure for `digest` as used and returns it; a second use is an error.
fn claim_disclosure<'d>(
    digest: &str,
    disclosures: &'d mut HashMap<String, Disclosure>,
    errors: &mut Vec<VerifyError>,
) -> Option<&'d Disclosure> {
    let disclosure = disclosures.get_mut(digest)?;
    if disclosure.used {
        errors.push(VerifyError::DisclosureDuplicate {
            index: disclosure.index,
        });
        return None;
    }
    disclosure.used = true;
    Some(disclosure)
}

/// Checks a key binding JWT: `typ`, signature by the `cnf.jwk` key, `iat`, and `sd_hash` over the
/// presented SD-JWT (RFC 9901, section 4.3). Returns its `aud`, `nonce` and `iat` for the caller.
fn check_key_binding(
    kb_jwt: &str,
    presented: &str,
    payload: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let decoded = DecodedJws::decode(kb_jwt).map_err(|error| error.to_string())?;
    if decoded.typ() != KB_JWT_TYP {
        return Err(format!(
            "typ is {:?}, expected {KB_JWT_TYP:?}",
            decoded.typ()
        ));
    }
    let holder_jwk = payload
        .get("cnf")
        .and_then(|cnf| cnf.get("jwk"))
        .and_then(Value::as_object)
        .ok_or("the credential has no cnf.jwk to check it against")?;
    if decoded.header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err("alg must be ES256".into());
    }
    if !signature_matches_jwk(
        holder_jwk,
        decoded.signing_input.as_bytes(),
        &decoded.signature,
    ) {
        return Err("the signature does not match the holder key in cnf.jwk".into());
    }
    let expected_hash = b64url(Sha256::digest(presented.as_bytes()));
    if decoded.payload.get("sd_hash").and_then(Value::as_str) != Some(expected_hash.as_str()) {
        return Err("sd_hash does not match the presented SD-JWT".into());
    }
    if !decoded.payload.get("iat").is_some_and(Value::is_i64) {
        return Err("iat is missing".into());
    }
    let mut binding = Map::new();
    for name in ["aud", "nonce", "iat"] {
        if let Some(value) = decoded.payload.get(name) {
            binding.insert(name.into(), value.clone());
        }
    }
    Ok(binding)
}
