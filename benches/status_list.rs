//! A status list of 1,000,000 entries, as a Token Status List and as a Bitstring Status List:
//! its encoded size, and the time to encode it again after one entry changed (pack, compress,
//! sign). The bare ES256 signature is measured in the same run as the peer.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use intyg::crypto::{IssuerKey, Signer};
use intyg::status::{bitstring, token, Purpose};
use rand::{Rng, SeedableRng};
use time::{Duration, OffsetDateTime};

const ENTRIES: u32 = 1_000_000;
/// Entries that are not valid: 1% revoked or suspended, at random places.
const CHANGED: usize = 10_000;

fn repository(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn benchmarks(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let key = IssuerKey::load(
        &repository("keys-example/issuer-signing.key.pem"),
        &repository("keys-example/issuer-signing.chain.pem"),
        now,
    )
    .unwrap();
    let mut random = rand::rngs::StdRng::seed_from_u64(7);
    let mut entries: Vec<(u32, u8)> = (0..CHANGED)
        .map(|_| (random.gen_range(0..ENTRIES), random.gen_range(1..=2)))
        .collect();
    let times = token::ListTimes {
        issued_at: now.unix_timestamp(),
        expires_at: (now + Duration::days(1)).unix_timestamp(),
        ttl: 300,
    };
    let uri = "https://intyg.example.se/status/0";
    let revocation_uri = format!("{uri}/revocation");
    let list = bitstring::ListCredential {
        uri: &revocation_uri,
        issuer: "https://intyg.example.se",
        purpose: Purpose::Revocation,
        valid_from: now,
        valid_until: now + Duration::days(1),
    };

    // The sizes are printed once, for BENCHMARKS.md.
    for (label, changed) in [("no entry set", 0), ("1% set", CHANGED)] {
        let bytes = token::pack(ENTRIES, entries[..changed].iter().copied());
        let lst = token::encode_lst(&bytes).unwrap();
        let signed = token::sign(uri, &bytes, times, &key).unwrap();
        let bits = bitstring::pack(ENTRIES, entries[..changed].iter().map(|(index, _)| *index));
        let encoded = bitstring::encode_list(&bits).unwrap();
        println!(
            "{ENTRIES} entries, {label}: token list {} bytes packed, lst {} characters, signed token {} bytes; bitstring {} bytes packed, encodedList {} characters",
            bytes.len(),
            lst.len(),
            signed.len(),
            bits.len(),
            encoded.len()
        );
    }

    let mut group = c.benchmark_group("status_list_1m");
    group.sample_size(20);
    group.bench_function("es256_signature_alone", |b| {
        b.iter(|| key.sign(b"status list signing input").unwrap())
    });
    group.bench_function("token_reencode_after_one_change", |b| {
        let mut next = 0u32;
        b.iter(|| {
            next = (next + 7919) % ENTRIES;
            entries[0] = (next, token::INVALID);
            let bytes = token::pack(ENTRIES, entries.iter().copied());
            token::sign(uri, &bytes, times, &key).unwrap()
        })
    });
    group.bench_function("bitstring_reencode_after_one_change", |b| {
        let mut next = 0u32;
        b.iter(|| {
            next = (next + 7919) % ENTRIES;
            entries[0] = (next, token::INVALID);
            let bits = bitstring::pack(ENTRIES, entries.iter().map(|(index, _)| *index));
            bitstring::sign(&list, &bits, &key).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
