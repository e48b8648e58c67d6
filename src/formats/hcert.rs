//! The signed 2D code of the PDF channel: HCERT 1.3, the transport of the EU Digital COVID
//! Certificate (DCC), and the same construction for intyg's other certificate types.
//!
//! The code is `prefix + base45(zlib(COSE_Sign1(CBOR claims)))`:
//! - CBOR claims (a CWT, RFC 8392): `1` issuing country, `4` expiry and `6` issued-at as
//!   NumericDate integers, and the certificate's own claims.
//! - COSE_Sign1 (RFC 9052) with tag 18, protected header `{1: -7 (ES256), 4: kid}`, where the kid
//!   is the first 8 bytes of the SHA-256 of the signing certificate's DER, and an ES256 signature
//!   in raw `r || s` form.
//! - zlib (RFC 1950), Base45 (RFC 9285), and a context prefix.
//!
//! For the `covid-certificate` type the claims are exactly HCERT's: the DCC under
//! `-260: {1: DCC}`, prefix `HC1:`. Every other type uses the prefix `INTYG1:` and adds three
//! claims. The text claim `"vct"` names the type with the identifier its SD-JWT VC carries, the
//! text claim `"claims"` contains the type's claims, and `7` (`cti`) is the certificate id as
//! UTF-8 bytes.

use std::io::Write;

