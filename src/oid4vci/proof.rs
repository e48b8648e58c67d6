//! Key proofs of type `jwt` (OpenID4VCI 1.0): each proof shows that the wallet
//! has the private key that a credential is bound to. Every check is explicit and names itself
//! in the error, so a wallet developer can tell which rule a proof broke.

use serde_json::{Map, Value};

use super::metadata::SIGNING_ALGORITHM;
use crate::crypto::holder_key;
use crate::verify::jws::{es256_signature_matches, DecodedJws};

/// The JOSE `typ` of a key proof.
pub const PROOF_TYP: &str = "openid4vci-proof+jwt";

/// Maximum time a proof's `iat` may lie in the future, in seconds, to allow for clock skew.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 60;

/// Maximum age of a proof's `iat`, in seconds. The nonce already limits replay, and this bounds
/// how long a wallet may keep a signed proof.
pub const MAX_PROOF_AGE_SECONDS: i64 = 300;

/// JWK members that only a private key has (RFC 7518, section 6).
const PRIVATE_KEY_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// The values the credential endpoint expects in every proof.
#[derive(Debug, Clone, Copy)]
pub struct ProofExpectations<'a> {
    /// The credential issuer identifier, which `aud` must equal.
    pub issuer_id: &'a str,
    pub now: i64,
    /// The OAuth client of the access token; `None` for anonymous pre-authorized access, where
    /// the proof must not carry `iss`.
    pub client_id: Option<&'a str>,
}

/// A proof that passed every check but the nonce's, which the caller consumes in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedProof {
    /// The wallet's public key, to bind the credential to (`cnf.jwk`).
    pub jwk: Map<String, Value>,
    /// The `c_nonce` the proof signs.
    pub nonce: String,
}

/// A proof that failed one check; the message names the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub String);

