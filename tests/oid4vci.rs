//! The OpenID4VCI endpoints of a real `intyg serve` on 127.0.0.1, driven over HTTP by a small
//! wallet written here: metadata, offers, the token endpoint with transaction codes and DPoP,
//! nonces, every key proof check, deferred issuance and notifications.

mod common;

use common::*;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use reqwest::{Client as HttpClient, Response, StatusCode};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

const PRE_AUTHORIZED_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

fn b64url(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A P-256 key of the test wallet.
struct WalletKey {
    key: PKey<Private>,
    jwk: Map<String, Value>,
}

impl WalletKey {
    fn new() -> WalletKey {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
        let jwk = intyg::crypto::ec_public_jwk(&public).unwrap();
        WalletKey { key, jwk }
    }

    /// Signs a JWT with ES256.
    fn sign(&self, header: &Value, payload: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string()),
            b64url(payload.to_string())
        );
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &self.key).unwrap();
        let der = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
        let signature = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
        let mut raw = signature.r().to_vec_padded(32).unwrap();
        raw.extend(signature.s().to_vec_padded(32).unwrap());
        format!("{input}.{}", b64url(raw))
    }

    fn proof_parts(&self, issuer: &str, nonce: &str) -> (Value, Value) {
        (
            json!({ "typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": self.jwk }),
            json!({ "aud": issuer, "iat": now(), "nonce": nonce }),
        )
    }

    fn proof(&self, issuer: &str, nonce: &str) -> String {
        let (header, payload) = self.proof_parts(issuer, nonce);
        self.sign(&header, &payload)
    }

    fn dpop(&self, url: &str, nonce: Option<&str>, access_token: Option<&str>) -> String {
        let mut payload = json!({
            "htm": "POST", "htu": url, "iat": now(), "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(nonce) = nonce {
            payload["nonce"] = json!(nonce);
        }
        if let Some(token) = access_token {
            payload["ath"] = json!(b64url(Sha256::digest(token.as_bytes())));
        }
        self.sign(
            &json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk }),
            &payload,
        )
    }
}

/// A server with an e-service client, and a wallet's HTTP client.
struct Setup {
    server: Server,
    http: HttpClient,
    api_key: String,
}

impl Setup {
    fn start() -> Setup {
        Self::start_with(&[])
    }

    fn start_with(env: &[(&str, &str)]) -> Setup {
        let server = Server::start(env);
        let api_key = server.add_client("e-service", "personbevis", env);
        Setup {
            server,
            http: HttpClient::new(),
            api_key,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url)
    }

