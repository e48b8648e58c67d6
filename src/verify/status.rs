//! Status checks: the status references a credential carries, the status lists they point at,
//! and the status each list gives the credential.
//!
//! Checking is split from fetching, so that the checks stay free of I/O. The caller collects the
//! URIs from [`Verification::status_uris`] and obtains each list from a file, over HTTP or from a
//! cache. It parses each with [`StatusList::parse`] and hands the results to [`apply_status`].

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{check_times, vc, DecodedJws, Verification, VerifyError, VerifyOptions};
use crate::status::{bitstring, token, Purpose};

/// A credential's pointer to its entry in a status list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StatusReference {
    /// IETF Token Status List: the `status.status_list` claim `{idx, uri}`.
    TokenStatusList { uri: String, index: u64 },
    /// W3C Bitstring Status List: a `BitstringStatusListEntry` of `credentialStatus`.
    BitstringStatusList {
        uri: String,
        index: u64,
        #[serde(serialize_with = "serialize_purpose")]
        purpose: Purpose,
    },
}

fn serialize_purpose<S: serde::Serializer>(
    purpose: &Purpose,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(purpose.as_str())
}

impl StatusReference {
    /// Returns the URL of the list.
    pub fn uri(&self) -> &str {
        match self {
            StatusReference::TokenStatusList { uri, .. }
            | StatusReference::BitstringStatusList { uri, .. } => uri,
        }
    }
}

/// A status list whose signature, chain, type and times were verified, decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    /// The list's own URL: `sub` of a Status List Token, `id` of a list credential.
    pub uri: String,
    pub kind: ListKind,
    /// The decompressed entries.
    pub bytes: Vec<u8>,
    /// Seconds the list may be cached, from the token's `ttl`.
    pub ttl: Option<i64>,
}

/// The kind of a status list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// A Token Status List with entries of this many bits.
    Token { bits: u8 },
    /// A Bitstring Status List for this purpose.
    Bitstring { purpose: Purpose },
}

/// Reads the `status.status_list` claim of a JWT payload, if there is one.
pub(crate) fn token_reference(
    payload: &Map<String, Value>,
    errors: &mut Vec<VerifyError>,
) -> Option<StatusReference> {
    // A `status` claim may name other status mechanisms, which this verifier leaves alone.
    let list = payload.get("status")?.get("status_list")?;
    let index = list.get("idx").and_then(Value::as_u64);
    let uri = list.get("uri").and_then(Value::as_str);
    match (index, uri) {
        (Some(index), Some(uri)) => Some(StatusReference::TokenStatusList {
            uri: uri.to_owned(),
            index,
        }),
        _ => {
            errors.push(VerifyError::Malformed(
                "status.status_list must have a non-negative integer idx and a string uri".into(),
            ));
            None
        }
    }
}

/// Reads the `BitstringStatusListEntry` members of a credential's `credentialStatus`. Entries of
/// other types are left to other verifiers.
pub(crate) fn bitstring_references(
    credential: &Map<String, Value>,
    errors: &mut Vec<VerifyError>,
) -> Vec<StatusReference> {
    let entries = match credential.get("credentialStatus") {
        None => return Vec::new(),
        Some(Value::Array(entries)) => entries.iter().collect(),
        Some(entry) => vec![entry],
    };
    let mut references = Vec::new();
    for entry in entries {
        if entry.get("type").and_then(Value::as_str) != Some(bitstring::ENTRY_TYPE) {
            continue;
        }
        let purpose = entry
            .get("statusPurpose")
            .and_then(Value::as_str)
            .and_then(Purpose::parse);
        let index = entry
            .get("statusListIndex")
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
            .and_then(|text| text.parse().ok());
        let uri = entry.get("statusListCredential").and_then(Value::as_str);
        match (purpose, index, uri) {
            (Some(purpose), Some(index), Some(uri)) => {
                references.push(StatusReference::BitstringStatusList {
                    uri: uri.to_owned(),
                    index,
                    purpose,
                })
            }
            _ => errors.push(VerifyError::DataModel(
                "a BitstringStatusListEntry needs statusPurpose revocation or suspension, statusListIndex as a string of digits, and statusListCredential".into(),
            )),
        }
    }
    references
}

impl StatusList {
    /// Verifies and decodes a status list: a Status List Token (`statuslist+jwt`) or a
    /// Bitstring Status List credential (`vc+jwt`), signed by a trusted key and valid at the
    /// verification time. With `expected_uri`, the list must name itself by that URL.
    pub fn parse(
        text: &str,
        expected_uri: Option<&str>,
        options: &VerifyOptions,
    ) -> Result<StatusList, VerifyError> {
        let text = text.trim();
        let decoded = DecodedJws::decode(text)?;
        let list = if decoded.typ() == token::TYP {
            parse_token_list(&decoded, options)?
        } else {
            parse_bitstring_list(text, &decoded, options)?
        };
        if let Some(expected) = expected_uri {
            if list.uri != expected {
                return Err(VerifyError::StatusList(format!(
                    "the list fetched from {expected} names itself {}",
                    list.uri
                )));
            }
        }
        Ok(list)
    }

