//! The verify API for verifiers: `POST /api/v1/verify` checks any credential intyg issues,
//! including its status, and needs no API key.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::api::parse_json_body;
use super::problem::Problem;
use super::AppState;
use crate::certificate::FieldError;
use crate::formats::Format;
use crate::store::Status;
use crate::verify::{
    apply_status, verify, Check, StatusListFetcher, Verification, VerifyError, VerifyOptions,
};

/// Trust anchors, chain cache and status list cache of the server's verifier.
pub struct VerifierState {
    /// The configured trust anchors and the server's own signing certificates, with the cache of
    /// chains that verified against them; each request sets its own time.
    pub options: VerifyOptions,
    pub fetcher: StatusListFetcher,
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/verify", post(verify_credential))
}

/// The body of `POST /api/v1/verify`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// A `dc+sd-jwt` (with or without key binding JWT), `vc+jwt` or `jwt_vc_json` credential, or
    /// a 2D code payload (`HC1:...` or `INTYG1:...`).
    pub credential: String,
    /// RFC 3339 time to check validity at; now when absent.
    #[serde(default)]
    pub at: Option<String>,
}

/// The outcome of a verification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyResponse {
    /// True when every check passed.
    pub valid: bool,
    /// The detected format; absent when the input matches none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The certificate's claims as issued, disclosed claims restored; absent when they could not
    /// be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub claims: Option<Value>,
    pub checks: Vec<Check>,
}

/// Verifies `input` at `at` with the server's anchors, fetching the status lists it points at.
pub(super) async fn verify_with_status(
    state: &AppState,
    input: String,
    at: OffsetDateTime,
) -> Result<Verification, Problem> {
    let verifier = std::sync::Arc::clone(&state.verifier);
    let options = verifier.options.with_at(at);
    let verifying_options = options.clone();
    // Verification spends a fraction of a millisecond in signature and chain checks, which run
    // off the async workers.
    let mut verification = tokio::task::spawn_blocking(move || verify(&input, &verifying_options))
        .await
        .map_err(|error| {
            tracing::error!(%error, "the verification task failed");
            Problem::internal()
        })?;
    let uris = verification.status_uris();
    if !verification.status.is_empty() {
        let lists = verifier.fetcher.lists(&uris, &options).await;
        apply_status(&mut verification, &lists);
    }
    check_own_2d_code(state, &mut verification).await?;
    Ok(verification)
}

/// Checks the status of a 2D code of intyg's own type (`INTYG1:`), which names its certificate
/// but points at no status list, in this server's records. A code whose certificate this server
/// does not store is left without a status check.
/// NOTE: an HCERT (`HC1:`) code carries no certificate id, so a revoked DCC's 2D code still
/// verifies here until it expires.
async fn check_own_2d_code(
    state: &AppState,
    verification: &mut Verification,
) -> Result<(), Problem> {
    if verification.format != Some(Format::Hcert) || !verification.signature_trusted() {
        return Ok(());
    }
    let Some(certificate_id) = verification
        .metadata
        .get("certificate_id")
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    let record = state
        .service
        .store
        .certificate_by_id(certificate_id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "cannot read a certificate's status for the verify API");
            Problem::internal()
        })?;
    if let Some(record) = record {
        verification.status_checked = true;
        match record.status {
            Status::Active => {}
            Status::Revoked => verification.errors.push(VerifyError::Revoked),
            // A pending certificate is not valid until a case officer approves it.
            Status::Suspended | Status::Pending => verification.errors.push(VerifyError::Suspended),
        }
        verification.valid = verification.errors.is_empty();
    }
    Ok(())
}

/// Verify a credential: signature and chain, `typ`, validity times, disclosures, key binding and
/// status.
#[utoipa::path(
    post,
    path = "/api/v1/verify",
    tag = "verification",
    request_body(content = VerifyRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The verification; `valid` is false when any check failed", body = VerifyResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing credential or invalid time", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn verify_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<VerifyResponse>, Problem> {
    let request: VerifyRequest = parse_json_body(&headers, body)?;
    let at = match &request.at {
        Some(text) => OffsetDateTime::parse(text, &Rfc3339).map_err(|error| {
            Problem::invalid(vec![FieldError {
                pointer: "/at".into(),
                detail: format!(
                    "not an RFC 3339 date-time ({error}); use a form such as 2026-12-04T10:00:00Z"
                ),
            }])
        })?,
        None => OffsetDateTime::now_utc(),
    };
    let verification = verify_with_status(&state, request.credential, at).await?;
    tracing::info!(
        valid = verification.valid,
        format = verification
            .format
            .map_or("unknown", |format| format.as_str()),
        "credential verified"
    );
    Ok(Json(VerifyResponse {
        valid: verification.valid,
        format: verification.format.map(|format| format.as_str().to_owned()),
        checks: verification.checks(),
        claims: Some(verification.claims).filter(|claims| !claims.is_null()),
    }))
}
