//! Round trips and rejections for every credential format, with the development keys.

use std::path::Path;

use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::X509;
use serde_json::{json, Map, Value};
use time::{Duration, OffsetDateTime};

use super::{verify, VerifyOptions};
use crate::certificate::TypeRegistry;
use crate::crypto::{b64url, b64url_decode, ec_public_jwk, IssuerKey, Signer};
use crate::formats::{self, jws, Format, Issuance};

fn repository(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn development_key() -> IssuerKey {
    IssuerKey::load(
        &repository("keys-example/issuer-signing.key.pem"),
        &repository("keys-example/issuer-signing.chain.pem"),
        OffsetDateTime::now_utc(),
    )
    .unwrap()
}

fn anchors() -> Vec<X509> {
    X509::stack_from_pem(&std::fs::read(repository("keys-example/issuer-ca.crt.pem")).unwrap())
        .unwrap()
}

fn personbevis_claims() -> Map<String, Value> {
    let claims = json!({
        "given_name": "Åsa",
        "family_name": "Öberg",
        "personal_identity_number": "196408233234",
        "birthdate": "1964-08-23",
        "address": { "street_address": "Storgatan 1", "postal_code": "111 22", "locality": "Stockholm" },
        "county": { "code": "01", "name": "Stockholms län" },
        "municipality": { "code": "0180", "name": "Stockholm" },
        "extract_date": "2026-12-01"
    });
    claims.as_object().unwrap().clone()
}

/// Returns the issuance time of every test credential: the start of the test run, so that it falls
/// inside the validity of the development certificates whenever they were generated.
fn issued_at() -> i64 {
    static ISSUED_AT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *ISSUED_AT.get_or_init(|| OffsetDateTime::now_utc().unix_timestamp())
}

fn issue(format: Format, holder: Option<&Map<String, Value>>) -> String {
    let types = TypeRegistry::load(&repository("schemas")).unwrap();
    let personbevis = types.get("personbevis").unwrap();
    let claims = personbevis_claims();
    let issued_at = OffsetDateTime::from_unix_timestamp(issued_at()).unwrap();
    let issuance = Issuance {
        certificate_type: &personbevis,
        claims: &claims,
        issuer: "https://intyg.example.se",
        certificate_id: "0b9a4c6e-2f7d-4f7e-9d64-6f0d3c1a9b11",
        issued_at,
        valid_from: issued_at,
        valid_until: issued_at + Duration::days(90),
        holder_jwk: holder,
        status: None,
    };
    formats::issue(format, &issuance, &development_key()).unwrap()
}

fn options_at(offset_seconds: i64) -> VerifyOptions {
    VerifyOptions::new(
        anchors(),
        OffsetDateTime::from_unix_timestamp(issued_at() + offset_seconds).unwrap(),
    )
}

fn error_codes(input: &str, options: &VerifyOptions) -> Vec<&'static str> {
    verify(input, options)
        .errors
        .iter()
        .map(|error| error.code())
        .collect()
}

/// Replaces the last character of the JWS signature, which changes the signature bytes.
fn tamper_signature(credential: &str) -> String {
    let jws_end = credential.find('~').unwrap_or(credential.len());
    let mut bytes = credential.as_bytes().to_vec();
    let position = jws_end - 2;
    bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Re-signs the credential's JWS with another `typ`, keeping everything else.
fn resign_with_typ(credential: &str, typ: &str) -> String {
    let (token, rest) = credential
        .split_once('~')
        .map_or((credential, None), |(t, r)| (t, Some(r)));
    let mut parts = token.split('.');
    let header: Map<String, Value> =
        serde_json::from_slice(&b64url_decode(parts.next().unwrap()).unwrap()).unwrap();
    let payload = b64url_decode(parts.next().unwrap()).unwrap();
    let mut header = header;
    header.insert("typ".into(), Value::from(typ));
    let resigned = jws::sign_compact(&header, &payload, &development_key()).unwrap();
    match rest {
        Some(rest) => format!("{resigned}~{rest}"),
        None => resigned,
    }
}

#[test]
fn round_trip_every_format() {
    for format in Format::ALL {
        let credential = issue(format, None);
        let verification = verify(&credential, &options_at(60));
        assert!(verification.valid, "{format}: {:?}", verification.errors);
        assert_eq!(verification.format, Some(format));
        assert_eq!(
            verification.claims,
            Value::Object(personbevis_claims()),
            "{format}"
        );
        assert_eq!(verification.metadata["issuer"], "https://intyg.example.se");
    }
}

#[test]
fn sd_jwt_has_disclosures_and_no_plain_claims() {
    let credential = issue(Format::SdJwtVc, None);
    let parts: Vec<&str> = credential.split('~').collect();
    // Eight disclosable claims, and the serialization ends with '~' because there is no key binding.
    assert_eq!(parts.len(), 1 + 8 + 1);
    assert_eq!(parts.last(), Some(&""));
    let payload: Map<String, Value> =
        serde_json::from_slice(&b64url_decode(parts[0].split('.').nth(1).unwrap()).unwrap())
            .unwrap();
    assert!(!payload.contains_key("given_name"));
    assert_eq!(payload["_sd"].as_array().unwrap().len(), 8);
    assert_eq!(payload["_sd_alg"], "sha-256");
    assert_eq!(payload["vct"], "urn:se:intyg:personbevis:1");
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["nbf"].as_i64().unwrap(),
        90 * 86_400
    );
    let header: Map<String, Value> =
        serde_json::from_slice(&b64url_decode(parts[0].split('.').next().unwrap()).unwrap())
            .unwrap();
    assert_eq!(header["typ"], "dc+sd-jwt");
    assert_eq!(header["x5c"].as_array().unwrap().len(), 2);
}

