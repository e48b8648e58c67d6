use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{VerifyError, VerifyOptions};
use crate::crypto::{
    b64_std_decode, b64url_decode, ec_public_jwk, jwk_thumbprint, verify_chain_window, ChainCache,
    VerifiedChain,
};

/// A compact JWS split into its parts, not yet verified.
#[derive(Debug, Clone)]
pub struct DecodedJws<'a> {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    /// `header.payload` exactly as received: the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

impl<'a> DecodedJws<'a> {
    /// Splits and decodes a compact JWS whose payload is a JSON object.
    pub fn decode(token: &'a str) -> Result<Self, VerifyError> {
        let malformed = |detail: &str| VerifyError::Malformed(detail.to_owned());
        let mut parts = token.splitn(3, '.');
        let (Some(header), Some(payload), Some(signature)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("a compact JWS has three parts separated by '.'"));
        };
        let signing_input = &token[..header.len() + 1 + payload.len()];
        let header = decode_json_object(header)
            .map_err(|detail| malformed(&format!("JWS header: {detail}")))?;
        let payload = decode_json_object(payload)
            .map_err(|detail| malformed(&format!("JWS payload: {detail}")))?;
        let signature = b64url_decode(signature)
            .map_err(|error| malformed(&format!("JWS signature: {error}")))?;
        Ok(Self {
            header,
            payload,
            signing_input,
            signature,
        })
    }

    pub fn typ(&self) -> &str {
        self.header.get("typ").and_then(Value::as_str).unwrap_or("")
    }

    /// Checks the `typ` header, pushing an error when it differs from `expected`.
    pub fn check_typ(&self, expected: &'static str, errors: &mut Vec<VerifyError>) {
        if self.typ() != expected {
            errors.push(VerifyError::WrongTyp {
                expected,
                found: self.typ().to_owned(),
            });
        }
    }

    /// Verifies the signature with the key of the `x5c` signing certificate, and that certificate's
    /// chain against the trust anchors. Without `x5c`, an anchor whose JWK thumbprint is `kid` signs.
    pub fn check_signature(&self, options: &VerifyOptions, errors: &mut Vec<VerifyError>) {
        let algorithm = self.header.get("alg").and_then(Value::as_str).unwrap_or("");
        if algorithm != "ES256" {
            errors.push(VerifyError::UnsupportedAlgorithm(algorithm.to_owned()));
            return;
        }
        let signer_key = match self.header.get("x5c") {
            Some(x5c) => match self.x5c_key(x5c, options, errors) {
                Ok(key) => key,
                Err(error) => {
                    errors.push(error);
                    return;
                }
            },
            None => {
                let kid = self.header.get("kid").and_then(Value::as_str).unwrap_or("");
                let found = options.anchors.iter().find(|anchor| {
                    anchor
                        .public_key()
                        .ok()
                        .and_then(|key| ec_public_jwk(&key).ok())
                        .and_then(|jwk| jwk_thumbprint(&jwk).ok())
                        .is_some_and(|thumbprint| thumbprint == kid)
                });
                if found.is_none() {
                    errors.push(VerifyError::NoKey(kid.to_owned()));
                }
                found.and_then(|anchor| anchor.public_key().ok())
            }
        };
        let Some(key) = signer_key else { return };
        if !es256_signature_matches(&key, self.signing_input.as_bytes(), &self.signature) {
            errors.push(VerifyError::SignatureInvalid);
        }
    }

    /// Returns the key of the `x5c` signing certificate after checking its chain, from the
    /// options' chain cache when the same chain verified before. An untrusted chain is pushed to
    /// `errors` and its key still returned, so the report also says whether the signature
    /// matches. Only a malformed `x5c` is an `Err`.
    fn x5c_key(
        &self,
        x5c: &Value,
        options: &VerifyOptions,
        errors: &mut Vec<VerifyError>,
    ) -> Result<Option<PKey<Public>>, VerifyError> {
        let entries: Option<Vec<&str>> = x5c
            .as_array()
            .and_then(|entries| entries.iter().map(Value::as_str).collect());
        let digest = entries.map(ChainCache::digest);
        if let Some(cached) = digest.and_then(|digest| options.chains.get(&digest, options.at)) {
            return Ok(Some(cached.key));
        }
        let chain = parse_x5c(x5c)?;
        let key = chain.first().and_then(|leaf| leaf.public_key().ok());
        match verify_chain_window(&chain, &options.anchors, options.at) {
            Ok((not_before, not_after)) => {
                if let (Some(digest), Some(key)) = (digest, &key) {
                    let verified = VerifiedChain {
                        key: key.clone(),
                        not_before,
                        not_after,
                    };
                    options.chains.insert(digest, verified);
                }
            }
            Err(error) => errors.push(VerifyError::UntrustedChain(error)),
        }
        Ok(key)
    }
}

