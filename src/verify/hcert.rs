//! Verification of the signed 2D code: HCERT (`HC1:`) and intyg's own code (`INTYG1:`).
//!
//! The payload is unwrapped layer by layer (prefix, Base45, zlib, COSE_Sign1, CWT claims). The
//! signer is the trust anchor whose HCERT kid matches the COSE kid. HCERT kids are short enough to
//! collide, so every matching anchor is tried. The anchor must be valid at the checked time, and
//! the CWT's expiry (`4`) and issued-at (`6`) are checked against that time too.

use std::io::Read;

use ciborium::Value as Cbor;
use coset::{
    iana, CborSerializable, CoseSign1, RegisteredLabelWithPrivate, TaggedCborSerializable,
};
use flate2::read::ZlibDecoder;
use openssl::asn1::Asn1Time;
use openssl::x509::X509;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::jws::signature_matches;
use super::{Verification, VerifyError, VerifyOptions};
use crate::crypto::b64_std;
use crate::formats::hcert::{self, claim, DCC_PREFIX, INTYG_PREFIX};
use crate::formats::{base45, rfc3339, Format};

/// The maximum size of a decompressed payload. A QR code contains at most 2953 bytes, and claims
/// compress far less than the 22:1 that would exceed this, so only a decompression bomb reaches it.
const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024;

/// The first byte of a CBOR item with tag 18, the COSE_Sign1 tag (RFC 9052) that HCERT payloads
/// carry.
const COSE_SIGN1_TAG_BYTE: u8 = 0xd2;

/// Returns whether `input` starts with the prefix of an HCERT or of intyg's own 2D code.
pub(super) fn has_prefix(input: &str) -> bool {
    input.starts_with(DCC_PREFIX) || input.starts_with(INTYG_PREFIX)
}

/// A 2D code payload unwrapped down to its CWT claims, with its signature not yet checked.
#[derive(Debug, Clone)]
pub struct DecodedHcert {
    /// True for an HCERT (`HC1:`) carrying a DCC, false for intyg's own code (`INTYG1:`).
    pub is_dcc: bool,
    /// The Base45-decoded bytes: the zlib stream.
    pub compressed: Vec<u8>,
    /// The decompressed bytes: the COSE_Sign1 structure.
    pub cose: Vec<u8>,
    pub sign1: CoseSign1,
    /// The CWT claims map, the COSE payload decoded.
    pub claims: Vec<(Cbor, Cbor)>,
}

impl DecodedHcert {
    /// Unwraps a payload: prefix, Base45, zlib, COSE_Sign1 (tagged or not), CBOR claims map.
    pub fn decode(input: &str) -> Result<Self, VerifyError> {
        let malformed = |detail: String| VerifyError::Malformed(detail);
        let (is_dcc, text) = if let Some(text) = input.strip_prefix(DCC_PREFIX) {
            (true, text)
        } else if let Some(text) = input.strip_prefix(INTYG_PREFIX) {
            (false, text)
        } else {
            return Err(malformed(format!(
                "a 2D code payload starts with {DCC_PREFIX} or {INTYG_PREFIX}"
            )));
        };

        let compressed =
            base45::decode(text).map_err(|error| malformed(format!("Base45: {error}")))?;
        let mut cose = Vec::with_capacity(compressed.len() * 2);
        ZlibDecoder::new(compressed.as_slice())
            .take(MAX_DECOMPRESSED_BYTES + 1)
            .read_to_end(&mut cose)
            .map_err(|error| malformed(format!("zlib: {error}")))?;
        if cose.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err(malformed(format!(
                "zlib: the payload decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes"
            )));
        }

        let sign1 = if cose.first() == Some(&COSE_SIGN1_TAG_BYTE) {
            CoseSign1::from_tagged_slice(&cose)
        } else {
            CoseSign1::from_slice(&cose)
        }
        .map_err(|error| malformed(format!("COSE_Sign1: {error}")))?;
        let Some(payload) = sign1.payload.as_deref() else {
            return Err(malformed("COSE_Sign1: the payload is missing".into()));
        };
        let claims = match ciborium::from_reader::<Cbor, _>(payload) {
            Ok(Cbor::Map(claims)) => claims,
            Ok(_) => return Err(malformed("CWT: the claims are not a CBOR map".into())),
            Err(error) => return Err(malformed(format!("CWT: {error}"))),
        };

