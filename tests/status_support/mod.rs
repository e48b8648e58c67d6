//! Helpers of the status, verify and VC-API tests: a real `intyg serve` with an e-service client,
//! certificates with credentials, and decoding of JWTs and offers.

#![allow(dead_code)]

use std::process::Command;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Client as HttpClient, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

/// A running server with one e-service client allowed to issue `personbevis`.
pub struct Issuing {
    pub server: Server,
    pub http: HttpClient,
    pub key: String,
}

impl Issuing {
    pub fn start(extra_env: &[(&str, &str)]) -> Issuing {
        Self::with_server(Server::start(extra_env), extra_env)
    }

    pub fn with_server(server: Server, extra_env: &[(&str, &str)]) -> Issuing {
        let name = format!("e-service-{}", uuid::Uuid::new_v4().simple());
        let key = server.add_client(&name, "personbevis", extra_env);
        Issuing {
            server,
            http: HttpClient::new(),
            key,
        }
    }

    /// Adds another client allowed to issue `personbevis` and returns its API key.
    pub fn add_client(&self, name: &str) -> String {
        self.server.add_client(name, "personbevis", &[])
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url)
    }

    /// Creates a personbevis for the wallet channel and returns the response body.
    pub async fn create(&self) -> Value {
        let response = self
            .http
            .post(self.url("/api/v1/certificates"))
            .bearer_auth(&self.key)
            .json(&json!({
                "type": "personbevis",
                "claims": personbevis_claims(),
                "channels": ["wallet"],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// Issues a credential of certificate `id` and returns the status and the body.
    pub async fn credential_response(
        &self,
        id: &str,
        format: &str,
        holder_jwk: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut body = json!({ "format": format });
        if let Some(jwk) = holder_jwk {
            body["holder_jwk"] = jwk.clone();
        }
        let response = self
            .http
            .post(self.url(&format!("/api/v1/certificates/{id}/credential")))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    pub async fn credential(&self, id: &str, format: &str) -> String {
        let (status, body) = self.credential_response(id, format, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["format"], format);
        body["credential"].as_str().unwrap().to_owned()
    }

    /// Posts to `/api/v1/certificates/{id}/{action}` (revoke, suspend, reinstate).
    pub async fn change_status(&self, id: &str, action: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(&format!("/api/v1/certificates/{id}/{action}")))
            .bearer_auth(&self.key)
            .json(&json!({ "reason": "issued in error" }))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Verifies through `POST /api/v1/verify`.
    pub async fn verify_api(&self, credential: &str) -> Value {
        let response = self
            .http
            .post(self.url("/api/v1/verify"))
            .json(&json!({ "credential": credential }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Fetches a status list and returns its content type, cache control and body.
    pub async fn list(&self, uri: &str) -> (String, String, String) {
        let response = self.http.get(uri).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (content_type, cache_control) = (header("content-type"), header("cache-control"));
        (content_type, cache_control, response.text().await.unwrap())
    }
}

/// Decodes one base64url JSON part of a JWS.
pub fn jws_part(jws: &str, index: usize) -> Value {
    let part = jws
        .split('~')
        .next()
        .unwrap()
        .split('.')
        .nth(index)
        .unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Returns the `status.status_list` of a credential's payload: `(idx, uri)`.
pub fn token_status(credential: &str) -> (u64, String) {
    let payload = jws_part(credential, 1);
    let list = &payload["status"]["status_list"];
    (
        list["idx"].as_u64().unwrap(),
        list["uri"].as_str().unwrap().to_owned(),
    )
}

/// Returns the pre-authorized code of an `openid-credential-offer://` link.
pub fn pre_authorized_code(link: &str) -> String {
    let encoded = link.split_once("credential_offer=").unwrap().1;
    let mut bytes = Vec::new();
    let mut rest = encoded.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            bytes.push(u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    let offer: Value = serde_json::from_slice(&bytes).unwrap();
    offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Returns whether node and the packages of `tests/status` are installed.
pub fn status_decoders_ready() -> bool {
    let installed = [
        "@sd-jwt/jwt-status-list",
        "@digitalbazaar/vc-bitstring-status-list",
    ]
    .iter()
    .all(|package| {
        repository()
            .join("tests/status/node_modules")
            .join(package)
            .is_dir()
    });
    installed
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
}

/// Decodes a list with the npm decoders and returns its size and its entries that are not zero.
pub fn decode_with_npm(kind: &str, list: &str) -> (u64, Vec<(u64, u64)>) {
    let dir = temp_dir();
    let file = write(dir.path(), "list.jwt", list);
    let output = Command::new("node")
        .arg(repository().join("tests/status/decode-list.mjs"))
        .arg(kind)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let entries = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry[0].as_u64().unwrap(), entry[1].as_u64().unwrap()))
        .collect();
    (report["size"].as_u64().unwrap(), entries)
}
