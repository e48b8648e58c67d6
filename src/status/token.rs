//! The IETF Token Status List (draft-ietf-oauth-status-list): a JWT of `typ` `statuslist+jwt`
//! whose `status_list.lst` is the base64url of the ZLIB-compressed (RFC 1950) byte array of the
//! statuses, [`BITS`] bits each, the status of index 0 in the least significant bits of byte 0.

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::{json, Map, Value};

use crate::crypto::{b64url, b64url_decode, Signer};
use crate::formats::{jws, FormatError};
use crate::store::Status;

/// The JOSE `typ` of a Status List Token.
pub const TYP: &str = "statuslist+jwt";
/// The media type a Status List Token is served as.
pub const MEDIA_TYPE: &str = "application/statuslist+jwt";
/// Bits an entry: two, so an entry is valid, invalid (revoked) or suspended.
pub const BITS: u8 = 2;

/// The status value of a valid certificate.
pub const VALID: u8 = 0x00;
/// The status value of a revoked certificate (`INVALID` in the draft).
pub const INVALID: u8 = 0x01;
/// The status value of a suspended certificate.
pub const SUSPENDED: u8 = 0x02;

/// The largest byte array a decoder accepts after decompression (64 MiB, 268 million two-bit
/// entries), so a compressed list cannot exhaust memory.
const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// Returns the status value of a certificate status.
pub fn value_of(status: Status) -> u8 {
    match status {
        // No credential of a pending certificate exists before its approval, which makes it
        // active without changing its bits.
        Status::Active | Status::Pending => VALID,
        Status::Revoked => INVALID,
        Status::Suspended => SUSPENDED,
    }
}

/// Packs `size` entries of [`BITS`] bits, all valid except those in `entries` (index, value).
/// Indices at or past `size` are ignored.
pub fn pack(size: u32, entries: impl IntoIterator<Item = (u32, u8)>) -> Vec<u8> {
    let per_byte = 8 / u32::from(BITS);
    let mut bytes = vec![0u8; size.div_ceil(per_byte) as usize];
    let mask = (1u8 << BITS) - 1;
    for (index, value) in entries {
        if index >= size {
            continue;
        }
        let shift = (index % per_byte) * u32::from(BITS);
        let byte = &mut bytes[(index / per_byte) as usize];
        *byte = (*byte & !(mask << shift)) | ((value & mask) << shift);
    }
    bytes
}

/// Returns the value of entry `index` in a byte array of `bits`-bit entries, or `None` when the
/// index is past the end.
pub fn value_at(bytes: &[u8], bits: u8, index: u64) -> Option<u8> {
    let per_byte = 8 / u64::from(bits);
    let byte = *bytes.get(usize::try_from(index / per_byte).ok()?)?;
    let shift = (index % per_byte) * u64::from(bits);
    let mask = ((1u16 << bits) - 1) as u8;
    Some((byte >> shift) & mask)
}

/// Compresses the byte array with ZLIB at the best compression level and returns `lst`.
pub fn encode_lst(bytes: &[u8]) -> Result<String, FormatError> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(bytes.len() / 8), Compression::best());
    encoder
        .write_all(bytes)
        .map_err(|error| FormatError::Encode(format!("status list: {error}")))?;
    let compressed = encoder
        .finish()
        .map_err(|error| FormatError::Encode(format!("status list: {error}")))?;
    Ok(b64url(compressed))
}

/// Decodes `lst` back to the byte array.
pub fn decode_lst(lst: &str) -> Result<Vec<u8>, String> {
    let compressed =
        b64url_decode(lst).map_err(|error| format!("lst is not base64url: {error}"))?;
    let mut bytes = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("lst is not ZLIB data: {error}"))?;
    if bytes.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(format!(
            "lst decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes"
        ));
    }
    Ok(bytes)
}

/// The times of a signed list, in Unix seconds.
#[derive(Debug, Clone, Copy)]
pub struct ListTimes {
    pub issued_at: i64,
    pub expires_at: i64,
    pub ttl: i64,
}

/// Signs a Status List Token for `uri` (its `sub`) over the packed byte array.
pub fn sign(
    uri: &str,
    bytes: &[u8],
    times: ListTimes,
    signer: &dyn Signer,
) -> Result<String, FormatError> {
    let payload = json!({
        "sub": uri,
        "iat": times.issued_at,
        "exp": times.expires_at,
        "ttl": times.ttl,
        "status_list": { "bits": BITS, "lst": encode_lst(bytes)? },
    });
    let payload =
        serde_json::to_vec(&payload).map_err(|error| FormatError::Encode(error.to_string()))?;
    Ok(jws::sign_compact(
        &jws::header(TYP, signer),
        &payload,
        signer,
    )?)
}

/// Returns the `status` claim a JWT credential carries to point at entry `index` of `uri`.
pub fn status_claim(index: u32, uri: &str) -> Value {
    let mut reference = Map::new();
    reference.insert("idx".into(), Value::from(index));
    reference.insert("uri".into(), Value::from(uri));
    json!({ "status_list": reference })
}