        Ok(Self {
            is_dcc,
            compressed,
            cose,
            sign1,
            claims,
        })
    }

    /// Returns the key identifier from the protected header or, as HCERT allows, from the
    /// unprotected one.
    pub fn kid(&self) -> &[u8] {
        if self.sign1.protected.header.key_id.is_empty() {
            &self.sign1.unprotected.key_id
        } else {
            &self.sign1.protected.header.key_id
        }
    }

    /// Returns the value of the CWT claim `key`.
    pub fn claim(&self, key: &Cbor) -> Option<&Cbor> {
        map_get(&self.claims, key)
    }

    /// Finds the trust anchor that made the signature and checks that it is valid at `at`.
    /// Returns the signing certificate when the signature matches.
    fn check_signature(
        &self,
        options: &VerifyOptions,
        errors: &mut Vec<VerifyError>,
    ) -> Option<X509> {
        let algorithm = &self.sign1.protected.header.alg;
        if *algorithm != Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) {
            errors.push(VerifyError::UnsupportedAlgorithm(algorithm_name(algorithm)));
            return None;
        }
        let kid = self.kid();
        if kid.is_empty() {
            errors.push(VerifyError::Malformed(
                "COSE_Sign1: no kid (header label 4) in either header".into(),
            ));
            return None;
        }

        let candidates: Vec<&X509> = options
            .anchors
            .iter()
            .filter(|anchor| anchor.to_der().is_ok_and(|der| hcert::kid(&der) == kid))
            .collect();
        if candidates.is_empty() {
            errors.push(VerifyError::UnknownKid(b64_std(kid)));
            return None;
        }
        let to_be_signed = self.sign1.tbs_data(&[]);
        let Some(signer) = candidates
            .into_iter()
            .find(|candidate| signature_matches(candidate, &to_be_signed, &self.sign1.signature))
        else {
            errors.push(VerifyError::SignatureInvalid);
            return None;
        };

        check_certificate_valid_at(signer, options.at, errors);
        Some(signer.clone())
    }

    /// Checks the expiry (`4`) and issued-at (`6`) claims, which HCERT requires, against `at`.
    fn check_times(&self, at: OffsetDateTime, errors: &mut Vec<VerifyError>) {
        let at = at.unix_timestamp();
        match self.numeric_date(claim::EXPIRY, "expiry", errors) {
            Some(exp) if exp <= at => errors.push(VerifyError::Expired { exp, at }),
            _ => {}
        }
        match self.numeric_date(claim::ISSUED_AT, "issued-at", errors) {
            Some(iat) if iat > at => errors.push(VerifyError::NotYetValid { nbf: iat, at }),
            _ => {}
        }
    }

    fn numeric_date(&self, key: i64, name: &str, errors: &mut Vec<VerifyError>) -> Option<i64> {
        let value = self.claim(&Cbor::from(key));
        let seconds = match value {
            Some(Cbor::Integer(integer)) => i64::try_from(i128::from(*integer)).ok(),
            // RFC 8392 allows a fractional NumericDate, and whole seconds are enough here.
            Some(Cbor::Float(float)) if float.is_finite() => Some(float.trunc() as i64),
            _ => None,
        };
        if seconds.is_none() {
            let problem = if value.is_some() {
                "is not a NumericDate"
            } else {
                "is missing"
            };
            errors.push(VerifyError::Malformed(format!(
                "CWT: the {name} claim ({key}) {problem}"
            )));
        }
        seconds
    }

    /// Returns the certificate's claims as JSON and the metadata a verifier shows beside them.
    fn content(&self, errors: &mut Vec<VerifyError>) -> (Value, Map<String, Value>) {
        let mut metadata = Map::new();
        if let Some(Cbor::Text(issuer)) = self.claim(&Cbor::from(claim::ISSUER)) {
            metadata.insert("issuer".into(), Value::from(issuer.as_str()));
        }
        for (key, label) in [
            (claim::ISSUED_AT, "issued_at"),
            (claim::EXPIRY, "valid_until"),
        ] {
            let seconds = match self.claim(&Cbor::from(key)) {
                Some(Cbor::Integer(integer)) => i64::try_from(i128::from(*integer)).ok(),
                _ => None,
            };
            if let Some(time) = seconds.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()) {
                metadata.insert(label.into(), Value::from(rfc3339(time)));
            }
        }
        metadata.insert("kid".into(), Value::from(b64_std(self.kid())));

        let claims = if self.is_dcc {
            self.claim(&Cbor::from(claim::HCERT))
                .and_then(|hcert| match hcert {
                    Cbor::Map(hcert) => map_get(hcert, &Cbor::from(claim::EU_DCC_V1)),
                    _ => None,
                })
                .ok_or_else(|| "CWT: no DCC under the hcert claim (-260, key 1)".to_owned())
        } else {
            if let Some(Cbor::Text(vct)) = self.claim(&Cbor::from(claim::TYPE)) {
                metadata.insert("vct".into(), Value::from(vct.as_str()));
            }
            if let Some(Cbor::Bytes(id)) = self.claim(&Cbor::from(claim::CERTIFICATE_ID)) {
                metadata.insert(
                    "certificate_id".into(),
                    Value::from(String::from_utf8_lossy(id)),
                );
            }
            self.claim(&Cbor::from(claim::CLAIMS))
                .ok_or_else(|| format!("CWT: the {:?} claim is missing", claim::CLAIMS))
        };

        match claims
            .and_then(|claims| cbor_to_json(claims).map_err(|error| format!("CWT: {error}")))
        {
            Ok(claims) => (claims, metadata),
            Err(detail) => {
                errors.push(VerifyError::Malformed(detail));
                (Value::Null, metadata)
            }
        }
    }
}