/// Checks one proof JWT against every rule but the nonce's single use.
pub fn check_proof(
    jwt: &str,
    expected: &ProofExpectations<'_>,
) -> Result<CheckedProof, ProofError> {
    let fail = |detail: String| Err(ProofError(detail));
    let decoded = DecodedJws::decode(jwt)
        .map_err(|error| ProofError(format!("the proof is not a compact JWT: {error}")))?;
    let header = &decoded.header;
    let payload = &decoded.payload;

    if decoded.typ() != PROOF_TYP {
        return fail(format!(
            "the proof's typ is {:?}; it must be {PROOF_TYP}",
            decoded.typ()
        ));
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != SIGNING_ALGORITHM {
        return fail(format!(
            "the proof's alg is {alg:?}; the issuer accepts only {SIGNING_ALGORITHM} (proof_signing_alg_values_supported)"
        ));
    }

    let key_members: Vec<&str> = ["jwk", "kid", "x5c"]
        .into_iter()
        .filter(|name| header.contains_key(*name))
        .collect();
    if key_members.len() != 1 {
        return fail(format!(
            "the proof header must carry exactly one of jwk, kid and x5c, but carries {}",
            if key_members.is_empty() {
                "none".to_owned()
            } else {
                key_members.join(" and ")
            }
        ));
    }
    let Some(jwk) = header.get("jwk") else {
        return fail(format!(
            "the proof names its key by {}, but the issuer binds credentials to a jwk only (cryptographic_binding_methods_supported); put the public key in the jwk header",
            key_members[0]
        ));
    };
    let Some(jwk_object) = jwk.as_object() else {
        return fail("the proof's jwk header is not a JSON object".into());
    };
    if let Some(member) = PRIVATE_KEY_MEMBERS
        .into_iter()
        .find(|member| jwk_object.contains_key(*member))
    {
        return fail(format!(
            "the proof's jwk contains the private key member {member:?}; send only the public key"
        ));
    }
    let (jwk, key) =
        holder_key(jwk).map_err(|error| ProofError(format!("the proof's jwk: {error}")))?;
    if !es256_signature_matches(&key, decoded.signing_input.as_bytes(), &decoded.signature) {
        return fail("the proof's signature does not verify with its jwk".into());
    }

    match payload.get("aud") {
        Some(Value::String(aud)) if aud == expected.issuer_id => {}
        Some(aud) => {
            return fail(format!(
                "the proof's aud is {aud}; it must be the credential issuer identifier {:?}",
                expected.issuer_id
            ))
        }
        None => {
            return fail(format!(
                "the proof has no aud; it must be the credential issuer identifier {:?}",
                expected.issuer_id
            ))
        }
    }

    let Some(iat) = payload.get("iat").and_then(Value::as_i64) else {
        return fail("the proof has no numeric iat".into());
    };
    if iat > expected.now + MAX_CLOCK_SKEW_SECONDS {
        return fail(format!(
            "the proof's iat {iat} lies more than {MAX_CLOCK_SKEW_SECONDS} s in the future"
        ));
    }
    if iat < expected.now - MAX_PROOF_AGE_SECONDS {
        return fail(format!(
            "the proof's iat {iat} is more than {MAX_PROOF_AGE_SECONDS} s old; sign a new proof"
        ));
    }

    match (payload.get("iss"), expected.client_id) {
        (None, _) => {}
        (Some(_), None) => {
            return fail(
                "the proof carries iss, but the access token came from anonymous pre-authorized access, where iss must be left out".into(),
            )
        }
        (Some(Value::String(iss)), Some(client_id)) if iss == client_id => {}
        (Some(iss), Some(client_id)) => {
            return fail(format!(
                "the proof's iss is {iss}; it must be the client id {client_id:?}"
            ))
        }
    }

    let nonce = match payload.get("nonce") {
        Some(Value::String(nonce)) if !nonce.is_empty() => nonce.clone(),
        _ => {
            return fail(
                "the proof has no nonce; request a c_nonce from the nonce endpoint and sign it"
                    .into(),
            )
        }
    };
    Ok(CheckedProof { jwk, nonce })
}

#[cfg(test)]
pub(crate) mod tests {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use serde_json::json;

    use super::*;
    use crate::crypto::{b64url, ec_public_jwk};

    const ISSUER: &str = "https://intyg.example.se";
    const NOW: i64 = 1_796_400_000;

    pub(crate) fn wallet_key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    pub(crate) fn public_jwk(key: &PKey<Private>) -> Map<String, Value> {
        let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
        ec_public_jwk(&public).unwrap()
    }

    /// Signs `header` and `payload` with ES256, as a wallet does.
    pub(crate) fn sign(key: &PKey<Private>, header: &Value, payload: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string()),
            b64url(payload.to_string())
        );
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key).unwrap();
        let der = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
        let signature = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
        let mut raw = signature.r().to_vec_padded(32).unwrap();
        raw.extend(signature.s().to_vec_padded(32).unwrap());
        format!("{input}.{}", b64url(raw))
    }

    fn expectations() -> ProofExpectations<'static> {
        ProofExpectations {
            issuer_id: ISSUER,
            now: NOW,
            client_id: None,
        }
    }

    fn valid_parts(key: &PKey<Private>) -> (Value, Value) {
        (
            json!({ "typ": PROOF_TYP, "alg": "ES256", "jwk": public_jwk(key) }),
            json!({ "aud": ISSUER, "iat": NOW, "nonce": "n1" }),
        )
    }

    fn rejection(header: Value, payload: Value, key: &PKey<Private>) -> String {
        check_proof(&sign(key, &header, &payload), &expectations())
            .unwrap_err()
            .0
    }

    #[test]
    fn valid_proof_accepted() {
        let key = wallet_key();
        let (header, payload) = valid_parts(&key);
        let proof = check_proof(&sign(&key, &header, &payload), &expectations()).unwrap();
        assert_eq!(proof.jwk, public_jwk(&key));
        assert_eq!(proof.nonce, "n1");
    }

    #[test]
    fn each_check_rejects() {
        let key = wallet_key();
        let other = wallet_key();
        let (header, payload) = valid_parts(&key);
        let with = |mut value: Value, name: &str, member: Value| {
            value[name] = member;
            value
        };
        let without = |mut value: Value, name: &str| {
            value.as_object_mut().unwrap().remove(name);
            value
        };
        let mut private_jwk = public_jwk(&key);
        private_jwk.insert("d".into(), json!("AAAA"));
        let cases: Vec<(Value, Value, &str)> = vec![
            (
                with(header.clone(), "typ", json!("JWT")),
                payload.clone(),
                "typ",
            ),
            (
                with(header.clone(), "alg", json!("none")),
                payload.clone(),
                "alg",
            ),
            (
                with(header.clone(), "alg", json!("ES384")),
                payload.clone(),
                "alg",
            ),
            (
                with(header.clone(), "kid", json!("did:example:1#0")),
                payload.clone(),
                "exactly one",
            ),
            (
                without(header.clone(), "jwk"),
                payload.clone(),
                "exactly one",
            ),
            (
                with(without(header.clone(), "jwk"), "kid", json!("k")),
                payload.clone(),
                "jwk only",
            ),
            (
                with(without(header.clone(), "jwk"), "x5c", json!(["MII"])),
                payload.clone(),
                "jwk only",
            ),
            (
                with(header.clone(), "jwk", json!(private_jwk)),
                payload.clone(),
                "private key",
            ),
            (
                with(header.clone(), "jwk", json!(public_jwk(&other))),
                payload.clone(),
                "signature",
            ),
            (
                header.clone(),
                with(payload.clone(), "aud", json!("https://other.example")),
                "aud",
            ),
            (
                header.clone(),
                with(payload.clone(), "aud", json!(format!("{ISSUER}/"))),
                "aud",
            ),
            (header.clone(), without(payload.clone(), "aud"), "aud"),
            (
                header.clone(),
                with(payload.clone(), "iat", json!(NOW + 120)),
                "future",
            ),
            (
                header.clone(),
                with(payload.clone(), "iat", json!(NOW - 600)),
                "old",
            ),
            (header.clone(), without(payload.clone(), "iat"), "iat"),
            (
                header.clone(),
                with(payload.clone(), "iss", json!("wallet")),
                "anonymous",
            ),
            (header.clone(), without(payload.clone(), "nonce"), "nonce"),
        ];
        for (header, payload, expected) in cases {
            let message = rejection(header.clone(), payload.clone(), &key);
            assert!(
                message.contains(expected),
                "{header} {payload}: {message:?} does not name {expected:?}"
            );
        }
    }

    #[test]
    fn iss_must_match_client() {
        let key = wallet_key();
        let (header, mut payload) = valid_parts(&key);
        payload["iss"] = json!("wallet-a");
        let proof = sign(&key, &header, &payload);
        let for_client = |client_id| ProofExpectations {
            client_id: Some(client_id),
            ..expectations()
        };
        assert!(check_proof(&proof, &for_client("wallet-a")).is_ok());
        assert!(check_proof(&proof, &for_client("wallet-b")).is_err());
    }
}
