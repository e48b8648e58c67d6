//! W3C Bitstring Status List 1.0: a list credential whose `encodedList` is the multibase
//! base64url (prefix `u`, no padding) of the GZIP-compressed bitstring, one bit an entry, index 0
//! in the most significant bit of byte 0 (section 3.1). intyg signs the credential as `vc+jwt`.

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use super::Purpose;
use crate::crypto::{b64url, b64url_decode, Signer};
use crate::formats::vc_jwt::{VCDM2_CONTEXT, VC_JWT_TYP};
use crate::formats::{jws, rfc3339, FormatError};

/// The minimum size of a bitstring in bits: 16 KiB (section 3.1, for herd privacy).
pub const MIN_BITS: usize = 131_072;
/// The media type of the list credential, a VCDM 2.0 credential secured as JOSE.
pub const MEDIA_TYPE: &str = "application/vc+jwt";
/// The `type` of a credential's status entry.
pub const ENTRY_TYPE: &str = "BitstringStatusListEntry";
/// The `type` of the list credential, beside `VerifiableCredential`.
pub const CREDENTIAL_TYPE: &str = "BitstringStatusListCredential";
/// The `type` of the list credential's subject.
pub const SUBJECT_TYPE: &str = "BitstringStatusList";

/// The largest bitstring a decoder accepts after decompression (16 MiB).
const MAX_DECOMPRESSED_BYTES: u64 = 16 * 1024 * 1024;

/// Packs `size` bits, set at `indices`; indices at or past `size` are ignored.
pub fn pack(size: u32, indices: impl IntoIterator<Item = u32>) -> Vec<u8> {
    let mut bytes = vec![0u8; size.div_ceil(8) as usize];
    for index in indices {
        if index < size {
            bytes[(index / 8) as usize] |= 0x80 >> (index % 8);
        }
    }
    bytes
}

/// Returns bit `index`, or `None` when the index is past the end.
pub fn bit_at(bytes: &[u8], index: u64) -> Option<bool> {
    let byte = *bytes.get(usize::try_from(index / 8).ok()?)?;
    Some(byte & (0x80 >> (index % 8)) != 0)
}

/// Returns the `encodedList`: `u` and the base64url of the GZIP of `bytes` at the best level.
pub fn encode_list(bytes: &[u8]) -> Result<String, FormatError> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 8), Compression::best());
    encoder
        .write_all(bytes)
        .map_err(|error| FormatError::Encode(format!("bitstring: {error}")))?;
    let compressed = encoder
        .finish()
        .map_err(|error| FormatError::Encode(format!("bitstring: {error}")))?;
    Ok(format!("u{}", b64url(compressed)))
}

/// Decodes an `encodedList` back to the bitstring.
pub fn decode_list(encoded: &str) -> Result<Vec<u8>, String> {
    let base64 = encoded
        .strip_prefix('u')
        .ok_or("encodedList must start with the multibase prefix u (base64url)")?;
    let compressed =
        b64url_decode(base64).map_err(|error| format!("encodedList is not base64url: {error}"))?;
    let mut bytes = Vec::new();
    GzDecoder::new(compressed.as_slice())
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("encodedList is not GZIP data: {error}"))?;
    if bytes.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(format!(
            "encodedList decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes"
        ));
    }
    Ok(bytes)
}

/// The list credential to sign: its URL, issuer, purpose and validity.
#[derive(Debug, Clone)]
pub struct ListCredential<'a> {
    pub uri: &'a str,
    pub issuer: &'a str,
    pub purpose: Purpose,
    pub valid_from: time::OffsetDateTime,
    pub valid_until: time::OffsetDateTime,
}

/// Signs the Bitstring Status List credential over `bytes` as `vc+jwt`.
pub fn sign(
    list: &ListCredential<'_>,
    bytes: &[u8],
    signer: &dyn Signer,
) -> Result<String, FormatError> {
    let payload = json!({
        "@context": [VCDM2_CONTEXT],
        "id": list.uri,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": list.issuer,
        "validFrom": rfc3339(list.valid_from),
        "validUntil": rfc3339(list.valid_until),
        "credentialSubject": {
            "id": format!("{}#list", list.uri),
            "type": SUBJECT_TYPE,
            "statusPurpose": list.purpose.as_str(),
            "encodedList": encode_list(bytes)?,
        },
        "iss": list.issuer,
        "iat": list.valid_from.unix_timestamp(),
        "nbf": list.valid_from.unix_timestamp(),
        "exp": list.valid_until.unix_timestamp(),
    });
    let mut header = jws::header(VC_JWT_TYP, signer);
    header.insert("cty".into(), Value::from("vc"));
    let payload =
        serde_json::to_vec(&payload).map_err(|error| FormatError::Encode(error.to_string()))?;
    Ok(jws::sign_compact(&header, &payload, signer)?)
}

/// Returns a credential's `BitstringStatusListEntry` for entry `index` of the list at `uri`.
pub fn status_entry(index: u32, uri: &str, purpose: Purpose) -> Value {
    json!({
        "id": format!("{uri}#{index}"),
        "type": ENTRY_TYPE,
        "statusPurpose": purpose.as_str(),
        "statusListIndex": index.to_string(),
        "statusListCredential": uri,
    })
}
