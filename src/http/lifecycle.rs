//! The e-service API for a certificate's life after creation: suspending and reinstating it, and
//! issuing a signed credential of it that the e-service delivers itself.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::api::{parse_json_body, response, CertificateResponse};
use super::auth::Client;
use super::problem::Problem;
use super::AppState;
use crate::certificate::{FieldError, StatusChange};
use crate::crypto::parse_holder_jwk;
use crate::formats::Format;
use crate::store::ApiClient;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/certificates/{id}/suspend",
            post(suspend_certificate),
        )
        .route(
            "/api/v1/certificates/{id}/reinstate",
            post(reinstate_certificate),
        )
        .route(
            "/api/v1/certificates/{id}/credential",
            post(issue_credential),
        )
}

/// Suspend a certificate: its status lists mark it suspended and it is not issued until it is
/// reinstated. Suspending a suspended certificate changes nothing and returns it.
#[utoipa::path(
    post,
    path = "/api/v1/certificates/{id}/suspend",
    tag = "certificates",
    params(("id" = String, Path, description = "Certificate id")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = CertificateResponse),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate for this client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The certificate is revoked", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn suspend_certificate(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<CertificateResponse>, Problem> {
    change_status(&state, &client, &id, StatusChange::Suspend).await
}

/// Reinstate a suspended certificate. Reinstating an active certificate changes nothing and
/// returns it.
#[utoipa::path(
    post,
    path = "/api/v1/certificates/{id}/reinstate",
    tag = "certificates",
    params(("id" = String, Path, description = "Certificate id")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = CertificateResponse),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate for this client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The certificate is revoked", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn reinstate_certificate(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<CertificateResponse>, Problem> {
    change_status(&state, &client, &id, StatusChange::Reinstate).await
}

async fn change_status(
    state: &AppState,
    client: &ApiClient,
    id: &str,
    change: StatusChange<'_>,
) -> Result<Json<CertificateResponse>, Problem> {
    let record = state
        .service
        .change_status(client, id, change, OffsetDateTime::now_utc())
        .await?;
    Ok(Json(response(state, &record, None)))
}

/// The body of `POST /api/v1/certificates/{id}/credential`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    /// `dc+sd-jwt`, `vc+jwt`, `jwt_vc_json` or `hcert` (the 2D code payload).
    pub format: String,
    /// Public P-256 JWK to bind the credential to (`cnf.jwk`); the certificate's holder key when
    /// absent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub holder_jwk: Option<Map<String, Value>>,
}

/// A signed credential of a certificate.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialResponse {
    pub format: String,
    /// The credential in its compact serialization, or the 2D code payload.
    pub credential: String,
}

/// Issue a signed credential of an active certificate, carrying its status list entry, for the
/// e-service to deliver itself.
#[utoipa::path(
    post,
    path = "/api/v1/certificates/{id}/credential",
    tag = "certificates",
    params(("id" = String, Path, description = "Certificate id")),
    request_body(content = CredentialRequest, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = CredentialResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate for this client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The certificate is revoked or suspended", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The certificate's data was deleted at the end of its retention period", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown format or invalid holder key", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn issue_credential(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CredentialResponse>, Problem> {
    let request: CredentialRequest = parse_json_body(&headers, body)?;
    let format: Format = request.format.parse().map_err(|detail: String| {
        Problem::invalid(vec![FieldError {
            pointer: "/format".into(),
            detail,
        }])
    })?;
    if let Some(jwk) = &request.holder_jwk {
        parse_holder_jwk(&Value::Object(jwk.clone())).map_err(|error| {
            Problem::invalid(vec![FieldError {
                pointer: "/holder_jwk".into(),
                detail: error.to_string(),
            }])
        })?;
    }
    let service = state.service.clone();
    let certificate = service.get(&client, &id).await?;
    let credential = tokio::task::spawn_blocking(move || {
        service.issue_credential(&certificate, format, request.holder_jwk.as_ref())
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "the signing task failed");
        Problem::internal()
    })??;
    Ok(Json(CredentialResponse {
        format: format.as_str().to_owned(),
        credential,
    }))
}
