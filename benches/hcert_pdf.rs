//! Throughput of the PDF channel on one core: 2D code payloads (HCERT) and whole PDFs a second,
//! with the bare ES256 signature as the peer that bounds the 2D code.
//!
//! Run with `cargo bench --bench hcert_pdf`; criterion prints the time per item, and items a
//! second are 1 / time.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use intyg::certificate::CertificateType;
use intyg::crypto::{IssuerKey, Signer};
use intyg::formats::{hcert, pdf, Issuance};
use intyg::verify::DecodedHcert;
use serde_json::{json, Map, Value};
use time::{Duration, OffsetDateTime};

fn development_key() -> IssuerKey {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys-example");
    IssuerKey::load(
        &keys.join("issuer-signing.key.pem"),
        &keys.join("issuer-signing.chain.pem"),
        OffsetDateTime::now_utc(),
    )
    .expect("the development key in keys-example/ loads")
}

/// Returns a vaccination DCC of the size of the EU test vectors for Sweden.
fn dcc_claims() -> Map<String, Value> {
    let claims = json!({
        "ver": "1.3.0",
        "nam": {"fn": "Lövström", "fnt": "LOEVSTROEM", "gn": "Oscar", "gnt": "OSCAR"},
        "dob": "1958-11-11",
        "v": [{
            "tg": "840539006", "vp": "J07BX03", "mp": "EU/1/21/1529", "ma": "ORG-100030215",
            "dn": 2, "sd": 2, "dt": "2021-05-18", "co": "SE", "is": "Swedish eHealth Agency",
            "ci": "URN:UVCI:01:SE:EHM/V100000024GI5HM"
        }]
    });
    claims.as_object().cloned().unwrap_or_default()
}

fn bench_pdf_channel(c: &mut Criterion) {
    let key = development_key();
    let covid = CertificateType::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/covid-certificate"),
    )
    .expect("the covid-certificate type loads");
    let claims = dcc_claims();
    let issued_at = OffsetDateTime::now_utc();
    let issuance = Issuance {
        certificate_type: &covid,
        claims: &claims,
        issuer: "https://intyg.example",
        certificate_id: "7d4c0b0e-0000-4000-8000-000000000001",
        issued_at,
        valid_from: issued_at,
        valid_until: issued_at + Duration::days(365),
        holder_jwk: None,
        status: None,
    };

    // The peer signs exactly what the 2D code signs: the COSE Sig_structure of this DCC.
    let payload = hcert::issue(&issuance, &key).expect("the DCC issues");
    let to_be_signed = DecodedHcert::decode(&payload)
        .expect("the payload decodes")
        .sign1
        .tbs_data(&[]);
    c.bench_function("es256_sign", |b| {
        b.iter(|| key.sign(black_box(&to_be_signed)).expect("signing works"))
    });
    c.bench_function("hcert_issue", |b| {
        b.iter(|| hcert::issue(black_box(&issuance), &key).expect("the DCC issues"))
    });
    c.bench_function("pdf_render", |b| {
        b.iter(|| pdf::render(black_box(&issuance), black_box(&payload)).expect("the PDF renders"))
    });
    c.bench_function("pdf_issue", |b| {
        b.iter(|| pdf::issue(black_box(&issuance), &key).expect("the PDF issues"))
    });
}

criterion_group!(benches, bench_pdf_channel);
criterion_main!(benches);
