//! The status lists of a real `intyg serve`, read back by independent decoders from npm:
//! `@sd-jwt/jwt-status-list` for the Token Status List and `@digitalbazaar/vc-bitstring-status-list`
//! for the Bitstring Status Lists.

mod common;
mod status_support;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use status_support::*;

const LIST_SIZE: u64 = 131_072;

fn skip_without_decoders() -> bool {
    skip_without(
        "node with tests/status/node_modules (npm ci --prefix tests/status)",
        status_decoders_ready(),
    )
}

#[tokio::test]
async fn status_claim_in_every_jwt_format() {
    let issuing = Issuing::start(&[]);
    let created = issuing.create().await;
    let id = created["id"].as_str().unwrap();

    let sd_jwt = issuing.credential(id, "dc+sd-jwt").await;
    let (index, uri) = token_status(&sd_jwt);
    assert!(index < LIST_SIZE);
    assert!(
        uri.starts_with(&format!("{}/status/", issuing.server.base_url)),
        "{uri}"
    );

    let jwt_vc_json = issuing.credential(id, "jwt_vc_json").await;
    assert_eq!(token_status(&jwt_vc_json), (index, uri.clone()));

    let vc_jwt = issuing.credential(id, "vc+jwt").await;
    let entries = jws_part(&vc_jwt, 1)["credentialStatus"].clone();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for (entry, purpose) in entries.iter().zip(["revocation", "suspension"]) {
        assert_eq!(entry["type"], "BitstringStatusListEntry");
        assert_eq!(entry["statusPurpose"], purpose);
        assert_eq!(entry["statusListIndex"], index.to_string());
        assert_eq!(entry["statusListCredential"], format!("{uri}/{purpose}"));
        assert_eq!(entry["id"], format!("{uri}/{purpose}#{index}"));
    }

    let hcert = issuing.credential(id, "hcert").await;
    assert!(hcert.starts_with("INTYG1:"), "{hcert}");
}

#[tokio::test]
async fn indices_random_and_distinct() {
    let issuing = Issuing::start(&[]);
    let mut indices = Vec::new();
    for _ in 0..12 {
        let created = issuing.create().await;
        let credential = issuing
            .credential(created["id"].as_str().unwrap(), "dc+sd-jwt")
            .await;
        indices.push(token_status(&credential).0);
    }
    let distinct: std::collections::HashSet<u64> = indices.iter().copied().collect();
    assert_eq!(distinct.len(), indices.len(), "{indices:?}");
    let sequential = indices.windows(2).all(|pair| pair[1] == pair[0] + 1);
    assert!(!sequential, "{indices:?}");
}

