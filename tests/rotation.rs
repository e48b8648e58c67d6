//! Key rotation on a real `intyg serve`: credentials signed with key A still verify after the
//! server signs with key B, and both keys are published while A's certificate is valid.

mod common;
mod status_support;

use common::*;
use serde_json::Value;
use status_support::*;

fn generate_keys(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let out = dir.join(name);
    let output = intyg()
        .args(["keys", "generate", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    out
}

fn signing_env(keys: &std::path::Path) -> Vec<(String, String)> {
    vec![
        (
            "INTYG_SIGNING_KEY".into(),
            keys.join("issuer-signing.key.pem").display().to_string(),
        ),
        (
            "INTYG_SIGNING_CHAIN".into(),
            keys.join("issuer-signing.chain.pem").display().to_string(),
        ),
    ]
}

fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// Returns the port of the server, which a restart keeps so that status list URLs stay valid.
fn port_of(issuing: &Issuing) -> u16 {
    issuing
        .server
        .base_url
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn published_kids(issuing: &Issuing, path: &str) -> Vec<String> {
    let body: Value = issuing
        .http
        .get(issuing.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = if path == "/jwks.json" {
        &body["keys"]
    } else {
        assert_eq!(body["issuer"], issuing.server.base_url);
        &body["jwks"]["keys"]
    };
    keys.as_array()
        .unwrap()
        .iter()
        .map(|key| {
            assert!(key["x5c"].as_array().is_some_and(|x5c| !x5c.is_empty()));
            key["kid"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn credentials_of_retired_key_still_verify() {
    let keys = temp_dir();
    let key_a = generate_keys(keys.path(), "a");
    let key_b = generate_keys(keys.path(), "b");

    let env_a = signing_env(&key_a);
    let issuing = Issuing::start(&borrowed(&env_a));
    let created = issuing.create().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let signed_by_a = [
        issuing.credential(&id, "dc+sd-jwt").await,
        issuing.credential(&id, "vc+jwt").await,
    ];
    let kid_a = jws_part(&signed_by_a[0], 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        published_kids(&issuing, "/jwks.json").await,
        std::slice::from_ref(&kid_a)
    );
    let key = issuing.key.clone();
    let port = port_of(&issuing);
    let data_dir = issuing.server.kill();

    // Rotate: B signs, A is published as a previous key.
    let mut env_b = signing_env(&key_b);
    env_b.push((
        "INTYG_PREVIOUS_SIGNING_CHAINS".into(),
        key_a.join("issuer-signing.chain.pem").display().to_string(),
    ));
    let server = Server::start_on(port, data_dir, &borrowed(&env_b));
    let issuing = Issuing {
        server,
        http: reqwest::Client::new(),
        key,
    };
    let signed_by_b = issuing.credential(&id, "dc+sd-jwt").await;
    let kid_b = jws_part(&signed_by_b, 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(kid_a, kid_b);
    for path in ["/jwks.json", "/.well-known/jwt-vc-issuer"] {
        assert_eq!(
            published_kids(&issuing, path).await,
            [kid_b.clone(), kid_a.clone()],
            "{path}"
        );
    }
    for credential in signed_by_a.iter().chain([&signed_by_b]) {
        let report = issuing.verify_api(credential).await;
        assert_eq!(report["valid"], true, "{report}");
    }
    // The status list is now signed by B, and a verifier trusting both CAs accepts both.
    let trust_a = key_a.join("issuer-ca.crt.pem");
    let trust_b = key_b.join("issuer-ca.crt.pem");
    let mut command = intyg();
    command
        .args(["verify", "--json", "--trust"])
        .arg(&trust_a)
        .arg("--trust")
        .arg(&trust_b)
        .arg("-");
    let output = run_with_input(command, &format!("{}\n", signed_by_a.join("\n")));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // Revoking after the rotation still reaches the credentials A signed.
    issuing.change_status(&id, "revoke").await;
    let report = issuing.verify_api(&signed_by_a[0]).await;
    assert_eq!(report["valid"], false, "{report}");
    let data_dir = issuing.server.kill();

    // Without A in previous_signing_chains, A is neither published nor trusted.
    let env_b_only = signing_env(&key_b);
    let server = Server::start_on(port, data_dir, &borrowed(&env_b_only));
    let issuing = Issuing {
        server,
        http: reqwest::Client::new(),
        key: String::new(),
    };
    assert_eq!(published_kids(&issuing, "/jwks.json").await, [kid_b]);
    let report = issuing.verify_api(&signed_by_a[1]).await;
    assert_eq!(report["valid"], false, "{report}");
}
