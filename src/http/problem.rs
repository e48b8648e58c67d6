//! Problem details (RFC 9457): every error of the REST API is `application/problem+json`, and
//! this is the one place where domain errors become HTTP statuses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::certificate::{FieldError, ServiceError};

/// The problem document every REST API error returns.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Explanation of what went wrong and what to change.
    pub detail: String,
    /// Each invalid value, by JSON pointer into the request body.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:intyg:problem:{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|error| {
                format!(
                    "{}: {}",
                    if error.pointer.is_empty() {
                        "/"
                    } else {
                        &error.pointer
                    },
                    error.detail
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "The request body is invalid",
            detail,
        );
        problem.errors = errors;
        problem
    }

    pub fn unauthorized(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no certificate with this id exists for this client",
        )
    }

    pub fn not_found_detail(detail: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server could not complete the request; it is logged with the request id, so retry or report that id",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"intyg\""),
            );
        }
        response
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        let error_text = error.to_string();
        match error {
            ServiceError::Invalid(errors) => Problem::invalid(errors),
            ServiceError::TypeNotAllowed(type_id) => Problem::new(
                StatusCode::FORBIDDEN,
                "type-not-allowed",
                "Certificate type not allowed",
                format!("this API key may not issue certificates of type {type_id:?}; ask the operator to add it with intyg clients add"),
            ),
            ServiceError::NotFound => Problem::not_found(),
            ServiceError::Revoked => Problem::new(
                StatusCode::CONFLICT,
                "revoked",
                "Certificate revoked",
                "a revoked certificate cannot be approved",
            ),
            ServiceError::IdempotencyConflict { .. } => Problem::new(
                StatusCode::CONFLICT,
                "idempotency-conflict",
                "Idempotency key reused",
                "this Idempotency-Key was used before with a different request body; send a new key for a new certificate",
            ),
            ServiceError::Store(error) => {
                tracing::error!(%error, "storage failed");
                Problem::internal()
            }
            ServiceError::DataKey(error) => {
                tracing::error!(%error, "data key operation failed");
                Problem::internal()
            }
            ServiceError::Channel { channel, detail } => {
                tracing::error!(channel, %detail, "a delivery channel failed");
                Problem::internal()
            }
            ServiceError::StatusConflict { .. } => Problem::new(
                StatusCode::CONFLICT,
                "status-conflict",
                "Not allowed in the certificate's status",
                error_text,
            ),
            ServiceError::DataDeleted => Problem::new(
                StatusCode::GONE,
                "data-deleted",
                "Certificate data deleted",
                error_text,
            ),
            ServiceError::Issue(error) => {
                tracing::error!(%error, "issuing a credential failed");
                Problem::internal()
            }
            ServiceError::StatusList(error) => {
                tracing::error!(%error, "building a status list failed");
                Problem::internal()
            }
        }
    }
}
