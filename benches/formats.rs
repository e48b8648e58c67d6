//! Issuance and verification of a 10-claim SD-JWT VC with 8 disclosable claims, beside the bare
//! ES256 signature and signature check that bound them, measured in the same run.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use intyg::certificate::CertificateType;
use intyg::crypto::b64url_decode;
use intyg::crypto::{IssuerKey, Signer};
use intyg::formats::{self, Format, Issuance};
use intyg::status::{token, StatusEntry, LIST_SIZE};
use intyg::verify::status::StatusLists;
use intyg::verify::{apply_status, verify, StatusList, VerifyOptions};
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

fn repository(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn claims() -> Map<String, Value> {
    let claims = json!({
        "given_name": "Åsa",
        "family_name": "Öberg",
        "birthdate": "1964-08-23",
        "personal_identity_number": "196408233234",
        "street_address": "Storgatan 1",
        "postal_code": "111 22",
        "locality": "Stockholm",
        "permit_number": "TS-2026-0012345",
        "issuing_authority": "Transportstyrelsen",
        "category": 3
    });
    match claims {
        Value::Object(claims) => claims,
        _ => unreachable!(),
    }
}

fn benchmarks(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let key = IssuerKey::load(
        &repository("keys-example/issuer-signing.key.pem"),
        &repository("keys-example/issuer-signing.chain.pem"),
        now,
    )
    .unwrap();
    let certificate_type =
        CertificateType::load(&repository("benches/fixtures/bench-10-claims")).unwrap();
    let claims = claims();
    let issuance = Issuance {
        certificate_type: &certificate_type,
        claims: &claims,
        issuer: "https://intyg.example.se",
        certificate_id: "0b9a4c6e-2f7d-4f7e-9d64-6f0d3c1a9b11",
        issued_at: now,
        valid_from: now,
        valid_until: now + Duration::days(365),
        holder_jwk: None,
        status: None,
    };
    let options = VerifyOptions::new(
        X509::stack_from_pem(&std::fs::read(repository("keys-example/issuer-ca.crt.pem")).unwrap())
            .unwrap(),
        now + Duration::minutes(1),
    );
    let credential = formats::issue(Format::SdJwtVc, &issuance, &key).unwrap();
    assert!(verify(&credential, &options).valid);

    // The same credential with a status claim, and its list already fetched and verified, as a
    // verifier holds it in its cache between fetches.
    let status = StatusEntry {
        list: 0,
        index: 70_001,
    }
    .claim(issuance.issuer);
    let with_status = formats::issue(
        Format::SdJwtVc,
        &Issuance {
            status: Some(&status),
            ..issuance.clone()
        },
        &key,
    )
    .unwrap();
    let list_times = token::ListTimes {
        issued_at: now.unix_timestamp(),
        expires_at: (now + Duration::days(1)).unix_timestamp(),
        ttl: 300,
    };
    let list_token = token::sign(
        &status.token_list_uri,
        &token::pack(LIST_SIZE, [(3, token::INVALID)]),
        list_times,
        &key,
    )
    .unwrap();
    let list = StatusList::parse(&list_token, Some(&status.token_list_uri), &options).unwrap();
    let mut lists = StatusLists::new();
    lists.insert(status.token_list_uri.clone(), Ok(Arc::new(list)));

    let mut group = c.benchmark_group("sd_jwt_vc_10_claims_8_disclosable");
    group.throughput(Throughput::Elements(1));
    group.bench_function("es256_signature_alone", |b| {
        let message = credential.split('.').take(2).collect::<Vec<_>>().join(".");
        b.iter(|| key.sign(message.as_bytes()).unwrap())
    });
    group.bench_function("issue", |b| {
        b.iter(|| formats::issue(Format::SdJwtVc, &issuance, &key).unwrap())
    });
    group.bench_function("validate_and_issue", |b| {
        let claims_value = Value::Object(claims.clone());
        b.iter(|| {
            certificate_type.validate(&claims_value).unwrap();
            formats::issue(Format::SdJwtVc, &issuance, &key).unwrap()
        })
    });
    group.bench_function("es256_verify_alone", |b| {
        let (signing_input, signature) = credential
            .split('~')
            .next()
            .and_then(|jws| jws.rsplit_once('.'))
            .unwrap();
        let raw = b64url_decode(signature).unwrap();
        let der = EcdsaSig::from_private_components(
            BigNum::from_slice(&raw[..32]).unwrap(),
            BigNum::from_slice(&raw[32..]).unwrap(),
        )
        .unwrap()
        .to_der()
        .unwrap();
        let public_key = key.chain()[0].public_key().unwrap();
        b.iter(|| {
            let mut verifier =
                openssl::sign::Verifier::new(MessageDigest::sha256(), &public_key).unwrap();
            assert!(verifier
                .verify_oneshot(&der, signing_input.as_bytes())
                .unwrap())
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| assert!(verify(&credential, &options).valid))
    });
    group.bench_function("verify_with_status", |b| {
        b.iter(|| {
            let mut verification = verify(&with_status, &options);
            apply_status(&mut verification, &lists);
            assert!(verification.valid)
        })
    });
    group.bench_function("verify_without_chain_cache", |b| {
        b.iter(|| {
            let fresh = VerifyOptions::new(options.anchors.clone(), options.at);
            assert!(verify(&credential, &fresh).valid)
        })
    });
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
