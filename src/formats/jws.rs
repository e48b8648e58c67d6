//! JWS compact serialization (RFC 7515, section 7.1).

use serde_json::{Map, Value};

use crate::crypto::{b64url, SignError, Signer};

/// Returns the protected header every intyg JWS carries: `alg`, `typ`, `kid` and the `x5c` chain.
pub fn header(typ: &str, signer: &dyn Signer) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("alg".into(), Value::from(signer.algorithm()));
    header.insert("typ".into(), Value::from(typ));
    header.insert("kid".into(), Value::from(signer.key_id()));
    header.insert("x5c".into(), Value::from(signer.x5c().to_vec()));
    header
}

/// Signs `payload` under `header` and returns `header.payload.signature`, each part base64url.
pub fn sign_compact(
    header: &Map<String, Value>,
    payload: &[u8],
    signer: &dyn Signer,
) -> Result<String, SignError> {
    let header_json =
        serde_json::to_vec(header).map_err(|error| SignError(format!("header: {error}")))?;
    let mut token = String::with_capacity(header_json.len() * 4 / 3 + payload.len() * 4 / 3 + 96);
    token.push_str(&b64url(header_json));
    token.push('.');
    token.push_str(&b64url(payload));
    let signature = signer.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&b64url(signature));
    Ok(token)
}
