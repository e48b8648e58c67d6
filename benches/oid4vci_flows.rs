//! Load driver for complete OpenID4VCI pre-authorized flows against a running `intyg serve`:
//! create a certificate with a wallet offer, exchange the code at the token endpoint, fetch a
//! nonce, and request a credential with one key proof. It reports flows a second and the latency
//! of the credential endpoint. `benches/load/flows.sh` starts the server and runs it.
//!
//! Settings come from the environment:
//! - `FLOWS_URL`: the server, such as `http://127.0.0.1:18091`
//! - `FLOWS_API_KEY`: an API key that may issue `personbevis`
//! - `FLOWS_SECONDS`: how long to run (default 20)
//! - `FLOWS_WORKERS`: concurrent flows (default 32)
//! - `FLOWS_RATE`: flows a second to start, spread over the workers; unset for as many as
//!   possible

use std::time::{Duration, Instant};

use base64::Engine;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use serde_json::{json, Value};

/// The same allocator as `intyg serve`, so the driver takes as little of the shared CPU as it can.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PRE_AUTHORIZED_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

fn b64url(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The wallet key of one worker: every proof of that worker is signed with it.
struct WalletKey {
    key: PKey<Private>,
    jwk: Value,
}

impl WalletKey {
    fn new() -> WalletKey {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256 exists");
        let key =
            PKey::from_ec_key(EcKey::generate(&group).expect("key generation")).expect("EC key");
        let public = PKey::public_key_from_der(&key.public_key_to_der().expect("public key"))
            .expect("public key");
        let jwk = Value::Object(intyg::crypto::ec_public_jwk(&public).expect("P-256 JWK"));
        WalletKey { key, jwk }
    }

    fn proof(&self, issuer: &str, nonce: &str) -> String {
        let header = json!({ "typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": self.jwk });
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let payload = json!({ "aud": issuer, "iat": now, "nonce": nonce });
        let input = format!(
            "{}.{}",
            b64url(header.to_string()),
            b64url(payload.to_string())
        );
        // ECDSA on the digest, as a wallet's secure element signs: OpenSSL's generic signer
        // would set up a context per proof and take CPU from the server under test.
        let digest = openssl::sha::sha256(input.as_bytes());
        let ec = self.key.ec_key().expect("EC key");
        let signature = openssl::ecdsa::EcdsaSig::sign(&digest, &ec).expect("signature");
        let mut raw = signature.r().to_vec_padded(32).expect("r");
        raw.extend(signature.s().to_vec_padded(32).expect("s"));
        format!("{input}.{}", b64url(raw))
    }
}

fn claims() -> Value {
    json!({
        "type": "personbevis",
        "claims": {
            "given_name": "Åsa", "family_name": "Öberg", "personal_identity_number": "196408233234",
            "birthdate": "1964-08-23",
            "address": { "street_address": "Storgatan 1", "postal_code": "111 22", "locality": "Stockholm" },
            "county": { "code": "01", "name": "Stockholms län" },
            "municipality": { "code": "0180", "name": "Stockholm" },
            "extract_date": "2026-12-01"
        },
        "channels": ["wallet"]
    })
}

fn percent_decode(text: &str) -> String {
    let raw = text.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut index = 0;
    while index < raw.len() {
        if raw[index] == b'%' && index + 2 < raw.len() {
            bytes.push(u8::from_str_radix(&text[index + 1..index + 3], 16).expect("hex escape"));
            index += 3;
        } else {
            bytes.push(raw[index]);
            index += 1;
        }
    }
    String::from_utf8(bytes).expect("UTF-8 offer")
}

/// Runs one flow and returns the credential endpoint's latency.
async fn flow(
    http: &reqwest::Client,
    base: &str,
    api_key: &str,
    wallet: &WalletKey,
) -> Result<Duration, String> {
    let created: Value = http
        .post(format!("{base}/api/v1/certificates"))
        .bearer_auth(api_key)
        .json(&claims())
        .send()
        .await
        .map_err(|error| error.to_string())?
        .json()
        .await
        .map_err(|error| error.to_string())?;
    let link = created["links"]["offer"]
        .as_str()
        .ok_or_else(|| format!("no offer in {created}"))?;
    let offer: Value = serde_json::from_str(&percent_decode(
        link.trim_start_matches("openid-credential-offer://?credential_offer="),
    ))
    .map_err(|error| error.to_string())?;
    let issuer = offer["credential_issuer"].as_str().unwrap_or_default();
    let code = offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
        .as_str()
        .unwrap_or_default();

    let token: Value = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", PRE_AUTHORIZED_GRANT),
            ("pre-authorized_code", code),
        ])
        .send()
        .await
        .map_err(|error| error.to_string())?
        .json()
        .await
        .map_err(|error| error.to_string())?;
    let access_token = token["access_token"]
        .as_str()
        .ok_or_else(|| format!("no access token in {token}"))?;
    let nonce: Value = http
        .post(format!("{base}/nonce"))
        .send()
        .await
        .map_err(|error| error.to_string())?
        .json()
        .await
        .map_err(|error| error.to_string())?;
    let nonce = nonce["c_nonce"].as_str().unwrap_or_default();
    let body = json!({
        "credential_configuration_id": "personbevis.dc+sd-jwt",
        "proofs": { "jwt": [wallet.proof(issuer, nonce)] },
    });

    let started = Instant::now();
    let response = http
        .post(format!("{base}/credential"))
        .bearer_auth(access_token)
        .json(&body)
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status();
    let _ = response.bytes().await.map_err(|error| error.to_string())?;
    let latency = started.elapsed();
    if status != reqwest::StatusCode::OK {
        return Err(format!("credential endpoint returned {status}"));
    }
    Ok(latency)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