    /// Creates a personbevis for the wallet channel with extra request members.
    async fn create(&self, extra: Value) -> Value {
        let mut body = json!({
            "type": "personbevis",
            "claims": personbevis_claims(),
            "channels": ["wallet"],
        });
        for (name, value) in extra.as_object().unwrap() {
            body[name] = value.clone();
        }
        let response = self
            .http
            .post(self.url("/api/v1/certificates"))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    async fn api_post(&self, path: &str, body: Value) -> StatusCode {
        self.http
            .post(self.url(path))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn token_request(&self, form: &[(&str, &str)], dpop: Option<&str>) -> Response {
        let mut request = self.http.post(self.url("/token")).form(form);
        if let Some(dpop) = dpop {
            request = request.header("DPoP", dpop);
        }
        request.send().await.unwrap()
    }

    async fn token(&self, code: &str) -> String {
        let response = self
            .token_request(
                &[
                    ("grant_type", PRE_AUTHORIZED_GRANT),
                    ("pre-authorized_code", code),
                ],
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn nonce(&self) -> String {
        let response = self.http.post(self.url("/nonce")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        body["c_nonce"].as_str().unwrap().to_owned()
    }

    async fn credential(&self, token: &str, body: &Value) -> (StatusCode, String, Value) {
        let response = self
            .http
            .post(self.url("/credential"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, response.json().await.unwrap())
    }
}

/// Returns the offer object inside an `openid-credential-offer://` link by value.
fn offer_in(link: &str) -> Value {
    let encoded = link
        .strip_prefix("openid-credential-offer://?credential_offer=")
        .unwrap();
    let decoded = percent_decode(encoded);
    serde_json::from_str(&decoded).unwrap()
}

fn percent_decode(text: &str) -> String {
    let mut bytes = Vec::new();
    let mut index = 0;
    let raw = text.as_bytes();
    while index < raw.len() {
        if raw[index] == b'%' {
            bytes.push(u8::from_str_radix(&text[index + 1..index + 3], 16).unwrap());
            index += 3;
        } else {
            bytes.push(raw[index]);
            index += 1;
        }
    }
    String::from_utf8(bytes).unwrap()
}

fn pre_authorized_code(created: &Value) -> String {
    let offer = offer_in(created["links"]["offer"].as_str().unwrap());
    offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn request(proofs: &[String]) -> Value {
    json!({ "credential_configuration_id": "personbevis.dc+sd-jwt", "proofs": { "jwt": proofs } })
}

fn decode_jwt_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split(['.', '~']).nth(index).unwrap();
    use base64::Engine;
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn metadata_in_1_0_shape() {
    let setup = Setup::start();
    let issuer = &setup.server.base_url;
    let metadata: Value = setup
        .http
        .get(setup.url("/.well-known/openid-credential-issuer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(&metadata["credential_issuer"], issuer);
    for (member, path) in [
        ("credential_endpoint", "/credential"),
        ("nonce_endpoint", "/nonce"),
        ("deferred_credential_endpoint", "/deferred_credential"),
        ("notification_endpoint", "/notification"),
    ] {
        assert_eq!(metadata[member], format!("{issuer}{path}"), "{member}");
    }
    assert!(
        metadata["batch_credential_issuance"]["batch_size"]
            .as_u64()
            .unwrap()
            >= 3
    );
    assert_eq!(
        metadata["credential_response_encryption"]["alg_values_supported"],
        json!(["ECDH-ES"])
    );
    assert_eq!(
        metadata["credential_request_encryption"]["jwks"]["keys"][0]["kty"],
        "EC"
    );
    let configurations = metadata["credential_configurations_supported"]
        .as_object()
        .unwrap();
    for format in ["dc+sd-jwt", "jwt_vc_json", "vc+jwt"] {
        let configuration = &configurations[&format!("personbevis.{format}")];
        assert_eq!(configuration["format"], format);
        assert!(configuration["scope"].is_string());
        assert_eq!(
            configuration["cryptographic_binding_methods_supported"],
            json!(["jwk"])
        );
        assert_eq!(
            configuration["credential_signing_alg_values_supported"],
            json!(["ES256"])
        );
        assert_eq!(
            configuration["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"],
            json!(["ES256"])
        );
        let display = configuration["credential_metadata"]["display"]
            .as_array()
            .unwrap();
        let locales: Vec<&str> = display
            .iter()
            .map(|entry| entry["locale"].as_str().unwrap())
            .collect();
        assert_eq!(locales, ["sv", "en"], "{format}");
        assert!(!configuration["credential_metadata"]["claims"]
            .as_array()
            .unwrap()
            .is_empty());
    }
    assert_eq!(
        configurations["personbevis.dc+sd-jwt"]["vct"],
        "urn:se:intyg:personbevis:1"
    );

    let signed = metadata["signed_metadata"].as_str().unwrap();
    let header = decode_jwt_part(signed, 0);
    let payload = decode_jwt_part(signed, 1);
    assert!(!header["x5c"].as_array().unwrap().is_empty());
    assert_eq!(&payload["sub"], issuer);
    assert_eq!(payload["credential_issuer"], metadata["credential_issuer"]);

    let response = setup
        .http
        .get(setup.url("/.well-known/openid-credential-issuer"))
        .header("accept", "application/jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/jwt");
    assert_eq!(response.text().await.unwrap(), signed);

    let authorization_server: Value = setup
        .http
        .get(setup.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(&authorization_server["issuer"], issuer);
    assert_eq!(
        authorization_server["token_endpoint"],
        format!("{issuer}/token")
    );
}

#[tokio::test]
async fn issuer_with_path_everywhere_same() {
    let setup = Setup::start_with(&[("INTYG_PUBLIC_URL", "https://intyg.example.se/tenant/")]);
    let response = setup
        .http
        .get(setup.url("/.well-known/openid-credential-issuer/tenant"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    assert_eq!(
        metadata["credential_issuer"],
        "https://intyg.example.se/tenant"
    );
    let created = setup.create(json!({})).await;
    let offer = offer_in(created["links"]["offer"].as_str().unwrap());
    assert_eq!(offer["credential_issuer"], metadata["credential_issuer"]);

    // The aud of a proof must be the identifier byte for byte: a trailing slash fails.
    let token = setup.token(&pre_authorized_code(&created)).await;
    let wallet = WalletKey::new();
    let nonce = setup.nonce().await;
    let slash = wallet.proof("https://intyg.example.se/tenant/", &nonce);
    let (status, _, body) = setup.credential(&token, &request(&[slash])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_proof");
    let exact = wallet.proof("https://intyg.example.se/tenant", &nonce);
    let (status, _, body) = setup.credential(&token, &request(&[exact])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn each_proof_check_rejects() {
    let setup = Setup::start();
    let issuer = setup.server.base_url.clone();
    let created = setup.create(json!({})).await;
    let token = setup.token(&pre_authorized_code(&created)).await;
    let wallet = WalletKey::new();
    let other = WalletKey::new();
    // A rejected proof does not consume its nonce, so one nonce serves every case.
    let nonce = setup.nonce().await;
    let (header, payload) = wallet.proof_parts(&issuer, &nonce);
    let with = |mut value: Value, name: &str, member: Value| {
        value[name] = member;
        value
    };
    let without = |mut value: Value, name: &str| {
        value.as_object_mut().unwrap().remove(name);
        value
    };
    let mut private_jwk = wallet.jwk.clone();
    private_jwk.insert("d".into(), json!(b64url([7u8; 32])));
    let cases = [
        (
            "typ",
            with(header.clone(), "typ", json!("JWT")),
            payload.clone(),
            "typ",
        ),
        (
            "alg none",
            with(header.clone(), "alg", json!("none")),
            payload.clone(),
            "alg",
        ),
        (
            "alg HS256",
            with(header.clone(), "alg", json!("HS256")),
            payload.clone(),
            "alg",
        ),
        (
            "jwk and kid",
            with(header.clone(), "kid", json!("key-1")),
            payload.clone(),
            "exactly one of jwk, kid and x5c",
        ),
        (
            "no key",
            without(header.clone(), "jwk"),
            payload.clone(),
            "exactly one of jwk, kid and x5c",
        ),
        (
            "kid only",
            with(
                without(header.clone(), "jwk"),
                "kid",
                json!("did:example:1#0"),
            ),
            payload.clone(),
            "jwk only",
        ),
        (
            "private key",
            with(header.clone(), "jwk", json!(private_jwk)),
            payload.clone(),
            "private key member",
        ),
        (
            "other key",
            with(header.clone(), "jwk", json!(other.jwk)),
            payload.clone(),
            "signature",
        ),
        (
            "aud",
            header.clone(),
            with(payload.clone(), "aud", json!("https://other.example.se")),
            "aud",
        ),
        (
            "no aud",
            header.clone(),
            without(payload.clone(), "aud"),
            "aud",
        ),
        (
            "iat future",
            header.clone(),
            with(payload.clone(), "iat", json!(now() + 600)),
            "future",
        ),
        (
            "iat old",
            header.clone(),
            with(payload.clone(), "iat", json!(now() - 3600)),
            "old",
        ),
        (
            "iss",
            header.clone(),
            with(payload.clone(), "iss", json!("wallet-app")),
            "anonymous",
        ),
        (
            "no nonce",
            header.clone(),
            without(payload.clone(), "nonce"),
            "nonce",
        ),
    ];
    for (name, header, payload, expected) in cases {
        let proof = wallet.sign(&header, &payload);
        let (status, content_type, body) = setup.credential(&token, &request(&[proof])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_eq!(content_type, "application/json", "{name}");
        assert_eq!(body["error"], "invalid_proof", "{name}: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.contains(expected),
            "{name}: {description:?} does not name {expected:?}"
        );
    }

    let unknown = wallet.proof(&issuer, "not-a-nonce-of-this-issuer");
    let (status, _, body) = setup.credential(&token, &request(&[unknown])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_nonce");

    let valid = wallet.proof(&issuer, &nonce);
    let (status, content_type, body) = setup
        .credential(&token, &request(std::slice::from_ref(&valid)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "application/json");
    let credential = body["credentials"][0]["credential"].as_str().unwrap();
    assert_eq!(
        decode_jwt_part(credential, 1)["cnf"]["jwk"],
        json!(wallet.jwk)
    );

    // The same proof again: its nonce was used.
    let (status, _, body) = setup.credential(&token, &request(&[valid])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_nonce", "{body}");
}

#[tokio::test]
async fn batch_binds_each_credential() {
    let setup = Setup::start();
    let issuer = setup.server.base_url.clone();
    let created = setup.create(json!({})).await;
    let token = setup.token(&pre_authorized_code(&created)).await;
    let nonce = setup.nonce().await;
    let wallets = [WalletKey::new(), WalletKey::new(), WalletKey::new()];
    let proofs: Vec<String> = wallets
        .iter()
        .map(|wallet| wallet.proof(&issuer, &nonce))
        .collect();
    let (status, _, body) = setup.credential(&token, &request(&proofs)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let credentials = body["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 3);
    for (credential, wallet) in credentials.iter().zip(&wallets) {
        let payload = decode_jwt_part(credential["credential"].as_str().unwrap(), 1);
        assert_eq!(payload["cnf"]["jwk"], json!(wallet.jwk));
    }

    let nonce = setup.nonce().await;
    let too_many: Vec<String> = (0..11).map(|_| wallets[0].proof(&issuer, &nonce)).collect();
    let (status, _, body) = setup.credential(&token, &request(&too_many)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_proof");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("batch_size"));
}

#[tokio::test]
async fn request_errors_use_1_0_codes() {
    let setup = Setup::start();
    let issuer = setup.server.base_url.clone();
    let created = setup.create(json!({})).await;
    let token = setup.token(&pre_authorized_code(&created)).await;
    let wallet = WalletKey::new();
    let nonce = setup.nonce().await;
    let proof = wallet.proof(&issuer, &nonce);
    let cases = [
        (
            json!({ "proofs": { "jwt": [proof] } }),
            "invalid_credential_request",
        ),
        (
            json!({ "credential_configuration_id": "personbevis.mso_mdoc", "proofs": { "jwt": [proof] } }),
            "unknown_credential_configuration",
        ),
        (
            json!({ "credential_identifier": "personbevis-1", "proofs": { "jwt": [proof] } }),
            "unknown_credential_identifier",
        ),
        (
            json!({ "credential_configuration_id": "personbevis.dc+sd-jwt", "proof": { "proof_type": "jwt", "jwt": proof } }),
            "invalid_credential_request",
        ),
        (
            json!({ "credential_configuration_id": "personbevis.dc+sd-jwt", "proofs": { "jwt": [proof] },
                 "credential_response_encryption": { "jwk": wallet.jwk, "enc": "A128GCM" } }),
            "invalid_encryption_parameters",
        ),
    ];
    for (body, code) in cases {
        let (status, content_type, response) = setup.credential(&token, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {response}");
        assert_eq!(content_type, "application/json");
        assert_eq!(response["error"], code, "{body}: {response}");
        assert!(response["error_description"].is_string());
    }

    let response = setup
        .http
        .post(setup.url("/credential"))
        .json(&request(std::slice::from_ref(&proof)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer error=\"invalid_token\""));
    let (status, _, body) = setup.credential("not-a-token", &request(&[proof])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn pre_authorized_code_used_twice() {
    let setup = Setup::start();
    let created = setup.create(json!({})).await;
    let code = pre_authorized_code(&created);
    let response = setup
        .token_request(
            &[
                ("grant_type", PRE_AUTHORIZED_GRANT),
                ("pre-authorized_code", &code),
            ],
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "an active certificate needs no refresh token"
    );
    let response = setup
        .token_request(
            &[
                ("grant_type", PRE_AUTHORIZED_GRANT),
                ("pre-authorized_code", &code),
            ],
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn sixth_wrong_tx_code_locked() {
    let setup = Setup::start();
    let created = setup.create(json!({ "offer": { "tx_code": true } })).await;
    let code = pre_authorized_code(&created);
    let right = created["offer_tx_code"].as_str().unwrap().to_owned();
    assert_eq!(right.len(), 6);
    let grant =
        &offer_in(created["links"]["offer"].as_str().unwrap())["grants"][PRE_AUTHORIZED_GRANT];
    assert_eq!(grant["tx_code"]["input_mode"], "numeric");
    assert_eq!(grant["tx_code"]["length"], 6);
    assert!(grant["tx_code"]["description"]
        .as_str()
        .unwrap()
        .starts_with("Ange"));
    assert!(!created["links"]["offer"].as_str().unwrap().contains(&right));

    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let attempt = |tx_code: String| {
        let code = code.clone();
        let setup = &setup;
        async move {
            let response = setup
                .token_request(
                    &[
                        ("grant_type", PRE_AUTHORIZED_GRANT),
                        ("pre-authorized_code", &code),
                        ("tx_code", &tx_code),
                    ],
                    None,
                )
                .await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    };
    for left in [4, 3, 2, 1] {
        let (status, body) = attempt(wrong.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_grant");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.contains(&format!("{left} attempts")),
            "{description}"
        );
    }
    let (_, fifth) = attempt(wrong.to_owned()).await;
    assert!(
        fifth["error_description"]
            .as_str()
            .unwrap()
            .contains("locked"),
        "{fifth}"
    );
    let (status, sixth) = attempt(wrong.to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(sixth["error"], "invalid_grant");
    assert!(
        sixth["error_description"]
            .as_str()
            .unwrap()
            .contains("locked"),
        "{sixth}"
    );
    let (_, right_after) = attempt(right).await;
    assert!(
        right_after["error_description"]
            .as_str()
            .unwrap()
            .contains("locked"),
        "the right code opened a locked offer: {right_after}"
    );

    // A locked offer is no longer served by reference.
    let by_reference = created["links"]["offer_by_reference"].as_str().unwrap();
    let uri = percent_decode(
        by_reference
            .strip_prefix("openid-credential-offer://?credential_offer_uri=")
            .unwrap(),
    );
    let path = uri.strip_prefix(&setup.server.base_url).unwrap();
    let response = setup.http.get(setup.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn offer_by_reference_and_qr() {
    let setup = Setup::start();
    let created = setup.create(json!({})).await;
    let by_reference = created["links"]["offer_by_reference"].as_str().unwrap();
    let uri = percent_decode(
        by_reference
            .strip_prefix("openid-credential-offer://?credential_offer_uri=")
            .unwrap(),
    );
    let path = uri.strip_prefix(&setup.server.base_url).unwrap().to_owned();
    let offer: Value = setup
        .http
        .get(setup.url(&path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(offer, offer_in(created["links"]["offer"].as_str().unwrap()));

    let png = setup
        .http
        .get(created["links"]["offer_qr_png"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let width = info.width as usize;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, info.height as usize, |x, y| {
            pixels[y * width + x]
        });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().unwrap().1, by_reference);

    let svg = setup
        .http
        .get(created["links"]["offer_qr_svg"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));

    // Once the code is used, the offer is gone.
    setup.token(&pre_authorized_code(&created)).await;
    let response = setup.http.get(setup.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(body["error_description"].is_string());
}

#[tokio::test]
async fn revoked_certificate_refused() {
    let setup = Setup::start();
    let created = setup.create(json!({})).await;
    let id = created["id"].as_str().unwrap();
    let revoke_path = format!("/api/v1/certificates/{id}/revoke");
    let uri = percent_decode(
        created["links"]["offer_by_reference"]
            .as_str()
            .unwrap()
            .strip_prefix("openid-credential-offer://?credential_offer_uri=")
            .unwrap(),
    );
    let status = setup
        .api_post(&revoke_path, json!({ "reason": "test" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = setup.http.get(&uri).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = setup
        .token_request(
            &[
                ("grant_type", PRE_AUTHORIZED_GRANT),
                ("pre-authorized_code", &pre_authorized_code(&created)),
            ],
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // Revoked after the token was issued: the credential endpoint denies the request.
    let created = setup.create(json!({})).await;
    let token = setup.token(&pre_authorized_code(&created)).await;
    let id = created["id"].as_str().unwrap();
    setup
        .api_post(
            &format!("/api/v1/certificates/{id}/revoke"),
            json!({ "reason": "test" }),
        )
        .await;
    let nonce = setup.nonce().await;
    let proof = WalletKey::new().proof(&setup.server.base_url, &nonce);
    let (status, _, body) = setup.credential(&token, &request(&[proof])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "credential_request_denied");
}

#[tokio::test]
async fn suspended_offer_works_after_reinstatement() {
    let setup = Setup::start();
    let created = setup.create(json!({})).await;
    let id = created["id"].as_str().unwrap();
    let code = pre_authorized_code(&created);
    let exchange = [
        ("grant_type", PRE_AUTHORIZED_GRANT),
        ("pre-authorized_code", code.as_str()),
    ];
    let status = setup
        .api_post(&format!("/api/v1/certificates/{id}/suspend"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    let response = setup.token_request(&exchange, None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("suspended"), "{description}");

    let status = setup
        .api_post(&format!("/api/v1/certificates/{id}/reinstate"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = setup.token_request(&exchange, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn dpop_binds_token_and_rejects_replay() {
    let setup = Setup::start();
    let issuer = setup.server.base_url.clone();
    let token_url = format!("{issuer}/token");
    let created = setup.create(json!({})).await;
    let code = pre_authorized_code(&created);
    let form = [
        ("grant_type", PRE_AUTHORIZED_GRANT),
        ("pre-authorized_code", code.as_str()),
    ];
    let wallet = WalletKey::new();

    let response = setup
        .token_request(&form, Some(&wallet.dpop(&token_url, None, None)))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let server_nonce = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce");

    let proof = wallet.dpop(&token_url, Some(&server_nonce), None);
    let response = setup.token_request(&form, Some(&proof)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_owned();

    // The same DPoP proof for another offer: its jti was used.
    let other = setup.create(json!({})).await;
    let other_code = pre_authorized_code(&other);
    let response = setup
        .token_request(
            &[
                ("grant_type", PRE_AUTHORIZED_GRANT),
                ("pre-authorized_code", &other_code),
            ],
            Some(&proof),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("used before"));

    // A DPoP-bound token is not a bearer token.
    let nonce = setup.nonce().await;
    let credential_request = request(&[wallet.proof(&issuer, &nonce)]);
    let (status, _, body) = setup.credential(&token, &credential_request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");

    let credential_url = format!("{issuer}/credential");
    let send = |dpop: String| {
        setup
            .http
            .post(setup.url("/credential"))
            .header("authorization", format!("DPoP {token}"))
            .header("DPoP", dpop)
            .json(&credential_request)
            .send()
    };
    let other_key = WalletKey::new();
    let response = send(other_key.dpop(&credential_url, Some(&server_nonce), Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");

    let good = wallet.dpop(&credential_url, Some(&server_nonce), Some(&token));
    let response = send(good.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(good).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a replayed DPoP proof was accepted"
    );
}

#[tokio::test]
async fn deferred_until_approved() {
    let setup = Setup::start();
    let issuer = setup.server.base_url.clone();
    let created = setup.create(json!({ "approval": "pending" })).await;
    assert_eq!(created["status"], "pending");
    let response = setup
        .token_request(
            &[
                ("grant_type", PRE_AUTHORIZED_GRANT),
                ("pre-authorized_code", &pre_authorized_code(&created)),
            ],
            None,
        )
        .await;
    let body: Value = response.json().await.unwrap();
    let first_token = body["access_token"].as_str().unwrap().to_owned();
    let refresh_token = body["refresh_token"]
        .as_str()
        .expect("a pending certificate's token response has a refresh_token")
        .to_owned();
    let wallet = WalletKey::new();
    let token = first_token;
    let nonce = setup.nonce().await;
    let (status, content_type, body) = setup
        .credential(&token, &request(&[wallet.proof(&issuer, &nonce)]))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(content_type, "application/json");
    let transaction_id = body["transaction_id"].as_str().unwrap().to_owned();
    assert!(body["interval"].as_i64().unwrap() > 0);

    let deferred = |token: String, transaction_id: String| {
        let setup = &setup;
        async move {
            let response = setup
                .http
                .post(setup.url("/deferred_credential"))
                .bearer_auth(token)
                .json(&json!({ "transaction_id": transaction_id }))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = deferred(token.clone(), transaction_id.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    // The access token lives minutes and approval may take days: a wallet polls later with a
    // new access token from the refresh token, which works once.
    let refresh = |refresh_token: String| {
        let setup = &setup;
        async move {
            let response = setup
                .token_request(
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &refresh_token),
                    ],
                    None,
                )
                .await;
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, refreshed) = refresh(refresh_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert!(
        refreshed["refresh_token"].is_string(),
        "no rotated refresh token"
    );
    let (status, reused) = refresh(refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reused["error"], "invalid_grant");
    let token = refreshed["access_token"].as_str().unwrap().to_owned();

    let id = created["id"].as_str().unwrap();
    let status = setup
        .api_post(&format!("/api/v1/certificates/{id}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = deferred(token.clone(), transaction_id.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let credential = body["credentials"][0]["credential"].as_str().unwrap();
    assert_eq!(
        decode_jwt_part(credential, 1)["cnf"]["jwk"],
        json!(wallet.jwk)
    );
    assert!(body["notification_id"].is_string());

    let (status, body) = deferred(token, transaction_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_transaction_id");
}

#[tokio::test]
async fn notification_recorded_once_per_id() {
    let setup = Setup::start();
    let issuer = setup.server.base_url.clone();
    let created = setup.create(json!({})).await;
    let token = setup.token(&pre_authorized_code(&created)).await;
    let nonce = setup.nonce().await;
    let (_, _, body) = setup
        .credential(&token, &request(&[WalletKey::new().proof(&issuer, &nonce)]))
        .await;
    let notification_id = body["notification_id"].as_str().unwrap();
    let notify = |body: Value| {
        setup
            .http
            .post(setup.url("/notification"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    for event in [
        "credential_accepted",
        "credential_deleted",
        "credential_failure",
    ] {
        let response = notify(json!({ "notification_id": notification_id, "event": event }))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{event}");
    }
    let response = notify(json!({ "notification_id": "unknown", "event": "credential_accepted" }))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_notification_id");
    let response =
        notify(json!({ "notification_id": notification_id, "event": "credential_lost" }))
            .await
            .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_notification_request");

    // The id belongs to the certificate of its credential: another certificate's access token
    // cannot report on it.
    let other = setup.create(json!({})).await;
    let other_token = setup.token(&pre_authorized_code(&other)).await;
    let response = setup
        .http
        .post(setup.url("/notification"))
        .bearer_auth(&other_token)
        .json(&json!({ "notification_id": notification_id, "event": "credential_deleted" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_notification_id", "{body}");

    let database = format!(
        "sqlite://{}",
        setup.server.data_dir.path().join("intyg.db").display()
    );
    let store = intyg::store::open(&database).await.unwrap();
    let actions: Vec<String> = store
        .audit_events(created["id"].as_str().unwrap())
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.actor == "wallet")
        .map(|event| event.action)
        .collect();
    assert_eq!(
        actions,
        [
            "wallet.credential_accepted",
            "wallet.credential_deleted",
            "wallet.credential_failure"
        ]
    );
}

#[tokio::test]
async fn pushed_authorization_request_checks() {
    // The upstream provider is contacted only at the authorization endpoint, so a PAR test
    // needs no provider running.
    let env = [
        ("INTYG_OIDC_ISSUER", "http://127.0.0.1:9"),
        ("INTYG_OIDC_CLIENT_ID", "intyg"),
        ("INTYG_OIDC_CLIENT_SECRET", "secret"),
    ];
    let setup = Setup::start_with(&env);
    let metadata: Value = setup
        .http
        .get(setup.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["require_pushed_authorization_requests"], true);
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );

    let created = setup.create(json!({})).await;
    let offer = offer_in(created["links"]["offer"].as_str().unwrap());
    let issuer_state = offer["grants"]["authorization_code"]["issuer_state"]
        .as_str()
        .unwrap()
        .to_owned();
    let challenge = b64url(Sha256::digest(
        b"a-code-verifier-of-at-least-43-characters-0123",
    ));
    let valid = vec![
        ("response_type", "code".to_owned()),
        ("client_id", "wallet".to_owned()),
        ("redirect_uri", "https://wallet.example.se/cb".to_owned()),
        ("code_challenge", challenge.clone()),
        ("code_challenge_method", "S256".to_owned()),
        ("issuer_state", issuer_state.clone()),
        ("scope", "personbevis.dc+sd-jwt".to_owned()),
    ];
    let push =
        |form: Vec<(&'static str, String)>| setup.http.post(setup.url("/par")).form(&form).send();
    let response = push(valid.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert!(body["request_uri"]
        .as_str()
        .unwrap()
        .starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!(body["expires_in"].as_i64().unwrap() > 0);

    let replace = |name: &str, value: &str| {
        valid
            .iter()
            .map(|(key, old)| {
                (
                    *key,
                    if *key == name {
                        value.to_owned()
                    } else {
                        old.clone()
                    },
                )
            })
            .collect::<Vec<_>>()
    };
    let without = |name: &str| {
        valid
            .iter()
            .filter(|(key, _)| *key != name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let details =
        r#"[{"type":"openid_credential","credential_configuration_id":"other.dc+sd-jwt"}]"#;
    let mut with_details = without("scope");
    with_details.push(("authorization_details", details.to_owned()));
    let cases = [
        (
            "plain PKCE",
            replace("code_challenge_method", "plain"),
            "invalid_request",
            "S256",
        ),
        (
            "no PKCE",
            without("code_challenge"),
            "invalid_request",
            "code_challenge",
        ),
        (
            "no issuer_state",
            without("issuer_state"),
            "invalid_request",
            "issuer_state",
        ),
        (
            "unknown issuer_state",
            replace("issuer_state", "unknown"),
            "invalid_request",
            "issuer_state",
        ),
        (
            "token response type",
            replace("response_type", "token"),
            "invalid_request",
            "response_type",
        ),
        (
            "unknown scope",
            replace("scope", "openid"),
            "invalid_scope",
            "openid",
        ),
        (
            "unknown configuration",
            with_details,
            "invalid_authorization_details",
            "other.dc+sd-jwt",
        ),
    ];
    for (name, form, code, named) in cases {
        let response = push(form).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{name}: {body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(named),
            "{name}: {body}"
        );
    }

    let response = setup
        .http
        .get(setup.url(
            "/authorize?client_id=wallet&request_uri=urn:ietf:params:oauth:request_uri:unknown",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authorization_flow_off_without_upstream() {
    let setup = Setup::start();
    let created = setup.create(json!({})).await;
    let offer = offer_in(created["links"]["offer"].as_str().unwrap());
    assert!(offer["grants"].get("authorization_code").is_none());
    let response = setup
        .http
        .post(setup.url("/par"))
        .form(&[("response_type", "code")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
