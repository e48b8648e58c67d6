//! intyg's own 2D codes: the DCC test vectors' certificates issued by `intyg issue --format hcert`
//! verify like the vectors do, and their raw CBOR has the structure HCERT 1.3 requires, checked
//! with ciborium and OpenSSL rather than intyg's decoder.

mod pdf_channel;

use std::io::Read;

use ciborium::Value as Cbor;
use flate2::read::ZlibDecoder;
use intyg::formats::base45;
use intyg::verify::cbor_to_json;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::x509::X509;
use serde_json::Value;
use sha2::{Digest, Sha256};

use pdf_channel::{crate_root, issue_lines, personbevis_claims, vectors, verify_json};

/// Issues one 2D code a line of `claims` with the development key.
fn issue_hcert(type_id: &str, claims: &[Value]) -> Vec<String> {
    issue_lines(type_id, "hcert", claims, &[])
}

fn signing_certificate() -> X509 {
    let pem = std::fs::read(crate_root().join("keys-example/issuer-signing.chain.pem")).unwrap();
    X509::stack_from_pem(&pem).unwrap().remove(0)
}

/// Unwraps a payload with its prefix, Base45 and zlib, and decodes the COSE bytes as generic CBOR.
fn raw_cose(payload: &str, prefix: &str) -> Cbor {
    let text = payload.strip_prefix(prefix).expect("the payload prefix");
    let compressed = base45::decode(text).unwrap();
    let mut cose = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .read_to_end(&mut cose)
        .unwrap();
    ciborium::from_reader(cose.as_slice()).unwrap()
}

/// Returns the four members of a tagged COSE_Sign1: protected, unprotected, payload, signature.
fn sign1_members(cose: Cbor) -> Vec<Cbor> {
    let Cbor::Tag(tag, content) = cose else {
        panic!("COSE_Sign1 is not tagged: {cose:?}");
    };
    assert_eq!(tag, 18, "COSE_Sign1 tag");
    let Cbor::Array(members) = *content else {
        panic!("COSE_Sign1 is not an array");
    };
    assert_eq!(members.len(), 4, "COSE_Sign1 members");
    members
}

fn bytes(value: &Cbor) -> &[u8] {
    value.as_bytes().expect("a byte string")
}

fn map_entries(bytes_of_map: &[u8]) -> Vec<(Cbor, Cbor)> {
    let value: Cbor = ciborium::from_reader(bytes_of_map).unwrap();
    value.into_map().expect("a CBOR map")
}

fn get(map: &[(Cbor, Cbor)], key: Cbor) -> &Cbor {
    &map.iter()
        .find(|(candidate, _)| *candidate == key)
        .unwrap_or_else(|| panic!("no key {key:?}"))
        .1
}

/// Verifies an ES256 signature over the COSE Sig_structure (RFC 9052) with OpenSSL.
fn signature_valid(protected: &[u8], payload: &[u8], signature: &[u8]) -> bool {
    let sig_structure = Cbor::Array(vec![
        Cbor::Text("Signature1".into()),
        Cbor::Bytes(protected.to_vec()),
        Cbor::Bytes(Vec::new()),
        Cbor::Bytes(payload.to_vec()),
    ]);
    let mut to_be_signed = Vec::new();
    ciborium::into_writer(&sig_structure, &mut to_be_signed).unwrap();
    let digest = Sha256::digest(&to_be_signed);
    let (r, s) = signature.split_at(32);
    let signature = EcdsaSig::from_private_components(
        BigNum::from_slice(r).unwrap(),
        BigNum::from_slice(s).unwrap(),
    )
    .unwrap();
    let key = signing_certificate()
        .public_key()
        .unwrap()
        .ec_key()
        .unwrap();
    signature.verify(&digest, &key).unwrap()
}

