//! The VC-API endpoints of a real `intyg serve`: `POST /credentials/issue` with credentials that
//! keep or break each rule of the VC Data Model 2.0, and `POST /credentials/verify`.

mod common;
mod status_support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use status_support::*;

struct VcApi {
    issuing: Issuing,
    vc_api_key: String,
}

impl VcApi {
    fn start() -> VcApi {
        let issuing = Issuing::start(&[]);
        let vc_api_key = issuing.server.add_client("conformance", "vc-api", &[]);
        VcApi {
            issuing,
            vc_api_key,
        }
    }

    fn credential(&self) -> Value {
        json!({
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
            "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
            "type": ["VerifiableCredential", "ExampleAlumniCredential"],
            "issuer": self.issuing.server.base_url,
            "validFrom": "2026-01-01T00:00:00Z",
            "validUntil": "2036-01-01T00:00:00Z",
            "credentialSubject": { "id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "Exempeluniversitetet" },
            "credentialSchema": { "id": "https://example.org/examples/degree.json", "type": "JsonSchema" }
        })
    }

    async fn issue(&self, credential: &Value, key: &str) -> (StatusCode, Value) {
        let response = self
            .issuing
            .http
            .post(self.issuing.url("/credentials/issue"))
            .bearer_auth(key)
            .json(&json!({ "credential": credential, "options": {} }))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn verify(&self, verifiable_credential: &Value) -> (StatusCode, Value) {
        let response = self
            .issuing
            .http
            .post(self.issuing.url("/credentials/verify"))
            .json(&json!({ "verifiableCredential": verifiable_credential, "options": {} }))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|error| error["pointer"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn issued_credential_enveloped_and_verified() {
    let api = VcApi::start();
    let (status, body) = api.issue(&api.credential(), &api.vc_api_key).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let envelope = &body["verifiableCredential"];
    assert_eq!(envelope["type"], "EnvelopedVerifiableCredential");
    assert_eq!(
        envelope["@context"],
        json!(["https://www.w3.org/ns/credentials/v2"])
    );
    let jws = envelope["id"]
        .as_str()
        .unwrap()
        .strip_prefix("data:application/vc+jwt,")
        .unwrap();
    assert_eq!(jws_part(jws, 0)["typ"], "vc+jwt");
    let payload = jws_part(jws, 1);
    for (member, value) in api.credential().as_object().unwrap() {
        assert_eq!(&payload[member], value, "{member}");
    }
    assert_eq!(payload["iss"], api.issuing.server.base_url);

    let (status, result) = api.verify(envelope).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["verified"], true);
    assert_eq!(result["errors"], json!([]));
    assert!(result["checks"]
        .as_array()
        .unwrap()
        .contains(&json!("signature")));
    assert_eq!(api.issuing.verify_api(jws).await["valid"], true);

    let mut issuer_object = api.credential();
    issuer_object["issuer"] =
        json!({ "id": api.issuing.server.base_url, "name": "Exempelmyndigheten" });
    issuer_object["credentialSubject"] = json!([{ "name": "Åsa" }, { "name": "Per" }]);
    let (status, body) = api.issue(&issuer_object, &api.vc_api_key).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, result) = api.verify(&body["verifiableCredential"]).await;
    assert_eq!(status, StatusCode::OK, "{result}");
}

#[tokio::test]
async fn issue_rejects_each_data_model_violation() {
    let api = VcApi::start();
    let cases: Vec<(&str, Option<Value>, &str)> = vec![
        ("@context", None, "/credential/@context"),
        (
            "@context",
            Some(json!(["https://www.w3.org/2018/credentials/v1"])),
            "/credential/@context",
        ),
        (
            "@context",
            Some(json!([
                "https://example.org/first",
                "https://www.w3.org/ns/credentials/v2"
            ])),
            "/credential/@context",
        ),
        (
            "@context",
            Some(json!(["https://www.w3.org/ns/credentials/v2", 42])),
            "/credential/@context/1",
        ),
        ("type", None, "/credential/type"),
        (
            "type",
            Some(json!(["ExampleAlumniCredential"])),
            "/credential/type",
        ),
        (
            "type",
            Some(json!([1, "VerifiableCredential"])),
            "/credential/type",
        ),
        ("issuer", None, "/credential/issuer"),
        (
            "issuer",
            Some(json!("Exempelmyndigheten")),
            "/credential/issuer",
        ),
        (
            "issuer",
            Some(json!({ "name": "Exempelmyndigheten" })),
            "/credential/issuer/id",
        ),
        ("issuer", Some(json!(42)), "/credential/issuer"),
        ("credentialSubject", None, "/credential/credentialSubject"),
        (
            "credentialSubject",
            Some(json!({})),
            "/credential/credentialSubject",
        ),
        (
            "credentialSubject",
            Some(json!([])),
            "/credential/credentialSubject",
        ),
        (
            "credentialSubject",
            Some(json!([{ "name": "x" }, {}])),
            "/credential/credentialSubject/1",
        ),
        (
            "credentialSubject",
            Some(json!("did:example:1")),
            "/credential/credentialSubject",
        ),
        (
            "validFrom",
            Some(json!("2026-01-01T00:00:00")),
            "/credential/validFrom",
        ),
        (
            "validFrom",
            Some(json!("2026-01-01")),
            "/credential/validFrom",
        ),
        (
            "validUntil",
            Some(json!("tomorrow")),
            "/credential/validUntil",
        ),
        (
            "validUntil",
            Some(json!("2025-12-31T23:59:59Z")),
            "/credential/validUntil",
        ),
        ("id", Some(json!("not a URL")), "/credential/id"),
        (
            "credentialStatus",
            Some(json!({ "id": "https://example.org/status/1#3" })),
            "/credential/credentialStatus/type",
        ),
        (
            "credentialStatus",
            Some(json!([{ "type": "BitstringStatusListEntry", "id": "no url" }])),
            "/credential/credentialStatus/0/id",
        ),
        (
            "credentialStatus",
            Some(json!("https://example.org/status/1")),
            "/credential/credentialStatus",
        ),
        (
            "credentialSchema",
            Some(json!({ "type": "JsonSchema" })),
            "/credential/credentialSchema/id",
        ),
        (
            "credentialSchema",
            Some(json!({ "id": "https://example.org/s.json" })),
            "/credential/credentialSchema/type",
        ),
        (
            "credentialSchema",
            Some(
                json!([{ "id": "https://example.org/s.json", "type": "JsonSchema" }, { "id": "https://example.org/t.json" }]),
            ),
            "/credential/credentialSchema/1/type",
        ),
        (
            "proof",
            Some(json!({ "type": "DataIntegrityProof" })),
            "/credential/proof",
        ),
    ];
    for (member, value, pointer) in cases {
        let mut credential = api.credential();
        match &value {
            Some(value) => credential[member] = value.clone(),
            None => {
                credential.as_object_mut().unwrap().remove(member);
            }
        }
        let (status, problem) = api.issue(&credential, &api.vc_api_key).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{member} = {value:?}: {problem}"
        );
        assert!(
            pointers(&problem).contains(&pointer.to_owned()),
            "{member} = {value:?}: {pointer} not in {problem}"
        );
    }

    let mut foreign = api.credential();
    foreign["issuer"] = json!("https://other.example.org");
    let (status, problem) = api.issue(&foreign, &api.vc_api_key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(pointers(&problem), ["/credential/issuer"]);

    let (status, _) = api.issue(&json!("a string"), &api.vc_api_key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn issue_needs_scope() {
    let api = VcApi::start();
    let (status, problem) = api.issue(&api.credential(), &api.issuing.key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, _) = api.issue(&api.credential(), "intyg_unknown").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn verify_rejects_tampered_revoked_and_unsupported() {
    let api = VcApi::start();
    let (_, body) = api.issue(&api.credential(), &api.vc_api_key).await;
    let id = body["verifiableCredential"]["id"].as_str().unwrap();
    let start = id.rfind('.').unwrap() + 1;
    let mut tampered = id.to_owned();
    let replacement = if &id[start..=start] == "A" { "B" } else { "A" };
    tampered.replace_range(start..=start, replacement);
    let envelope = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": tampered,
        "type": "EnvelopedVerifiableCredential",
    });
    let (status, result) = api.verify(&envelope).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{result}");
    assert_eq!(result["verified"], false);
    assert_eq!(result["errors"][0]["name"], "signature_invalid");

    let (status, _) = api.verify(&api.credential()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an unsecured credential");

    // A certificate's vc+jwt credential carries Bitstring Status List entries.
    let created = api.issuing.create().await;
    let certificate_id = created["id"].as_str().unwrap();
    let vc_jwt = api.issuing.credential(certificate_id, "vc+jwt").await;
    let envelope = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": format!("data:application/vc+jwt,{vc_jwt}"),
        "type": "EnvelopedVerifiableCredential",
    });
    let (status, result) = api.verify(&envelope).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert!(result["checks"]
        .as_array()
        .unwrap()
        .contains(&json!("status")));
    api.issuing.change_status(certificate_id, "revoke").await;
    let (status, result) = api.verify(&envelope).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{result}");
    assert_eq!(result["errors"][0]["name"], "revoked");
}