    /// Checks `reference` against this list, returning the error its status means.
    fn check(&self, reference: &StatusReference) -> Result<(), VerifyError> {
        let out_of_range = |index: u64| {
            VerifyError::StatusList(format!(
                "index {index} is past the end of the list {}",
                self.uri
            ))
        };
        match (reference, self.kind) {
            (StatusReference::TokenStatusList { index, .. }, ListKind::Token { bits }) => {
                match token::value_at(&self.bytes, bits, *index) {
                    None => Err(out_of_range(*index)),
                    Some(token::VALID) => Ok(()),
                    Some(token::INVALID) => Err(VerifyError::Revoked),
                    Some(token::SUSPENDED) => Err(VerifyError::Suspended),
                    Some(value) => Err(VerifyError::StatusValue(value)),
                }
            }
            (
                StatusReference::BitstringStatusList { index, purpose, .. },
                ListKind::Bitstring {
                    purpose: list_purpose,
                },
            ) => {
                if *purpose != list_purpose {
                    return Err(VerifyError::StatusList(format!(
                        "the entry has statusPurpose {}, but the list {} is for {}",
                        purpose.as_str(),
                        self.uri,
                        list_purpose.as_str()
                    )));
                }
                match bitstring::bit_at(&self.bytes, *index) {
                    None => Err(out_of_range(*index)),
                    Some(false) => Ok(()),
                    Some(true) if list_purpose == Purpose::Revocation => Err(VerifyError::Revoked),
                    Some(true) => Err(VerifyError::Suspended),
                }
            }
            _ => Err(VerifyError::StatusList(format!(
                "{} is not the kind of status list the credential refers to",
                self.uri
            ))),
        }
    }
}

fn parse_token_list(
    decoded: &DecodedJws<'_>,
    options: &VerifyOptions,
) -> Result<StatusList, VerifyError> {
    let mut errors = Vec::new();
    decoded.check_signature(options, &mut errors);
    check_times(&decoded.payload, options.at, &mut errors);
    if let Some(error) = errors.into_iter().next() {
        return Err(VerifyError::StatusList(format!(
            "the Status List Token is not valid: {error}"
        )));
    }
    let invalid = |detail: &str| VerifyError::StatusList(detail.to_owned());
    let uri = decoded
        .payload
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the Status List Token has no sub"))?;
    let list = decoded
        .payload
        .get("status_list")
        .ok_or_else(|| invalid("the Status List Token has no status_list"))?;
    let bits = list
        .get("bits")
        .and_then(Value::as_u64)
        .filter(|bits| [1, 2, 4, 8].contains(bits))
        .ok_or_else(|| invalid("status_list.bits must be 1, 2, 4 or 8"))? as u8;
    let lst = list
        .get("lst")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("status_list.lst is missing"))?;
    let bytes = token::decode_lst(lst).map_err(VerifyError::StatusList)?;
    Ok(StatusList {
        uri: uri.to_owned(),
        kind: ListKind::Token { bits },
        bytes,
        ttl: decoded.payload.get("ttl").and_then(Value::as_i64),
    })
}

fn parse_bitstring_list(
    text: &str,
    decoded: &DecodedJws<'_>,
    options: &VerifyOptions,
) -> Result<StatusList, VerifyError> {
    let verification = vc::verify_vc_jwt(text, options);
    // A list built after the verification time is newer news of the same entries, not a list
    // that is invalid yet.
    let first_error = verification
        .errors
        .into_iter()
        .find(|error| !matches!(error, VerifyError::NotYetValid { .. }));
    if let Some(error) = first_error {
        return Err(VerifyError::StatusList(format!(
            "the status list credential is not valid: {error}"
        )));
    }
    let invalid = |detail: &str| VerifyError::StatusList(detail.to_owned());
    let credential = &decoded.payload;
    let is_list = credential
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t == bitstring::CREDENTIAL_TYPE));
    if !is_list {
        return Err(invalid(
            "the credential's type does not include BitstringStatusListCredential",
        ));
    }
    let uri = credential
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the status list credential has no id"))?;
    let subject = credential
        .get("credentialSubject")
        .ok_or_else(|| invalid("the status list credential has no credentialSubject"))?;
    if subject.get("type").and_then(Value::as_str) != Some(bitstring::SUBJECT_TYPE) {
        return Err(invalid(
            "credentialSubject.type must be BitstringStatusList",
        ));
    }
    let purpose = subject
        .get("statusPurpose")
        .and_then(Value::as_str)
        .and_then(Purpose::parse)
        .ok_or_else(|| {
            invalid("credentialSubject.statusPurpose must be revocation or suspension")
        })?;
    let encoded = subject
        .get("encodedList")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("credentialSubject.encodedList is missing"))?;
    let bytes = bitstring::decode_list(encoded).map_err(VerifyError::StatusList)?;
    if bytes.len() * 8 < bitstring::MIN_BITS {
        return Err(VerifyError::StatusList(format!(
            "the bitstring has {} bits, fewer than the {} Bitstring Status List requires",
            bytes.len() * 8,
            bitstring::MIN_BITS
        )));
    }
    Ok(StatusList {
        uri: uri.to_owned(),
        kind: ListKind::Bitstring { purpose },
        bytes,
        ttl: None,
    })
}

/// The lists a caller obtained for a verification, by URI: the list, or why it could not be had.
pub type StatusLists = HashMap<String, Result<Arc<StatusList>, VerifyError>>;

/// Checks every status reference of `verification` against `lists` and records the outcome. A
/// reference whose list is missing from `lists` fails with `status_unavailable`.
pub fn apply_status(verification: &mut Verification, lists: &StatusLists) {
    let mut errors = Vec::new();
    for reference in &verification.status {
        let outcome = match lists.get(reference.uri()) {
            None => Err(VerifyError::StatusUnavailable {
                uri: reference.uri().to_owned(),
                detail: "the list was not fetched or given".into(),
            }),
            Some(Err(error)) => Err(error.clone()),
            Some(Ok(list)) => list.check(reference),
        };
        if let Err(error) = outcome {
            if !errors.contains(&error) {
                errors.push(error);
            }
        }
    }
    verification.status_checked = true;
    verification.errors.extend(errors);
    verification.valid = verification.errors.is_empty();
}