#[test]
fn issued_vectors_verify() {
    let vectors = vectors();
    let claims: Vec<Value> = vectors.iter().map(|v| v.claims().clone()).collect();
    let payloads = issue_hcert("covid-certificate", &claims);
    assert_eq!(payloads.len(), vectors.len());

    let trust = crate_root().join("keys-example/issuer-signing.chain.pem");
    for (vector, payload) in vectors.iter().zip(&payloads) {
        let (report, exit) = verify_json(payload, &trust, None);
        assert_eq!(exit, 0, "{}: {report}", vector.name);
        assert_eq!(report["valid"], true, "{}: {report}", vector.name);
        assert_eq!(&report["claims"], vector.claims(), "{}", vector.name);
    }
}

#[test]
fn issued_cbor_is_hcert() {
    let vectors = vectors();
    let claims: Vec<Value> = vectors.iter().map(|v| v.claims().clone()).collect();
    let payloads = issue_hcert("covid-certificate", &claims);
    let certificate_der = signing_certificate().to_der().unwrap();

    for (vector, payload) in vectors.iter().zip(&payloads) {
        let name = &vector.name;
        let members = sign1_members(raw_cose(payload, "HC1:"));
        let protected_bytes = bytes(&members[0]);
        let payload_bytes = bytes(&members[2]);
        let signature = bytes(&members[3]);

        let protected = map_entries(protected_bytes);
        assert_eq!(protected.len(), 2, "{name}: protected header {protected:?}");
        assert_eq!(
            *get(&protected, Cbor::from(1)),
            Cbor::from(-7),
            "{name}: alg"
        );
        let kid = bytes(get(&protected, Cbor::from(4)));
        assert_eq!(kid.len(), 8, "{name}: kid length");
        assert_eq!(kid, &Sha256::digest(&certificate_der)[..8], "{name}: kid");
        assert!(members[1].is_map(), "{name}: unprotected header");
        assert_eq!(signature.len(), 64, "{name}: ES256 r || s");
        assert!(
            signature_valid(protected_bytes, payload_bytes, signature),
            "{name}: signature"
        );

        let claims = map_entries(payload_bytes);
        let mut keys: Vec<Cbor> = claims.iter().map(|(key, _)| key.clone()).collect();
        keys.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(keys, [-260, 1, 4, 6].map(Cbor::from), "{name}: claim keys");
        assert_eq!(
            *get(&claims, Cbor::from(1)),
            Cbor::from("SE"),
            "{name}: iss"
        );
        let exp = get(&claims, Cbor::from(4))
            .as_integer()
            .expect("exp integer");
        let iat = get(&claims, Cbor::from(6))
            .as_integer()
            .expect("iat integer");
        assert!(i128::from(exp) > i128::from(iat), "{name}: exp after iat");
        let hcert = get(&claims, Cbor::from(-260)).as_map().expect("hcert map");
        assert_eq!(hcert.len(), 1, "{name}: hcert members");
        let dcc = cbor_to_json(get(hcert, Cbor::from(1))).unwrap();
        assert_eq!(&dcc, vector.claims(), "{name}: DCC");
    }
}

#[test]
fn issued_personbevis_structure() {
    let claims = personbevis_claims();
    let payloads = issue_hcert("personbevis", std::slice::from_ref(&claims));
    let members = sign1_members(raw_cose(&payloads[0], "INTYG1:"));
    let payload = map_entries(bytes(&members[2]));

    assert_eq!(*get(&payload, Cbor::from(1)), Cbor::from("SE"));
    assert!(get(&payload, Cbor::from(4)).is_integer());
    assert!(get(&payload, Cbor::from(6)).is_integer());
    assert!(get(&payload, Cbor::from(7)).is_bytes());
    assert_eq!(
        *get(&payload, Cbor::from("vct")),
        Cbor::from("urn:se:intyg:personbevis:1")
    );
    assert_eq!(
        cbor_to_json(get(&payload, Cbor::from("claims"))).unwrap(),
        claims
    );

    let trust = crate_root().join("keys-example/issuer-signing.chain.pem");
    let (report, exit) = verify_json(&payloads[0], &trust, None);
    assert_eq!(exit, 0, "{report}");
    assert_eq!(report["claims"], claims);
}
