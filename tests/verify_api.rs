//! Revocation and suspension seen by verifiers and holders: `POST /api/v1/verify`, `intyg verify`
//! (fetching the list, or reading it from a file) and the token endpoint of the credential offer.

mod common;
mod status_support;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use status_support::*;

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

/// Runs `intyg verify --json` on one credential and returns its exit code and report.
fn cli_verify(credential: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut command = intyg();
    command.args(["verify", "--json"]).args(extra).arg("-");
    let output = run_with_input(command, credential);
    let report = serde_json::from_str(stdout(&output).trim())
        .unwrap_or_else(|error| panic!("{error}: {}{}", stdout(&output), stderr(&output)));
    (output.status.code(), report)
}

async fn token_request(issuing: &Issuing, code: &str) -> (StatusCode, Value) {
    let response = issuing
        .http
        .post(issuing.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}"
        ))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn every_format_verifies_with_status() {
    let issuing = Issuing::start(&[]);
    let created = issuing.create().await;
    let id = created["id"].as_str().unwrap();
    for format in ["dc+sd-jwt", "vc+jwt", "jwt_vc_json", "hcert"] {
        let credential = issuing.credential(id, format).await;
        let report = issuing.verify_api(&credential).await;
        assert_eq!(report["valid"], true, "{format}: {report}");
        assert_eq!(report["format"], format);
        assert_eq!(report["claims"]["given_name"], "Åsa", "{format}: {report}");
        assert!(
            report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|check| check["ok"] == true),
            "{format}: {report}"
        );
        for name in ["signature", "chain", "times"] {
            assert_eq!(check(&report, name)["ok"], true, "{format}: {name}");
        }
        assert_eq!(check(&report, "status")["ok"], true, "{format}: {report}");
        if format != "hcert" {
            assert_eq!(check(&report, "typ")["ok"], true);
        }
    }
}

#[tokio::test]
async fn revocation_reaches_verifiers_and_offer() {
    let issuing = Issuing::start(&[]);
    let created = issuing.create().await;
    let id = created["id"].as_str().unwrap();
    let code = pre_authorized_code(created["links"]["offer"].as_str().unwrap());
    let credentials: Vec<String> = all_credentials(&issuing, id).await;

    let (exit, report) = cli_verify(&credentials[0], &[]);
    assert_eq!(exit, Some(0), "{report}");
    assert_eq!(check(&report, "status")["ok"], true, "{report}");

    // Suspension: verifiers see it, the offer waits, reinstatement restores both.
    assert_eq!(issuing.change_status(id, "suspend").await.0, StatusCode::OK);
    for credential in &credentials {
        let report = issuing.verify_api(credential).await;
        assert_eq!(report["valid"], false, "{report}");
        let status = check(&report, "status");
        assert_eq!(status["ok"], false);
        assert!(
            status["detail"].as_str().unwrap().contains("suspended"),
            "{report}"
        );
    }
    let (status, error) = token_request(&issuing, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_grant", "{error}");
    assert_eq!(
        issuing.change_status(id, "reinstate").await.0,
        StatusCode::OK
    );
    for credential in &credentials {
        assert_eq!(issuing.verify_api(credential).await["valid"], true);
    }

    // Revocation: every verifier reports it and the offer is gone.
    assert_eq!(issuing.change_status(id, "revoke").await.0, StatusCode::OK);
    for credential in &credentials {
        let report = issuing.verify_api(credential).await;
        assert_eq!(report["valid"], false, "{report}");
        let status = check(&report, "status");
        assert_eq!(status["ok"], false);
        assert!(
            status["detail"].as_str().unwrap().contains("revoked"),
            "{report}"
        );
        assert_eq!(check(&report, "signature")["ok"], true);
    }
    let (exit, report) = cli_verify(&credentials[0], &[]);
    assert_eq!(exit, Some(1), "{report}");
    let codes: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["revoked"]);

    let (status, error) = token_request(&issuing, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_grant", "{error}");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("unknown, expired or already used"),
        "the revoked certificate's code still exists: {error}"
    );
}

/// Issues every format of certificate `id`: the three JWT formats, then the 2D code, whose
/// status the verify API finds in the server's records.
async fn all_credentials(issuing: &Issuing, id: &str) -> Vec<String> {
    let mut credentials = Vec::new();
    for format in ["dc+sd-jwt", "vc+jwt", "jwt_vc_json", "hcert"] {
        credentials.push(issuing.credential(id, format).await);
    }
    credentials
}

