//! The W3C VC-API issuer and verifier endpoints, so that VC-API conformance tooling can drive
//! intyg: `POST /credentials/issue` secures a VCDM 2.0 credential as `vc+jwt` and returns it as an
//! `EnvelopedVerifiableCredential`, and `POST /credentials/verify` checks one.
//!
//! Issuing signs whatever the caller sends under the agency's key, so it needs an API key whose
//! client has the scope [`VC_API_SCOPE`] (`intyg clients add NAME --types vc-api`). Verifying
//! needs none.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::api::parse_json_body;
use super::auth::Client;
use super::problem::Problem;
use super::verifier::verify_with_status;
use super::AppState;
use crate::certificate::FieldError;
use crate::formats::vc_jwt::{secure_vc_jwt, VCDM2_CONTEXT};
use crate::verify::data_model::check_credential;
use crate::verify::DecodedJws;

/// The client scope that allows `POST /credentials/issue`.
pub const VC_API_SCOPE: &str = "vc-api";

/// The prefix of an enveloped `vc+jwt` credential's `id` (VC-JOSE-COSE, section 3.1.2).
const DATA_URL_PREFIX: &str = "data:application/vc+jwt,";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/credentials/issue", post(issue))
        .route("/credentials/verify", post(verify))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    credential: Value,
    /// Issue options as VC-API defines them; intyg has none, so they are accepted and unused.
    #[serde(default)]
    #[allow(dead_code)]
    options: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    #[serde(rename = "verifiableCredential")]
    verifiable_credential: Value,
    /// Verify options as VC-API defines them; intyg has none, so they are accepted and unused.
    #[serde(default)]
    #[allow(dead_code)]
    options: Option<Value>,
}

/// Returns a 400 problem listing the data model violations.
fn bad_credential(errors: Vec<FieldError>) -> Problem {
    let mut problem = Problem::invalid(errors);
    problem.status = StatusCode::BAD_REQUEST.as_u16();
    problem
}

async fn issue(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    if !client.types.iter().any(|scope| scope == VC_API_SCOPE) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "scope-missing",
            "Scope missing",
            format!("this API key may not issue VC-API credentials; ask the operator for a client with the scope {VC_API_SCOPE}"),
        ));
    }
    let request: IssueRequest = parse_json_body(&headers, body)?;
    let mut errors = check_credential(&request.credential, "/credential");
    let credential = request.credential.as_object().cloned().unwrap_or_default();
    let issuer_id = &state.service.issuer.issuer_id;
    let issuer = match credential.get("issuer") {
        Some(Value::Object(issuer)) => issuer.get("id").and_then(Value::as_str),
        other => other.and_then(Value::as_str),
    };
    if issuer.is_some_and(|issuer| issuer != issuer_id) {
        errors.push(FieldError {
            pointer: "/credential/issuer".into(),
            detail: format!("intyg signs only as its own issuer; set the issuer to {issuer_id}"),
        });
    }
    if credential.contains_key("proof") {
        errors.push(FieldError {
            pointer: "/credential/proof".into(),
            detail: "send the credential without a proof; intyg secures it as vc+jwt".into(),
        });
    }
    if !errors.is_empty() {
        return Err(bad_credential(errors));
    }

    let jws = secure_vc_jwt(
        credential,
        issuer_id,
        OffsetDateTime::now_utc(),
        state.service.issuer.key.as_ref(),
    )
    .map_err(|error| {
        tracing::error!(%error, "signing a VC-API credential failed");
        Problem::internal()
    })?;
    tracing::info!(target: "audit", client_id = %client.id, "VC-API credential issued");
    let envelope = json!({
        "@context": [VCDM2_CONTEXT],
        "id": format!("{DATA_URL_PREFIX}{jws}"),
        "type": "EnvelopedVerifiableCredential",
    });
    Ok((
        StatusCode::CREATED,
        Json(json!({ "verifiableCredential": envelope })),
    )
        .into_response())
}

async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let request: VerifyRequest = parse_json_body(&headers, body)?;
    let jws = enveloped_jws(&request.verifiable_credential)?;
    let verification =
        verify_with_status(&state, jws.to_owned(), OffsetDateTime::now_utc()).await?;
    let mut errors: Vec<Value> = verification
        .errors
        .iter()
        .map(|error| json!({ "name": error.code(), "message": error.to_string() }))
        .collect();
    if let Ok(decoded) = DecodedJws::decode(jws) {
        let payload = Value::Object(decoded.payload);
        for violation in check_credential(&payload, "") {
            errors.push(json!({
                "name": "data_model",
                "message": format!("{}: {}", violation.pointer, violation.detail),
            }));
        }
    }
    let checks: Vec<&str> = verification
        .checks()
        .iter()
        .map(|check| check.name)
        .collect();
    let verified = errors.is_empty();
    let status = if verified {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((
        status,
        Json(json!({
            "verified": verified,
            "checks": checks,
            "warnings": [],
            "errors": errors,
        })),
    )
        .into_response())
}

/// Returns the compact JWS of an `EnvelopedVerifiableCredential` (or of a bare JWS string).
fn enveloped_jws(credential: &Value) -> Result<&str, Problem> {
    if let Some(jws) = credential.as_str() {
        return Ok(jws);
    }
    let is_envelope = credential
        .get("type")
        .is_some_and(|kind| kind == "EnvelopedVerifiableCredential");
    let id = credential.get("id").and_then(Value::as_str);
    match (is_envelope, id.and_then(|id| id.strip_prefix(DATA_URL_PREFIX))) {
        (true, Some(jws)) => Ok(jws),
        _ => Err(bad_credential(vec![FieldError {
            pointer: "/verifiableCredential".into(),
            detail: format!("send an EnvelopedVerifiableCredential whose id is {DATA_URL_PREFIX}<JWS>; intyg verifies credentials secured as vc+jwt"),
        }])),
    }
}