/// Verifies an ES256 signature in raw `r || s` form, as JWS and COSE both carry it, with the
/// Verifies an ES256 signature (`r || s`, as JWS and COSE carry it) with the public key of
/// `certificate`.
pub(super) fn signature_matches(certificate: &X509, message: &[u8], signature: &[u8]) -> bool {
    certificate
        .public_key()
        .is_ok_and(|key| es256_signature_matches(&key, message, signature))
}

/// Verifies an ES256 JWS signature with a JWK, as key binding JWTs and proofs need.
pub fn signature_matches_jwk(jwk: &Map<String, Value>, message: &[u8], signature: &[u8]) -> bool {
    crate::crypto::public_key_from_jwk(jwk)
        .is_ok_and(|key| es256_signature_matches(&key, message, signature))
}

/// Verifies a raw ES256 signature with an OpenSSL key. The key is used as parsed: a round trip
/// through DER, as a JOSE library's key import does, cost more than the verification itself.
/// It hashes with SHA-256 and calls ECDSA directly, because OpenSSL's generic verifier sets up a
/// digest and key context on every call, which in a profile of the credential endpoint cost
/// about half as much again as the verification.
pub fn es256_signature_matches(key: &PKey<Public>, message: &[u8], signature: &[u8]) -> bool {
    // ES256 is ECDSA on P-256 with SHA-256 (RFC 7518, section 3.4); a key on another curve must
    // not verify an ES256 signature.
    let Ok(ec) = key.ec_key() else {
        return false;
    };
    if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) || signature.len() != 64 {
        return false;
    }
    let (r, s) = signature.split_at(32);
    let Ok(signature) = BigNum::from_slice(r)
        .and_then(|r| Ok((r, BigNum::from_slice(s)?)))
        .and_then(|(r, s)| EcdsaSig::from_private_components(r, s))
    else {
        return false;
    };
    signature
        .verify(&Sha256::digest(message), &ec)
        .unwrap_or(false)
}

fn parse_x5c(x5c: &Value) -> Result<Vec<X509>, VerifyError> {
    let malformed = |detail: String| VerifyError::Malformed(format!("x5c: {detail}"));
    let entries = x5c
        .as_array()
        .filter(|entries| !entries.is_empty())
        .ok_or_else(|| malformed("must be a non-empty array".into()))?;
    entries
        .iter()
        .map(|entry| {
            let text = entry
                .as_str()
                .ok_or_else(|| malformed("entries must be strings".into()))?;
            let der = b64_std_decode(text).map_err(|error| malformed(error.to_string()))?;
            X509::from_der(&der).map_err(|error| malformed(error.to_string()))
        })
        .collect()
}

pub(super) fn decode_json_object(part: &str) -> Result<Map<String, Value>, String> {
    let bytes = b64url_decode(part).map_err(|error| format!("not base64url: {error}"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("not a JSON object".into()),
        Err(error) => Err(format!("not JSON: {error}")),
    }
}