use ciborium::Value as Cbor;
use coset::{iana, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{base45, rfc3339, FormatError, Issuance};
use crate::crypto::{b64_std_decode, Signer};

/// The HCERT context identifier of a DCC 2D code.
pub const DCC_PREFIX: &str = "HC1:";
/// The context identifier of intyg's 2D code for types other than the DCC. Every character is in
/// the QR alphanumeric set, so the whole code stays in alphanumeric mode.
pub const INTYG_PREFIX: &str = "INTYG1:";
/// The certificate type whose claims are a DCC and whose 2D code is HCERT.
pub const DCC_TYPE_ID: &str = "covid-certificate";
/// The issuer claim: the ISO 3166-1 alpha-2 code of the issuing country, as HCERT defines it.
pub const ISSUER_COUNTRY: &str = "SE";

/// The largest QR code version a 2D code may need: 117 by 117 modules, so a module is about
/// 0.47 mm wide in the PDF's 55 mm code.
/// NOTE: the limit is a judgement of what phone cameras read from paper or a screen, not a
/// measurement.
pub const MAX_QR_VERSION: i16 = 25;
/// The QR error correction level HCERT recommends: Q, which restores about 25% of the code.
pub const QR_EC_LEVEL: qrcode::EcLevel = qrcode::EcLevel::Q;
/// The number of alphanumeric characters that fit a QR code of [`MAX_QR_VERSION`] at level Q, as
/// the `qrcode` crate encodes them. A longer payload is rejected when it is issued.
pub const MAX_PAYLOAD_CHARS: usize = 1041;

/// CWT claim keys (RFC 8392) and the HCERT claim.
pub mod claim {
    /// `iss`: the issuing country.
    pub const ISSUER: i64 = 1;
    /// `exp`: NumericDate after which the code is expired.
    pub const EXPIRY: i64 = 4;
    /// `iat`: NumericDate of issuance.
    pub const ISSUED_AT: i64 = 6;
    /// `cti`: the certificate id, in intyg's own types.
    pub const CERTIFICATE_ID: i64 = 7;
    /// `hcert`: the map that contains the DCC.
    pub const HCERT: i64 = -260;
    /// `eu_dgc_v1`: the DCC inside the `hcert` map.
    pub const EU_DCC_V1: i64 = 1;
    /// The certificate type (its `vct`) in intyg's own types.
    pub const TYPE: &str = "vct";
    /// The certificate's claims in intyg's own types.
    pub const CLAIMS: &str = "claims";
}

/// Issues the 2D code payload of one certificate: an HCERT for a DCC, intyg's own code otherwise.
pub fn issue(issuance: &Issuance<'_>, signer: &dyn Signer) -> Result<String, FormatError> {
    let is_dcc = issuance.certificate_type.id == DCC_TYPE_ID;
    encode(issuance, signer, is_dcc)
}

/// Issues intyg's own 2D code (`INTYG1:`) for any type, the DCC too. It carries whatever claims
/// the issuance holds, so it can sign a part of a certificate, such as the claims on the front of
/// a Google Wallet pass, which a complete DCC would not fit.
pub fn issue_own(issuance: &Issuance<'_>, signer: &dyn Signer) -> Result<String, FormatError> {
    encode(issuance, signer, false)
}

fn encode(
    issuance: &Issuance<'_>,
    signer: &dyn Signer,
    is_dcc: bool,
) -> Result<String, FormatError> {
    if signer.algorithm() != "ES256" {
        return Err(FormatError::Encode(format!(
            "the 2D code is signed with ES256, but the signing key uses {}; configure an EC P-256 signing key",
            signer.algorithm()
        )));
    }
    let certificate_der = signing_certificate_der(signer)?;
    check_signing_certificate_covers(issuance, signer)?;

    let claims = cwt_claims(issuance, is_dcc);
    let mut claims_cbor = Vec::with_capacity(512);
    ciborium::into_writer(&claims, &mut claims_cbor)
        .map_err(|error| FormatError::Encode(format!("CBOR claims: {error}")))?;

    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .key_id(kid(&certificate_der).to_vec())
        .build();
    let cose = CoseSign1Builder::new()
        .protected(protected)
        .payload(claims_cbor)
        .try_create_signature(&[], |to_be_signed| signer.sign(to_be_signed))?
        .build()
        .to_tagged_vec()
        .map_err(|error| FormatError::Encode(format!("COSE_Sign1: {error}")))?;

    let mut compressor = ZlibEncoder::new(Vec::with_capacity(cose.len()), Compression::best());
    compressor
        .write_all(&cose)
        .map_err(|error| FormatError::Encode(format!("zlib: {error}")))?;
    let compressed = compressor
        .finish()
        .map_err(|error| FormatError::Encode(format!("zlib: {error}")))?;

    let prefix = if is_dcc { DCC_PREFIX } else { INTYG_PREFIX };
    let payload = format!("{prefix}{}", base45::encode(&compressed));
    if payload.len() > MAX_PAYLOAD_CHARS {
        return Err(FormatError::PayloadTooLarge {
            size: payload.len(),
            limit: MAX_PAYLOAD_CHARS,
        });
    }
    Ok(payload)
}

/// Returns the HCERT key identifier of a signing certificate: the first 8 bytes of the SHA-256
/// of its DER encoding.
pub fn kid(certificate_der: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(certificate_der);
    let mut kid = [0; 8];
    kid.copy_from_slice(&digest[..8]);
    kid
}

/// Converts JSON to the CBOR data model: objects become maps with text keys in the same order,
/// integers stay integers and other numbers become floats.
pub fn json_to_cbor(value: &Value) -> Cbor {
    match value {
        Value::Null => Cbor::Null,
        Value::Bool(flag) => Cbor::Bool(*flag),
        Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                Cbor::Integer(integer.into())
            } else if let Some(integer) = number.as_u64() {
                Cbor::Integer(integer.into())
            } else {
                // serde_json numbers that are neither i64 nor u64 are always finite f64 values.
                Cbor::Float(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(text) => Cbor::Text(text.clone()),
        Value::Array(elements) => Cbor::Array(elements.iter().map(json_to_cbor).collect()),
        Value::Object(members) => Cbor::Map(
            members
                .iter()
                .map(|(name, member)| (Cbor::Text(name.clone()), json_to_cbor(member)))
                .collect(),
        ),
    }
}

fn cwt_claims(issuance: &Issuance<'_>, is_dcc: bool) -> Cbor {
    let claims = json_to_cbor(&Value::Object(issuance.claims.clone()));
    let mut map = vec![
        (Cbor::from(claim::ISSUER), Cbor::from(ISSUER_COUNTRY)),
        (
            Cbor::from(claim::EXPIRY),
            Cbor::from(issuance.valid_until.unix_timestamp()),
        ),
        (
            Cbor::from(claim::ISSUED_AT),
            Cbor::from(issuance.issued_at.unix_timestamp()),
        ),
    ];
    if is_dcc {
        let hcert = Cbor::Map(vec![(Cbor::from(claim::EU_DCC_V1), claims)]);
        map.push((Cbor::from(claim::HCERT), hcert));
    } else {
        map.push((
            Cbor::from(claim::CERTIFICATE_ID),
            Cbor::Bytes(issuance.certificate_id.as_bytes().to_vec()),
        ));
        map.push((
            Cbor::from(claim::TYPE),
            Cbor::from(issuance.certificate_type.vct.as_str()),
        ));
        map.push((Cbor::from(claim::CLAIMS), claims));
    }
    Cbor::Map(map)
}

/// Returns the DER of the signing certificate, the first entry of the signer's chain.
fn signing_certificate_der(signer: &dyn Signer) -> Result<Vec<u8>, FormatError> {
    let Some(leaf) = signer.x5c().first() else {
        return Err(FormatError::Encode(
            "the signing key has no certificate, and the 2D code's kid is derived from it; configure signing_chain".into(),
        ));
    };
    b64_std_decode(leaf).map_err(|error| {
        FormatError::Encode(format!("the signing certificate is not base64: {error}"))
    })
}

/// Checks that the signing certificate is valid from issuance to expiry, because HCERT forbids an
/// expiry after the end of the signing certificate's validity and an issued-at before its start.
fn check_signing_certificate_covers(
    issuance: &Issuance<'_>,
    signer: &dyn Signer,
) -> Result<(), FormatError> {
    let (not_before, not_after) = signer.certificate_validity()?;
    if issuance.issued_at < not_before || issuance.valid_until > not_after {
        return Err(FormatError::OutsideSigningCertificate {
            issued_at: rfc3339(issuance.issued_at),
            valid_until: rfc3339(issuance.valid_until),
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::certificate::CertificateType;
    use crate::crypto::IssuerKey;
    use crate::formats::test_support::{certificate_type, development_key, personbevis_claims};
    use crate::verify::{verify, VerifyOptions};

    fn dcc_claims() -> serde_json::Map<String, Value> {
        let claims = json!({
            "ver": "1.3.0",
            "nam": {"fn": "Lövström", "fnt": "LOEVSTROEM", "gn": "Oscar", "gnt": "OSCAR"},
            "dob": "1958-11-11",
            "r": [{
                "tg": "840539006", "fr": "2021-06-04", "co": "SE", "is": "Swedish eHealth Agency",
                "df": "2021-06-15", "du": "2021-09-13", "ci": "URN:UVCI:01:SE:EHM/R987765321"
            }]
        });
        claims.as_object().unwrap().clone()
    }

    fn issue_with(
        certificate_type: &CertificateType,
        claims: &serde_json::Map<String, Value>,
        key: &IssuerKey,
        valid_days: i64,
    ) -> Result<String, FormatError> {
        let issued_at = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let issuance = Issuance {
            certificate_type,
            claims,
            issuer: "https://intyg.example",
            certificate_id: "0b5c1f3e-6a8d-4e5b-9c1d-2f3a4b5c6d7e",
            issued_at,
            valid_from: issued_at,
            valid_until: issued_at + Duration::days(valid_days),
            holder_jwk: None,
            status: None,
        };
        issue(&issuance, key)
    }

    fn options(key: &IssuerKey) -> VerifyOptions {
        VerifyOptions::new(key.chain().to_vec(), OffsetDateTime::now_utc())
    }

    #[test]
    fn dcc_round_trip() {
        let key = development_key();
        let payload = issue_with(&certificate_type(DCC_TYPE_ID), &dcc_claims(), &key, 30).unwrap();
        assert!(payload.starts_with(DCC_PREFIX), "{payload}");

        let verification = verify(&payload, &options(&key));
        assert!(verification.valid, "{:?}", verification.errors);
        assert_eq!(verification.claims, Value::Object(dcc_claims()));
        assert_eq!(verification.metadata["issuer"], "SE");
    }

    #[test]
    fn personbevis_round_trip() {
        let key = development_key();
        let claims = personbevis_claims();
        let claims = &claims;
        let personbevis = certificate_type("personbevis");
        let payload = issue_with(&personbevis, claims, &key, 90).unwrap();
        assert!(payload.starts_with(INTYG_PREFIX), "{payload}");

        let verification = verify(&payload, &options(&key));
        assert!(verification.valid, "{:?}", verification.errors);
        assert_eq!(&verification.claims, &Value::Object(claims.clone()));
        assert_eq!(verification.metadata["vct"], personbevis.vct.as_str());
        assert_eq!(
            verification.metadata["certificate_id"],
            "0b5c1f3e-6a8d-4e5b-9c1d-2f3a4b5c6d7e"
        );
    }

    #[test]
    fn tampered_signature_rejected() {
        let key = development_key();
        let payload = issue_with(&certificate_type(DCC_TYPE_ID), &dcc_claims(), &key, 30).unwrap();
        let decoded = crate::verify::DecodedHcert::decode(&payload).unwrap();
        let mut sign1 = decoded.sign1;
        sign1.signature[10] ^= 0x01;
        let cose = sign1.to_tagged_vec().unwrap();
        let mut compressor = ZlibEncoder::new(Vec::new(), Compression::best());
        compressor.write_all(&cose).unwrap();
        let tampered = format!(
            "{DCC_PREFIX}{}",
            base45::encode(&compressor.finish().unwrap())
        );

        let verification = verify(&tampered, &options(&key));
        assert!(!verification.valid);
        let codes: Vec<&str> = verification.errors.iter().map(|e| e.code()).collect();
        assert_eq!(codes, ["signature_invalid"]);
    }

    #[test]
    fn oversized_payload_rejected() {
        let key = development_key();
        let mut claims = dcc_claims();
        // Hex digests barely compress below 4 bits a character, so the payload grows with them.
        let noise: String = (0..50u32)
            .map(|i| format!("{:x}", Sha256::digest(i.to_be_bytes())))
            .collect();
        claims["nam"]["gn"] = Value::from(noise);
        let error = issue_with(&certificate_type(DCC_TYPE_ID), &claims, &key, 30).unwrap_err();
        assert!(
            matches!(error, FormatError::PayloadTooLarge { size, limit } if size > limit && limit == MAX_PAYLOAD_CHARS),
            "{error}"
        );
    }

    #[test]
    fn validity_beyond_signer_rejected() {
        let key = development_key();
        let days = (key.not_after() - OffsetDateTime::now_utc()).whole_days() + 2;
        let error =
            issue_with(&certificate_type(DCC_TYPE_ID), &dcc_claims(), &key, days).unwrap_err();
        assert!(
            matches!(error, FormatError::OutsideSigningCertificate { .. }),
            "{error}"
        );
    }

    #[test]
    fn payload_limit_fills_qr_version() {
        let fits = "A".repeat(MAX_PAYLOAD_CHARS);
        let version = qrcode::Version::Normal(MAX_QR_VERSION);
        assert!(qrcode::QrCode::with_version(fits.as_bytes(), version, QR_EC_LEVEL).is_ok());
        let too_long = "A".repeat(MAX_PAYLOAD_CHARS + 1);
        assert!(qrcode::QrCode::with_version(too_long.as_bytes(), version, QR_EC_LEVEL).is_err());
    }
}
