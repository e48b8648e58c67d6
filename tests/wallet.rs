//! An independent wallet client, `@openid4vc/openid4vci` with `@openid4vc/oauth2` (npm), redeems
//! credential offers of a real `intyg serve` on 127.0.0.1, and `@sd-jwt/sd-jwt-vc` and `jose`
//! check the credentials it receives (`tests/wallet/wallet.mjs`).

mod common;

use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn node_ready() -> bool {
    let installed = repository()
        .join("tests/wallet/node_modules/@openid4vc/openid4vci")
        .is_dir();
    installed
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

fn skip() -> bool {
    skip_without(
        "node with tests/wallet/node_modules (npm ci --prefix tests/wallet)",
        node_ready(),
    )
}

/// A running server with an e-service client that may issue personbevis.
struct Issuer {
    server: Server,
    key: String,
}

impl Issuer {
    fn start() -> Issuer {
        let server = Server::start(&[]);
        let key = server.add_client("e-service", "personbevis", &[]);
        Issuer { server, key }
    }

    /// Creates a personbevis for the wallet channel and returns the API response.
    async fn create(&self, offer_options: Value) -> Value {
        let body = json!({
            "type": "personbevis",
            "claims": personbevis_claims(),
            "holder": { "personal_identity_number": "196408233234" },
            "channels": ["wallet"],
            "offer": offer_options,
        });
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/certificates", self.server.base_url))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }
}

/// Runs the wallet script and returns its report.
fn wallet(scenario: &str, offer_link: &str, tx_code: Option<&str>) -> Value {
    let mut command = Command::new("node");
    command
        .arg(repository().join("tests/wallet/wallet.mjs"))
        .args([scenario, offer_link]);
    if let Some(tx_code) = tx_code {
        command.arg(tx_code);
    }
    let output = command.output().unwrap();
    let report: Value = serde_json::from_str(stdout(&output).trim()).unwrap_or_else(|error| {
        panic!(
            "the wallet printed no report ({error}): {}{}",
            stdout(&output),
            stderr(&output)
        )
    });
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report} {}",
        stderr(&output)
    );
    report
}

fn subject(credential: &Value) -> &Value {
    match credential["format"].as_str().unwrap() {
        "dc+sd-jwt" => &credential["claims"],
        "vc+jwt" => &credential["claims"]["credentialSubject"],
        _ => &credential["claims"]["vc"]["credentialSubject"],
    }
}

#[tokio::test]
async fn pre_authorized_with_tx_code_every_format() {
    if skip() {
        return;
    }
    let issuer = Issuer::start();
    let created = issuer.create(json!({ "tx_code": true })).await;
    let tx_code = created["offer_tx_code"].as_str().unwrap();
    // The offer by reference: the wallet fetches it from the credential_offer_uri.
    let link = created["links"]["offer_by_reference"].as_str().unwrap();
    let report = wallet("single", link, Some(tx_code));

    assert_eq!(
        report["version"], "V1",
        "the client did not see a 1.0 issuer"
    );
    assert_eq!(report["credential_issuer"], issuer.server.base_url);
    assert_eq!(report["token_type"], "Bearer");
    assert_eq!(report["notification_sent"], true);
    let configurations = report["configurations"].as_object().unwrap();
    let expected = [
        ("personbevis.dc+sd-jwt", "dc+sd-jwt"),
        ("personbevis.vc+jwt", "vc+jwt"),
        ("personbevis.jwt_vc_json", "JWT"),
    ];
    assert_eq!(configurations.len(), expected.len(), "{report}");
    for (configuration, typ) in expected {
        let credentials = configurations[configuration].as_array().unwrap();
        assert_eq!(credentials.len(), 1, "{configuration}");
        let credential = &credentials[0];
        assert_eq!(credential["typ"], typ, "{configuration}");
        assert_eq!(
            credential["cnf_matches"], true,
            "{configuration}: {credential}"
        );
        assert_eq!(subject(credential)["given_name"], "Åsa", "{configuration}");
        assert_eq!(
            subject(credential)["personal_identity_number"],
            "196408233234",
            "{configuration}"
        );
    }
}