#[test]
fn sd_jwt_salts_are_128_bits() {
    let credential = issue(Format::SdJwtVc, None);
    for disclosure in credential
        .split('~')
        .skip(1)
        .filter(|part| !part.is_empty())
    {
        let members: Vec<Value> =
            serde_json::from_slice(&b64url_decode(disclosure).unwrap()).unwrap();
        let salt = b64url_decode(members[0].as_str().unwrap()).unwrap();
        assert_eq!(salt.len(), 16);
    }
}

#[test]
fn holder_key_bound_with_cnf() {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let holder = ec_public_jwk(&public).unwrap();
    for format in Format::ALL {
        let verification = verify(&issue(format, Some(&holder)), &options_at(60));
        assert!(verification.valid, "{format}");
        assert_eq!(
            verification.metadata["cnf"]["jwk"],
            Value::Object(holder.clone()),
            "{format}"
        );
    }
}

#[test]
fn tampered_signature_rejected() {
    for format in Format::ALL {
        let codes = error_codes(&tamper_signature(&issue(format, None)), &options_at(60));
        assert_eq!(codes, ["signature_invalid"], "{format}");
    }
}

#[test]
fn tampered_disclosure_rejected() {
    let credential = issue(Format::SdJwtVc, None);
    let mut parts: Vec<String> = credential.split('~').map(str::to_owned).collect();
    let mut members: Vec<Value> =
        serde_json::from_slice(&b64url_decode(&parts[1]).unwrap()).unwrap();
    let last = members.len() - 1;
    members[last] = json!("altered");
    parts[1] = b64url(serde_json::to_vec(&members).unwrap());
    let codes = error_codes(&parts.join("~"), &options_at(60));
    assert_eq!(codes, ["disclosure_not_referenced"]);
}

#[test]
fn wrong_typ_rejected() {
    for (format, wrong) in [
        (Format::SdJwtVc, "vc+sd-jwt"),
        (Format::VcJwt, "JWT"),
        (Format::JwtVcJson, "jwt"),
    ] {
        let resigned = resign_with_typ(&issue(format, None), wrong);
        let codes = error_codes(&resigned, &options_at(60));
        assert!(codes.contains(&"wrong_typ"), "{format}: {codes:?}");
        assert!(!codes.contains(&"signature_invalid"), "{format}: {codes:?}");
    }
}

#[test]
fn expired_rejected() {
    for format in Format::ALL {
        let codes = error_codes(&issue(format, None), &options_at(91 * 86_400));
        assert_eq!(codes, ["expired"], "{format}");
    }
}

#[test]
fn not_yet_valid_rejected() {
    for format in Format::ALL {
        let codes = error_codes(&issue(format, None), &options_at(-3600));
        assert_eq!(codes, ["not_yet_valid"], "{format}");
    }
}

#[test]
fn untrusted_issuer_rejected() {
    let other_root = X509::stack_from_pem(
        &std::fs::read(repository("keys-example/apple-root.crt.pem")).unwrap(),
    )
    .unwrap();
    let options = VerifyOptions {
        anchors: other_root,
        ..options_at(60)
    };
    for format in Format::ALL {
        let codes = error_codes(&issue(format, None), &options);
        assert_eq!(codes, ["untrusted_chain"], "{format}");
    }
}

