use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{b64url, b64url_decode};

/// A JWK that cannot be used as a P-256 public key.
#[derive(Debug, thiserror::Error)]
pub enum JwkError {
    #[error("the JWK is not a JSON object")]
    NotAnObject,
    #[error("the JWK member {0:?} is missing or not a string")]
    MissingMember(&'static str),
    #[error("the JWK has kty {kty:?} and crv {crv:?}; only EC keys on P-256 are supported")]
    UnsupportedKey { kty: String, crv: String },
    #[error("the JWK contains the private key member \"d\"; send only the public key")]
    PrivateKey,
    #[error("the JWK coordinates are not a point on P-256: {0}")]
    InvalidPoint(String),
}

/// Returns the public JWK (RFC 7517) of a P-256 key, with `kty`, `crv`, `x` and `y` only.
pub fn ec_public_jwk(key: &PKey<Public>) -> Result<Map<String, Value>, JwkError> {
    let ec = key
        .ec_key()
        .map_err(|error| JwkError::InvalidPoint(error.to_string()))?;
    let invalid = |error: openssl::error::ErrorStack| JwkError::InvalidPoint(error.to_string());
    let mut context = BigNumContext::new().map_err(invalid)?;
    let mut x = BigNum::new().map_err(invalid)?;
    let mut y = BigNum::new().map_err(invalid)?;
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut context)
        .map_err(invalid)?;
    let x = x.to_vec_padded(32).map_err(invalid)?;
    let y = y.to_vec_padded(32).map_err(invalid)?;
    let mut jwk = Map::new();
    jwk.insert("kty".into(), Value::from("EC"));
    jwk.insert("crv".into(), Value::from("P-256"));
    jwk.insert("x".into(), Value::from(b64url(x)));
    jwk.insert("y".into(), Value::from(b64url(y)));
    Ok(jwk)
}

/// Computes the RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC public JWK.
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Result<String, JwkError> {
    let member = |name: &'static str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .ok_or(JwkError::MissingMember(name))
    };
    // The required members in lexicographic order, with no white space (RFC 7638, section 3.2).
    let canonical = format!(
        r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
        member("crv")?,
        member("kty")?,
        member("x")?,
        member("y")?
    );
    Ok(b64url(Sha256::digest(canonical.as_bytes())))
}

/// Checks that `value` is a public P-256 JWK and returns it with only its public members.
pub fn parse_holder_jwk(value: &Value) -> Result<Map<String, Value>, JwkError> {
    holder_key(value).map(|(jwk, _)| jwk)
}

/// Checks that `value` is a public P-256 JWK and returns it with only its public members, and
/// the key it describes.
pub fn holder_key(value: &Value) -> Result<(Map<String, Value>, PKey<Public>), JwkError> {
    let jwk = value.as_object().ok_or(JwkError::NotAnObject)?;
    if jwk.contains_key("d") {
        return Err(JwkError::PrivateKey);
    }
    let key = public_key_from_jwk(jwk)?;
    let mut public = Map::new();
    for name in ["kty", "crv", "x", "y"] {
        if let Some(member) = jwk.get(name) {
            public.insert(name.to_owned(), member.clone());
        }
    }
    Ok((public, key))
}

/// Returns the P-256 group, built once: OpenSSL builds a named group anew on every call.
fn p256_group() -> Result<&'static EcGroup, openssl::error::ErrorStack> {
    static GROUP: std::sync::OnceLock<EcGroup> = std::sync::OnceLock::new();
    if let Some(group) = GROUP.get() {
        return Ok(group);
    }
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    Ok(GROUP.get_or_init(|| group))
}

/// Builds an OpenSSL public key from a P-256 JWK, checking that the point is on the curve.
pub fn public_key_from_jwk(jwk: &Map<String, Value>) -> Result<PKey<Public>, JwkError> {
    let member = |name: &'static str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .ok_or(JwkError::MissingMember(name))
    };
    let kty = member("kty")?;
    let crv = member("crv").unwrap_or("");
    if kty != "EC" || crv != "P-256" {
        return Err(JwkError::UnsupportedKey {
            kty: kty.to_owned(),
            crv: crv.to_owned(),
        });
    }
    let coordinate = |name: &'static str| -> Result<Vec<u8>, JwkError> {
        let bytes = b64url_decode(member(name)?)
            .map_err(|error| JwkError::InvalidPoint(format!("{name}: {error}")))?;
        if bytes.len() != 32 {
            return Err(JwkError::InvalidPoint(format!(
                "{name} has {} bytes, P-256 needs 32",
                bytes.len()
            )));
        }
        Ok(bytes)
    };
    let x = coordinate("x")?;
    let y = coordinate("y")?;

    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    // OpenSSL's decoder rejects a point that is not on the curve. P-256 has cofactor 1, so a
    // point on the curve lies in the group of prime order and needs no further check. OpenSSL's
    // affine-coordinate constructor would also multiply the point by the group order, which
    // costs more than the ECDSA check the key is built for.
    let invalid = |error: openssl::error::ErrorStack| JwkError::InvalidPoint(error.to_string());
    let group = p256_group().map_err(invalid)?;
    let mut context = BigNumContext::new().map_err(invalid)?;
    let point = EcPoint::from_bytes(group, &sec1, &mut context).map_err(invalid)?;
    let ec = EcKey::from_public_key(group, &point).map_err(invalid)?;
    PKey::from_ec_key(ec).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use serde_json::json;

    use super::*;

    fn fresh_jwk() -> Map<String, Value> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let private = EcKey::generate(&group).unwrap();
        let public = EcKey::from_public_key(&group, private.public_key()).unwrap();
        ec_public_jwk(&PKey::from_ec_key(public).unwrap()).unwrap()
    }

    #[test]
    fn key_round_trips_through_jwk() {
        let jwk = fresh_jwk();
        let key = public_key_from_jwk(&jwk).unwrap();
        assert_eq!(ec_public_jwk(&key).unwrap(), jwk);
    }

    #[test]
    fn point_off_the_curve_rejected() {
        let mut jwk = fresh_jwk();
        let mut y = b64url_decode(jwk["y"].as_str().unwrap()).unwrap();
        y[31] ^= 1;
        jwk.insert("y".into(), Value::from(b64url(&y)));
        let error = public_key_from_jwk(&jwk).unwrap_err();
        assert!(matches!(error, JwkError::InvalidPoint(_)), "{error}");
    }

    #[test]
    fn other_curves_and_short_coordinates_rejected() {
        let jwk = fresh_jwk();
        let mut other_curve = jwk.clone();
        other_curve.insert("crv".into(), json!("P-384"));
        assert!(matches!(
            public_key_from_jwk(&other_curve),
            Err(JwkError::UnsupportedKey { .. })
        ));
        let mut short = jwk.clone();
        short.insert("x".into(), json!(b64url([1u8; 31])));
        assert!(matches!(
            public_key_from_jwk(&short),
            Err(JwkError::InvalidPoint(_))
        ));
        let mut private = jwk;
        private.insert("d".into(), json!(b64url([1u8; 32])));
        assert!(matches!(
            parse_holder_jwk(&Value::Object(private)),
            Err(JwkError::PrivateKey)
        ));
    }
}
