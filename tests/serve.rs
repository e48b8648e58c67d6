//! `intyg serve` on 127.0.0.1: health, key publication, and shutdown.

mod common;

use common::*;
use serde_json::Value;

async fn get_json(url: &str) -> (reqwest::StatusCode, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn health_and_keys_published() {
    let server = Server::start(&[]);

    let (status, health) = get_json(&format!("{}/health", server.base_url)).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");

    let (status, jwks) = get_json(&format!("{}/jwks.json", server.base_url)).await;
    assert_eq!(status, 200);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert!(
        key["kid"].as_str().is_some_and(|kid| kid.len() == 43),
        "{key}"
    );
    assert_eq!(key["x5c"].as_array().unwrap().len(), 2);
    assert!(key.get("d").is_none(), "private key published");

    let (status, metadata) =
        get_json(&format!("{}/.well-known/jwt-vc-issuer", server.base_url)).await;
    assert_eq!(status, 200);
    assert_eq!(metadata["issuer"], server.base_url.as_str());
    assert_eq!(metadata["jwks"], jwks);

    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(
        log.contains("development keys from keys-example/ are in use"),
        "{log}"
    );
    assert!(log.contains("intyg serve stopped"), "{log}");
}

#[tokio::test]
async fn public_url_with_path_moves_well_known() {
    let server = Server::start(&[("INTYG_PUBLIC_URL", "https://intyg.example.se/tenant/")]);
    let (status, metadata) = get_json(&format!(
        "{}/.well-known/jwt-vc-issuer/tenant",
        server.base_url
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(metadata["issuer"], "https://intyg.example.se/tenant");
    let missing = reqwest::get(format!("{}/.well-known/jwt-vc-issuer", server.base_url))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[test]
fn serve_rejects_bad_database_url() {
    let output = intyg()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "mysql://localhost/intyg",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("mysql://localhost/intyg"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn serve_rejects_pass_type_other_than_certificate() {
    let data = temp_dir();
    let output = intyg()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("INTYG_DATA_DIR", data.path())
        .env("INTYG_PASS_TYPE_ID", "pass.se.myndighet.intyg")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("pass_type_id is \"pass.se.myndighet.intyg\""),
        "{message}"
    );
    assert!(message.contains("pass.se.intyg.development"), "{message}");
    assert!(
        std::fs::read_dir(data.path()).unwrap().next().is_none(),
        "start-up created files before it failed"
    );
}