#[test]
fn key_binding_jwt_checked() {
    use openssl::hash::MessageDigest;
    use sha2::{Digest, Sha256};

    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let holder = ec_public_jwk(&public).unwrap();
    let credential = issue(Format::SdJwtVc, Some(&holder));

    let sign_kb = |sd_hash: &str| {
        let header = b64url(br#"{"alg":"ES256","typ":"kb+jwt"}"#);
        let payload = b64url(
            serde_json::to_vec(&json!({"iat": issued_at() + 30, "aud": "https://verifier.example", "nonce": "n-0S6", "sd_hash": sd_hash})).unwrap(),
        );
        let input = format!("{header}.{payload}");
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
        let der = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
        let signature = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
        let mut raw = signature.r().to_vec_padded(32).unwrap();
        raw.extend(signature.s().to_vec_padded(32).unwrap());
        format!("{input}.{}", b64url(raw))
    };

    let good = format!(
        "{credential}{}",
        sign_kb(&b64url(Sha256::digest(credential.as_bytes())))
    );
    let verification = verify(&good, &options_at(60));
    assert!(verification.valid, "{:?}", verification.errors);
    assert_eq!(verification.metadata["key_binding"]["nonce"], "n-0S6");

    let wrong_hash = format!("{credential}{}", sign_kb("not-the-hash"));
    assert_eq!(
        error_codes(&wrong_hash, &options_at(60)),
        ["key_binding_invalid"]
    );
}

#[test]
fn garbage_input_is_unknown_format() {
    for input in ["", "hello", "a.b", "!!.??.**", "eyJ9.e30.AA"] {
        let verification = verify(input, &options_at(0));
        assert!(!verification.valid, "{input:?}");
        assert!(!verification.errors.is_empty(), "{input:?}");
    }
}

#[test]
fn signer_key_id_is_jwk_thumbprint() {
    let key = development_key();
    let jwk = key.public_jwk();
    assert_eq!(jwk["kid"], key.key_id());
    assert_eq!(jwk["alg"], "ES256");
    assert_eq!(jwk["x5c"].as_array().unwrap().len(), 2);
}

#[test]
fn expired_signing_certificate_rejected_at_load() {
    let error = IssuerKey::load(
        &repository("keys-example/issuer-signing.key.pem"),
        &repository("keys-example/issuer-signing.chain.pem"),
        OffsetDateTime::now_utc() + Duration::days(365 * 20),
    )
    .unwrap_err();
    assert!(
        matches!(error, crate::crypto::KeyError::Expired { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("issuer-signing.chain.pem"),
        "{error}"
    );
}

#[test]
fn mismatched_key_rejected_at_load() {
    let error = IssuerKey::load(
        &repository("keys-example/issuer-ca.key.pem"),
        &repository("keys-example/issuer-signing.chain.pem"),
        OffsetDateTime::now_utc(),
    )
    .unwrap_err();
    assert!(
        matches!(error, crate::crypto::KeyError::Mismatch { .. }),
        "{error}"
    );
}

#[test]
fn cached_chain_checked_at_each_time() {
    let options = options_at(60);
    let credential = issue(Format::SdJwtVc, None);
    assert!(verify(&credential, &options).valid);
    assert!(verify(&credential, &options).valid, "the cached chain");

    // The development signing certificate has expired 30 years on, so the cached chain no longer
    // applies and the chain check fails again.
    let later = options
        .with_at(OffsetDateTime::from_unix_timestamp(issued_at() + 30 * 365 * 86_400).unwrap());
    let codes = error_codes(&credential, &later);
    assert!(codes.contains(&"untrusted_chain"), "{codes:?}");

    let other_root = X509::stack_from_pem(
        &std::fs::read(repository("keys-example/apple-root.crt.pem")).unwrap(),
    )
    .unwrap();
    let other = VerifyOptions::new(other_root, options.at);
    assert_eq!(error_codes(&credential, &other), ["untrusted_chain"]);
}

#[test]
fn status_references_read_from_payload() {
    use super::status::{bitstring_references, token_reference};
    use super::StatusReference;

    let mut errors = Vec::new();
    let payload = json!({ "status": { "status_list": { "idx": 7, "uri": "https://intyg.example.se/status/0" } } });
    assert_eq!(
        token_reference(payload.as_object().unwrap(), &mut errors),
        Some(StatusReference::TokenStatusList {
            uri: "https://intyg.example.se/status/0".into(),
            index: 7
        })
    );
    let other_mechanism = json!({ "status": { "other": {} } });
    assert_eq!(
        token_reference(other_mechanism.as_object().unwrap(), &mut errors),
        None
    );
    assert!(errors.is_empty(), "{errors:?}");
    let negative = json!({ "status": { "status_list": { "idx": -1, "uri": "https://x" } } });
    assert_eq!(
        token_reference(negative.as_object().unwrap(), &mut errors),
        None
    );
    assert_eq!(errors.len(), 1);

    let mut errors = Vec::new();
    let credential = json!({ "credentialStatus": [
        { "type": "BitstringStatusListEntry", "statusPurpose": "suspension", "statusListIndex": "42",
          "statusListCredential": "https://intyg.example.se/status/0/suspension" },
        { "type": "OtherEntry" },
        { "type": "BitstringStatusListEntry", "statusPurpose": "revocation", "statusListIndex": 42,
          "statusListCredential": "https://intyg.example.se/status/0/revocation" }
    ]});
    let references = bitstring_references(credential.as_object().unwrap(), &mut errors);
    assert_eq!(references.len(), 1);
    assert_eq!(
        references[0].uri(),
        "https://intyg.example.se/status/0/suspension"
    );
    assert_eq!(errors.len(), 1, "a numeric statusListIndex was accepted");
}

#[test]
fn two_d_code_reports_status_not_checked() {
    let code = issue(Format::Hcert, None);
    let verification = verify(&code, &options_at(60));
    assert_eq!(verification.format, Some(Format::Hcert));
    let checks = verification.checks();
    let status = checks.iter().find(|check| check.name == "status").unwrap();
    assert!(!status.ok);
    assert!(
        status
            .detail
            .starts_with("not checked: a 2D code points at no status list"),
        "{}",
        status.detail
    );
}