#[tokio::test]
async fn cli_reads_status_list_from_file() {
    let issuing = Issuing::start(&[]);
    let created = issuing.create().await;
    let id = created["id"].as_str().unwrap();
    let sd_jwt = issuing.credential(id, "dc+sd-jwt").await;
    let vc_jwt = issuing.credential(id, "vc+jwt").await;
    let (_, uri) = token_status(&sd_jwt);
    let dir = temp_dir();
    let valid_list = write(dir.path(), "valid.jwt", &issuing.list(&uri).await.2);
    issuing.change_status(id, "revoke").await;
    let revoked_list = write(dir.path(), "revoked.jwt", &issuing.list(&uri).await.2);
    let revocation = write(
        dir.path(),
        "revocation.jwt",
        &issuing.list(&format!("{uri}/revocation")).await.2,
    );
    let suspension = write(
        dir.path(),
        "suspension.jwt",
        &issuing.list(&format!("{uri}/suspension")).await.2,
    );
    drop(issuing);

    let path = |file: &std::path::Path| file.to_str().unwrap().to_owned();
    let (exit, report) = cli_verify(&sd_jwt, &["--offline", "--status-list", &path(&valid_list)]);
    assert_eq!(exit, Some(0), "{report}");
    let (exit, report) = cli_verify(
        &sd_jwt,
        &["--offline", "--status-list", &path(&revoked_list)],
    );
    assert_eq!(exit, Some(1), "{report}");
    assert_eq!(report["errors"][0]["code"], "revoked");
    let (exit, report) = cli_verify(
        &vc_jwt,
        &[
            "--offline",
            "--status-list",
            &path(&revocation),
            "--status-list",
            &path(&suspension),
        ],
    );
    assert_eq!(exit, Some(1), "{report}");
    assert_eq!(report["errors"][0]["code"], "revoked");

    let (exit, report) = cli_verify(&sd_jwt, &["--offline"]);
    assert_eq!(exit, Some(1), "{report}");
    assert_eq!(report["errors"][0]["code"], "status_unavailable");

    // The server is stopped, so fetching the list fails and the status cannot be confirmed.
    let (exit, report) = cli_verify(&sd_jwt, &[]);
    assert_eq!(exit, Some(1), "{report}");
    assert_eq!(report["errors"][0]["code"], "status_unavailable");
}

#[tokio::test]
async fn verify_api_checks_key_binding() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use sha2::{Digest, Sha256};

    let issuing = Issuing::start(&[]);
    let created = issuing.create().await;
    let id = created["id"].as_str().unwrap();
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let ec = key.ec_key().unwrap();
    let mut context = openssl::bn::BigNumContext::new().unwrap();
    let (mut x, mut y) = (
        openssl::bn::BigNum::new().unwrap(),
        openssl::bn::BigNum::new().unwrap(),
    );
    ec.public_key()
        .affine_coordinates(&group, &mut x, &mut y, &mut context)
        .unwrap();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": b64(&x.to_vec_padded(32).unwrap()), "y": b64(&y.to_vec_padded(32).unwrap()),
    });
    let (status, body) = issuing
        .credential_response(id, "dc+sd-jwt", Some(&jwk))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let credential = body["credential"].as_str().unwrap().to_owned();
    assert_eq!(jws_part(&credential, 1)["cnf"]["jwk"]["x"], jwk["x"]);

    let sign_kb = |sd_hash: &str| {
        let header = b64(br#"{"alg":"ES256","typ":"kb+jwt"}"#);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let payload = b64(&serde_json::to_vec(
            &json!({"iat": now, "aud": "https://verifier.example", "nonce": "n-1", "sd_hash": sd_hash}),
        )
        .unwrap());
        let input = format!("{header}.{payload}");
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
        let der = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
        let signature = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
        let mut raw = signature.r().to_vec_padded(32).unwrap();
        raw.extend(signature.s().to_vec_padded(32).unwrap());
        format!("{input}.{}", b64(&raw))
    };
    let presented = format!(
        "{credential}{}",
        sign_kb(&b64(&Sha256::digest(credential.as_bytes())))
    );
    let report = issuing.verify_api(&presented).await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(check(&report, "key_binding")["ok"], true);

    let wrong = format!("{credential}{}", sign_kb("not-the-hash"));
    let report = issuing.verify_api(&wrong).await;
    assert_eq!(report["valid"], false);
    let binding = check(&report, "key_binding");
    assert_eq!(binding["ok"], false);
    assert!(binding["detail"].as_str().unwrap().contains("sd_hash"));
}

#[tokio::test]
async fn verify_api_rejects_tampering_and_bad_input() {
    let issuing = Issuing::start(&[]);
    let created = issuing.create().await;
    let credential = issuing
        .credential(created["id"].as_str().unwrap(), "vc+jwt")
        .await;
    // Changing the first character of the signature changes its first byte.
    let start = credential.rfind('.').unwrap() + 1;
    let replacement = if &credential[start..=start] == "A" {
        "B"
    } else {
        "A"
    };
    let mut tampered = credential.clone();
    tampered.replace_range(start..=start, replacement);
    let report = issuing.verify_api(&tampered).await;
    assert_eq!(report["valid"], false);
    assert_eq!(check(&report, "signature")["ok"], false);
    assert_eq!(
        check(&report, "status")["ok"],
        false,
        "a list was checked for an untrusted credential"
    );

    let report = issuing.verify_api("hello").await;
    assert_eq!(report["valid"], false);
    assert_eq!(check(&report, "format")["ok"], false);
    assert!(report.get("format").is_none());

    let response = issuing
        .http
        .post(issuing.url("/api/v1/verify"))
        .json(&json!({ "credential": credential, "at": "yesterday" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/at");
    let response = issuing
        .http
        .post(issuing.url("/api/v1/verify"))
        .json(&json!({ "token": credential }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let later = time::OffsetDateTime::now_utc() + time::Duration::days(400);
    let at = later
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let response = issuing
        .http
        .post(issuing.url("/api/v1/verify"))
        .json(&json!({ "credential": credential, "at": at }))
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(check(&report, "times")["ok"], false, "{report}");
}
