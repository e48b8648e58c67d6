//! Throughput of Apple Wallet passes on one core: whole `.pkpass` files a second, with the
//! RSA-2048 CMS signature of the manifest alone as the peer that bounds them.
//!
//! Run with `cargo bench --bench passes`; criterion prints the time per item, and items a second
//! are 1 / time. `benches/passkit/run.sh` runs this beside passkit-generator building the same
//! pass.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use intyg::certificate::CertificateType;
use intyg::crypto::{IssuerKey, PassSigningKey};
use intyg::formats::pkpass::{self, PassOptions, PassState, WebService};
use intyg::formats::{hcert, Issuance};
use serde_json::{json, Map, Value};
use time::{Duration, OffsetDateTime};

fn keys() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("keys-example")
}

fn personbevis_claims() -> Map<String, Value> {
    let claims = json!({
        "given_name": "Åsa", "family_name": "Öberg", "personal_identity_number": "198112289874",
        "birthdate": "1981-12-28",
        "address": {"street_address": "Storgatan 1", "postal_code": "111 22", "locality": "Stockholm"},
        "county": {"code": "01", "name": "Stockholms län"},
        "municipality": {"code": "0180", "name": "Stockholm"},
        "extract_date": "2026-12-04"
    });
    claims.as_object().cloned().unwrap_or_default()
}

fn bench_passes(c: &mut Criterion) {
    let signing_key = IssuerKey::load(
        &keys().join("issuer-signing.key.pem"),
        &keys().join("issuer-signing.chain.pem"),
        OffsetDateTime::now_utc(),
    )
    .expect("the development signing key loads");
    let pass_key = PassSigningKey::load(
        &keys().join("pass-type-id.crt.pem"),
        &keys().join("pass-type-id.key.pem"),
        &keys().join("apple-wwdr.crt.pem"),
        None,
        None,
    )
    .expect("the development Pass Type ID key loads");
    let personbevis =
        CertificateType::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/personbevis"))
            .expect("the personbevis type loads");
    let claims = personbevis_claims();
    let issued_at = OffsetDateTime::now_utc();
    let issuance = Issuance {
        certificate_type: &personbevis,
        claims: &claims,
        issuer: "https://intyg.example",
        certificate_id: "7d4c0b0e-0000-4000-8000-000000000001",
        issued_at,
        valid_from: issued_at,
        valid_until: issued_at + Duration::days(90),
        holder_jwk: None,
        status: None,
    };
    let options = PassOptions {
        organization_name: "Skatteverket",
        web_service: Some(WebService {
            url: "https://intyg.example/passkit",
            authentication_token: "q3bN1rX0cJ2kq9yT4mV7pW8sZ5aB6dE1fG2hJ3kL4mN",
        }),
        state: PassState::Valid,
    };
    let payload = hcert::issue(&issuance, &signing_key).expect("the 2D code issues");
    // A manifest of the size a pass has: eleven names with their SHA-1.
    let manifest = br#"{"pass.json":"9b1c0a2e3f4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b","icon.png":"1b1c0a2e3f4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b","icon@2x.png":"2b1c0a2e3f4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b","icon@3x.png":"3b1c0a2e3f4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b","logo.png":"4b1c0a2e3f4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b","logo@2x.png":"5b1c0a2e3f4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b","logo@3x.png":"6b1c0a2e3f4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b","sv.lproj/pass.strings":"7b1c0a2e3f4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b","en.lproj/pass.strings":"8b1c0a2e3f4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b"}"#;

    c.bench_function("cms_sign_manifest", |b| {
        b.iter(|| {
            pass_key
                .sign_manifest(black_box(manifest))
                .expect("signing works")
        })
    });
    c.bench_function("pkpass_build", |b| {
        b.iter(|| {
            pkpass::build(black_box(&issuance), Some(&payload), &pass_key, &options)
                .expect("the pass builds")
        })
    });
    c.bench_function("pkpass_issue", |b| {
        b.iter(|| {
            pkpass::issue(black_box(&issuance), &signing_key, &pass_key, &options)
                .expect("the pass issues")
        })
    });
}

criterion_group!(benches, bench_passes);
criterion_main!(benches);