/// Verifies a 2D code payload and returns the certificate's claims (for a DCC, the DCC).
pub(super) fn verify(input: &str, options: &VerifyOptions) -> Verification {
    let decoded = match DecodedHcert::decode(input) {
        Ok(decoded) => decoded,
        Err(error) => return Verification::failed(Some(Format::Hcert), error),
    };
    let mut errors = Vec::new();
    let signer = decoded.check_signature(options, &mut errors);
    decoded.check_times(options.at, &mut errors);
    let (claims, mut metadata) = decoded.content(&mut errors);
    if let Some(subject) = signer.as_ref().and_then(subject_name) {
        metadata.insert("signer".into(), Value::from(subject));
    }
    Verification {
        valid: errors.is_empty(),
        format: Some(Format::Hcert),
        claims,
        metadata,
        errors,
        status: Vec::new(),
        status_checked: false,
    }
}

/// Converts CBOR to JSON: tags are dropped (a DCC may tag its date-times with tag 0), and map keys
/// must be text. Byte strings and non-finite floats have no JSON form and are rejected.
pub fn cbor_to_json(value: &Cbor) -> Result<Value, String> {
    Ok(match value {
        Cbor::Null => Value::Null,
        Cbor::Bool(flag) => Value::Bool(*flag),
        Cbor::Integer(integer) => {
            let integer = i128::from(*integer);
            if let Ok(signed) = i64::try_from(integer) {
                Value::from(signed)
            } else if let Ok(unsigned) = u64::try_from(integer) {
                Value::from(unsigned)
            } else {
                return Err(format!("the integer {integer} does not fit 64 bits"));
            }
        }
        Cbor::Float(float) => serde_json::Number::from_f64(*float)
            .map(Value::Number)
            .ok_or_else(|| format!("the float {float} has no JSON form"))?,
        Cbor::Text(text) => Value::String(text.clone()),
        Cbor::Bytes(_) => return Err("a byte string has no JSON form".into()),
        Cbor::Tag(_, inner) => cbor_to_json(inner)?,
        Cbor::Array(elements) => Value::Array(
            elements
                .iter()
                .map(cbor_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Cbor::Map(entries) => {
            let mut object = Map::new();
            for (key, member) in entries {
                let Cbor::Text(name) = key else {
                    return Err(format!("the map key {key:?} is not text"));
                };
                object.insert(name.clone(), cbor_to_json(member)?);
            }
            Value::Object(object)
        }
        other => return Err(format!("the CBOR value {other:?} has no JSON form")),
    })
}

fn map_get<'a>(map: &'a [(Cbor, Cbor)], key: &Cbor) -> Option<&'a Cbor> {
    map.iter()
        .find(|(candidate, _)| candidate == key)
        .map(|(_, value)| value)
}