#[tokio::test]
async fn wrong_tx_code_rejected_by_client_flow() {
    if skip() {
        return;
    }
    let issuer = Issuer::start();
    let created = issuer.create(json!({ "tx_code": true })).await;
    let right = created["offer_tx_code"].as_str().unwrap();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let output = Command::new("node")
        .arg(repository().join("tests/wallet/wallet.mjs"))
        .args(["single", created["links"]["offer"].as_str().unwrap(), wrong])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("invalid_grant"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn batch_of_three_proofs() {
    if skip() {
        return;
    }
    let issuer = Issuer::start();
    let created = issuer.create(json!({})).await;
    let report = wallet("batch", created["links"]["offer"].as_str().unwrap(), None);
    let credentials = report["configurations"]["personbevis.dc+sd-jwt"]
        .as_array()
        .unwrap();
    assert_eq!(credentials.len(), 3, "{report}");
    let mut keys: Vec<String> = Vec::new();
    for credential in credentials {
        assert_eq!(credential["cnf_matches"], true, "{credential}");
        keys.push(
            credential["claims"]["cnf"]["jwk"]["x"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "the three credentials share a key");
}

#[tokio::test]
async fn dpop_bound_access_token() {
    if skip() {
        return;
    }
    let issuer = Issuer::start();
    let created = issuer.create(json!({})).await;
    let report = wallet("dpop", created["links"]["offer"].as_str().unwrap(), None);
    assert_eq!(report["token_type"], "DPoP", "{report}");
    let credential = &report["configurations"]["personbevis.dc+sd-jwt"][0];
    assert_eq!(credential["cnf_matches"], true, "{report}");
    assert_eq!(report["notification_sent"], true);
}

#[tokio::test]
async fn encrypted_credential_response() {
    if skip() {
        return;
    }
    let issuer = Issuer::start();
    let created = issuer.create(json!({})).await;
    let report = wallet(
        "encrypted",
        created["links"]["offer"].as_str().unwrap(),
        None,
    );
    assert_eq!(
        report["encrypted_response"]["content_type"], "application/jwt",
        "{report}"
    );
    assert_eq!(report["encrypted_response"]["enc"], "A256GCM");
    let credential = &report["configurations"]["personbevis.dc+sd-jwt"][0];
    assert_eq!(credential["cnf_matches"], true, "{report}");
    assert_eq!(credential["claims"]["given_name"], "Åsa");
}

/// The upstream OpenID provider (`tests/wallet/upstream.mjs`), stopped when dropped.
struct UpstreamProvider {
    child: std::process::Child,
}

impl UpstreamProvider {
    fn start(port: u16, redirect_uri: &str) -> UpstreamProvider {
        use std::io::BufRead;
        let mut child = Command::new("node")
            .arg(repository().join("tests/wallet/upstream.mjs"))
            .args([&port.to_string(), "intyg", "upstream-secret", redirect_uri])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut output = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the upstream provider did not start");
        // The provider prints notices later; a closed pipe would make its writes fail.
        std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
        UpstreamProvider { child }
    }
}

impl Drop for UpstreamProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn authorization_code_with_upstream_login() {
    if skip() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let upstream_url = format!("http://127.0.0.1:{port}");
    let env = [
        ("INTYG_OIDC_ISSUER", upstream_url.as_str()),
        ("INTYG_OIDC_CLIENT_ID", "intyg"),
        ("INTYG_OIDC_CLIENT_SECRET", "upstream-secret"),
    ];
    let server = Server::start(&env);
    let key = server.add_client("e-service", "personbevis", &env);
    let issuer = Issuer { server, key };
    let _upstream = UpstreamProvider::start(
        port,
        &format!("{}/authorize/callback", issuer.server.base_url),
    );

    let created = issuer.create(json!({})).await;
    let link = created["links"]["offer"].as_str().unwrap();
    let report = wallet("authorization", link, Some("196408233234"));
    assert_eq!(report["pkce_method"], "S256", "{report}");
    let response = &report["authorization_response"];
    assert_eq!(response["iss"], issuer.server.base_url, "{report}");
    assert!(response["code"].is_string(), "{report}");
    let credentials = report["configurations"]["personbevis.dc+sd-jwt"]
        .as_array()
        .unwrap();
    assert_eq!(credentials.len(), 1, "{report}");
    assert_eq!(credentials[0]["cnf_matches"], true);
    assert_eq!(credentials[0]["claims"]["given_name"], "Åsa");

    // Someone else logs in with the holder's offer.
    let created = issuer.create(json!({})).await;
    let link = created["links"]["offer"].as_str().unwrap();
    let report = wallet("authorization", link, Some("190001019876"));
    let response = &report["authorization_response"];
    assert_eq!(response["error"], "access_denied", "{report}");
    assert_eq!(response["iss"], issuer.server.base_url);
    assert!(report["configurations"].as_object().unwrap().is_empty());
}