#[tokio::main]
async fn main() {
    let Some(base) = setting("FLOWS_URL") else {
        eprintln!("FLOWS_URL is not set; run benches/load/flows.sh, which starts the server");
        return;
    };
    let api_key = setting("FLOWS_API_KEY").expect("FLOWS_API_KEY is set with FLOWS_URL");
    let seconds: u64 = setting("FLOWS_SECONDS").map_or(20, |text| text.parse().expect("seconds"));
    let workers: usize = setting("FLOWS_WORKERS").map_or(32, |text| text.parse().expect("workers"));
    let rate: Option<f64> = setting("FLOWS_RATE").map(|text| text.parse().expect("rate"));

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(workers)
        .build()
        .expect("HTTP client");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let http = http.clone();
            let base = base.clone();
            let api_key = api_key.clone();
            tokio::spawn(async move {
                let wallet = WalletKey::new();
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                // With a rate, each worker starts its flows on a fixed schedule, so a slow
                // response delays the flows behind it the way it would delay real wallets. The
                // workers' schedules are offset from one another, so flows start evenly spread
                // over time rather than all workers at once.
                let interval = rate.map(|rate| Duration::from_secs_f64(workers as f64 / rate));
                let mut next = started
                    + interval.map_or(Duration::ZERO, |interval| {
                        interval.mul_f64(worker as f64 / workers as f64)
                    });
                while Instant::now() < deadline {
                    if let Some(interval) = interval {
                        tokio::time::sleep_until(next.into()).await;
                        next += interval;
                    }
                    match flow(&http, &base, &api_key, &wallet).await {
                        Ok(latency) => latencies.push(latency),
                        Err(error) => {
                            if errors == 0 {
                                eprintln!("flow failed: {error}");
                            }
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (worker_latencies, worker_errors) = task.await.expect("worker finished");
        latencies.extend(worker_latencies);
        errors += worker_errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "flows: {} in {elapsed:.1} s = {:.0} a second; failed: {errors}",
        latencies.len(),
        latencies.len() as f64 / elapsed
    );
    println!(
        "credential endpoint: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.90).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        percentile(&latencies, 1.0).as_secs_f64() * 1000.0,
    );
}