#[tokio::test]
async fn token_list_served_signed_and_cacheable() {
    let issuing = Issuing::start(&[]);
    let created = issuing.create().await;
    let credential = issuing
        .credential(created["id"].as_str().unwrap(), "dc+sd-jwt")
        .await;
    let (_, uri) = token_status(&credential);
    // The credential expires with its certificate, to the second.
    let valid_until = time::OffsetDateTime::parse(
        created["valid_until"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        jws_part(&credential, 1)["exp"].as_i64(),
        Some(valid_until.unix_timestamp())
    );

    let (content_type, cache_control, list) = issuing.list(&uri).await;
    assert_eq!(content_type, "application/statuslist+jwt");
    assert_eq!(cache_control, "public, max-age=300");
    let header = jws_part(&list, 0);
    assert_eq!(header["typ"], "statuslist+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["x5c"].as_array().unwrap().len(), 2);
    let payload = jws_part(&list, 1);
    assert_eq!(payload["sub"], uri);
    assert_eq!(payload["ttl"], 300);
    assert_eq!(payload["status_list"]["bits"], 2);
    let iat = payload["iat"].as_i64().unwrap();
    assert!(payload["exp"].as_i64().unwrap() > iat);

    let (content_type, cache_control, bitstring) = issuing.list(&format!("{uri}/revocation")).await;
    assert_eq!(content_type, "application/vc+jwt");
    assert_eq!(cache_control, "public, max-age=300");
    assert_eq!(jws_part(&bitstring, 0)["typ"], "vc+jwt");
    let credential = jws_part(&bitstring, 1);
    assert_eq!(credential["id"], format!("{uri}/revocation"));
    assert_eq!(
        credential["type"],
        serde_json::json!(["VerifiableCredential", "BitstringStatusListCredential"])
    );
    assert_eq!(
        credential["credentialSubject"]["type"],
        "BitstringStatusList"
    );
    assert_eq!(
        credential["credentialSubject"]["statusPurpose"],
        "revocation"
    );
    assert!(credential["credentialSubject"]["encodedList"]
        .as_str()
        .unwrap()
        .starts_with('u'));

    for missing in ["/status/x", "/status/0/other"] {
        let response = issuing.http.get(issuing.url(missing)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn npm_decoders_see_exactly_changed_entries() {
    if skip_without_decoders() {
        return;
    }
    let issuing = Issuing::start(&[]);
    let mut certificates = Vec::new();
    for _ in 0..3 {
        let created = issuing.create().await;
        let id = created["id"].as_str().unwrap().to_owned();
        let credential = issuing.credential(&id, "dc+sd-jwt").await;
        certificates.push((id, token_status(&credential)));
    }
    let uri = certificates[0].1 .1.clone();
    assert!(certificates.iter().all(|(_, (_, list))| *list == uri));
    let (revoked_id, (revoked_index, _)) = certificates[0].clone();
    let (suspended_id, (suspended_index, _)) = certificates[1].clone();

    let token_before = decode_with_npm("token", &issuing.list(&uri).await.2);
    assert_eq!(token_before, (LIST_SIZE, vec![]));
    for purpose in ["revocation", "suspension"] {
        let bitstring = issuing.list(&format!("{uri}/{purpose}")).await.2;
        assert_eq!(
            decode_with_npm("bitstring", &bitstring),
            (LIST_SIZE, vec![])
        );
    }

    assert_eq!(
        issuing.change_status(&revoked_id, "revoke").await.0,
        StatusCode::OK
    );
    let (status, body) = issuing.change_status(&suspended_id, "suspend").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "suspended");

    let mut expected = vec![(revoked_index, 1), (suspended_index, 2)];
    expected.sort_unstable();
    let (size, mut entries) = decode_with_npm("token", &issuing.list(&uri).await.2);
    entries.sort_unstable();
    assert_eq!(size, LIST_SIZE);
    assert_eq!(entries, expected);
    let revocation = issuing.list(&format!("{uri}/revocation")).await.2;
    assert_eq!(
        decode_with_npm("bitstring", &revocation),
        (LIST_SIZE, vec![(revoked_index, 1)])
    );
    let suspension = issuing.list(&format!("{uri}/suspension")).await.2;
    assert_eq!(
        decode_with_npm("bitstring", &suspension),
        (LIST_SIZE, vec![(suspended_index, 1)])
    );

    let (status, body) = issuing.change_status(&suspended_id, "reinstate").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "active");
    assert_eq!(
        decode_with_npm("token", &issuing.list(&uri).await.2),
        (LIST_SIZE, vec![(revoked_index, 1)])
    );
    let suspension = issuing.list(&format!("{uri}/suspension")).await.2;
    assert_eq!(
        decode_with_npm("bitstring", &suspension),
        (LIST_SIZE, vec![])
    );
}

#[tokio::test]
async fn status_changes_follow_the_rules() {
    let issuing = Issuing::start(&[]);
    let created = issuing.create().await;
    let id = created["id"].as_str().unwrap();

    assert_eq!(
        issuing.change_status(id, "reinstate").await.0,
        StatusCode::OK
    );
    assert_eq!(issuing.change_status(id, "suspend").await.0, StatusCode::OK);
    assert_eq!(issuing.change_status(id, "suspend").await.0, StatusCode::OK);
    let (status, problem) = issuing.credential_response(id, "dc+sd-jwt", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "urn:intyg:problem:status-conflict");

    let (status, revoked) = issuing.change_status(id, "revoke").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(revoked["status"], "revoked");
    for action in ["suspend", "reinstate"] {
        let (status, problem) = issuing.change_status(id, action).await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("revoked"),
            "{problem}"
        );
    }

    let missing = "00000000-0000-7000-8000-000000000000";
    assert_eq!(
        issuing.change_status(missing, "suspend").await.0,
        StatusCode::NOT_FOUND
    );
    let other = issuing.add_client("other");
    let response = issuing
        .http
        .post(issuing.url(&format!("/api/v1/certificates/{id}/suspend")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response: Value = response.json().await.unwrap();
    assert_eq!(response["status"], 404);
}

#[tokio::test]
async fn pdf_withheld_while_suspended() {
    let issuing = Issuing::start(&[]);
    let response = issuing
        .http
        .post(issuing.url("/api/v1/certificates"))
        .bearer_auth(&issuing.key)
        .json(&serde_json::json!({
            "type": "personbevis",
            "claims": personbevis_claims(),
            "channels": ["pdf"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let link = created["links"]["pdf"].as_str().unwrap();
    let download = |link: String| {
        let http = issuing.http.clone();
        async move { http.get(link).send().await.unwrap() }
    };

    assert_eq!(download(link.to_owned()).await.status(), StatusCode::OK);
    issuing.change_status(id, "suspend").await;
    let withheld = download(link.to_owned()).await;
    assert_eq!(withheld.status(), StatusCode::GONE);
    let problem: Value = withheld.json().await.unwrap();
    assert_eq!(problem["type"], "urn:intyg:problem:suspended");
    issuing.change_status(id, "reinstate").await;
    assert_eq!(download(link.to_owned()).await.status(), StatusCode::OK);
}
