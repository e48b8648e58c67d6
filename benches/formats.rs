//! Issuance and verification of a 10-claim SD-JWT VC with 8 disclosable claims, beside the bare
//! ES256 signature that bounds it, measured in the same run.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use intyg::certificate::CertificateType;
use intyg::crypto::{IssuerKey, Signer};
use intyg::formats::{self, Format, Issuance};
use intyg::verify::{verify, VerifyOptions};
use openssl::x509::X509;
use serde_json::{json, Map, Value};
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
    let options = VerifyOptions {
        anchors: X509::stack_from_pem(
            &std::fs::read(repository("keys-example/issuer-ca.crt.pem")).unwrap(),
        )
        .unwrap(),
        at: now + Duration::minutes(1),
    };
    let credential = formats::issue(Format::SdJwtVc, &issuance, &key).unwrap();
    assert!(verify(&credential, &options).valid);

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
    group.bench_function("verify", |b| {
        b.iter(|| assert!(verify(&credential, &options).valid))
    });
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