fn check_certificate_valid_at(
    certificate: &X509,
    at: OffsetDateTime,
    errors: &mut Vec<VerifyError>,
) {
    let not_valid = || VerifyError::SignerNotValid {
        not_before: certificate.not_before().to_string(),
        not_after: certificate.not_after().to_string(),
        at: rfc3339(at),
    };
    match Asn1Time::from_unix(at.unix_timestamp()) {
        Ok(at) if certificate.not_before() <= at && at <= certificate.not_after() => {}
        _ => errors.push(not_valid()),
    }
}

fn algorithm_name(algorithm: &Option<coset::Algorithm>) -> String {
    match algorithm {
        None => "none".into(),
        Some(RegisteredLabelWithPrivate::Assigned(assigned)) => {
            format!("{assigned:?} (COSE {})", *assigned as i64)
        }
        Some(RegisteredLabelWithPrivate::PrivateUse(label)) => format!("COSE {label}"),
        Some(RegisteredLabelWithPrivate::Text(text)) => text.clone(),
    }
}

fn subject_name(certificate: &X509) -> Option<String> {
    let parts: Vec<String> = certificate
        .subject_name()
        .entries()
        .filter_map(|entry| {
            let name = entry.object().nid().short_name().ok()?;
            let value = entry.data().to_string().ok()?;
            Some(format!("{name}={value}"))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_tag_is_dropped() {
        let tagged = Cbor::Tag(0, Box::new(Cbor::Text("2021-06-15T09:24:02Z".into())));
        assert_eq!(
            cbor_to_json(&tagged).unwrap(),
            Value::from("2021-06-15T09:24:02Z")
        );
    }

    #[test]
    fn cbor_bytes_rejected() {
        assert!(cbor_to_json(&Cbor::Bytes(vec![1])).is_err());
    }

    #[test]
    fn decode_rejects_bad_base45() {
        let error = DecodedHcert::decode("HC1:abc").unwrap_err();
        assert_eq!(error.code(), "malformed");
        assert!(error.to_string().contains("Base45"), "{error}");
    }

    #[test]
    fn decode_rejects_bad_zlib() {
        let payload = format!("{DCC_PREFIX}{}", base45::encode(b"not zlib"));
        let error = DecodedHcert::decode(&payload).unwrap_err();
        assert_eq!(error.code(), "malformed");
        assert!(error.to_string().contains("zlib"), "{error}");
    }

    #[test]
    fn decode_rejects_bad_cbor() {
        let mut compressor =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut compressor, &[0xd2, 0x84, 0xff]).unwrap();
        let payload = format!(
            "{DCC_PREFIX}{}",
            base45::encode(&compressor.finish().unwrap())
        );
        let error = DecodedHcert::decode(&payload).unwrap_err();
        assert_eq!(error.code(), "malformed");
        assert!(error.to_string().contains("COSE_Sign1"), "{error}");
    }

    #[test]
    fn decode_rejects_decompression_bomb() {
        let mut compressor =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut compressor, &vec![0; 1 << 20]).unwrap();
        let payload = format!(
            "{DCC_PREFIX}{}",
            base45::encode(&compressor.finish().unwrap())
        );
        let error = DecodedHcert::decode(&payload).unwrap_err();
        assert!(error.to_string().contains("more than"), "{error}");
    }
}
