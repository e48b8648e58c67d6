//! OpenID4VCI endpoints for EU identity wallets: the token endpoint. Errors are OAuth error
//! responses (RFC 6749, section 5.2), never problem documents.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use time::OffsetDateTime;

use super::AppState;
use crate::oid4vci::token::{exchange, TokenError};

pub fn routes() -> Router<AppState> {
    Router::new().route("/token", post(token))
}

/// OAuth responses that carry tokens must not be cached (RFC 6749, section 5.1).
const NO_STORE: [(header::HeaderName, &str); 2] = [
    (header::CACHE_CONTROL, "no-store"),
    (header::PRAGMA, "no-cache"),
];

async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        return oauth_error(&TokenError::InvalidRequest(format!(
            "the Content-Type is {content_type:?}; send the token request as application/x-www-form-urlencoded"
        )));
    }
    let form = super::api::url_pairs(&String::from_utf8_lossy(&body));
    match exchange(
        state.service.store.as_ref(),
        &form,
        OffsetDateTime::now_utc().unix_timestamp(),
    )
    .await
    {
        Ok((response, certificate_id)) => {
            tracing::info!(%certificate_id, "pre-authorized code exchanged for an access token");
            (NO_STORE, Json(response)).into_response()
        }
        Err(error) => oauth_error(&error),
    }
}

fn oauth_error(error: &TokenError) -> Response {
    let status = match error {
        TokenError::Store(_) | TokenError::Random(_) => {
            tracing::error!(%error, "token request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => {
            tracing::info!(error = error.code(), "token request rejected");
            StatusCode::BAD_REQUEST
        }
    };
    let description = match error {
        TokenError::Store(_) | TokenError::Random(_) => {
            "the server could not complete the request".to_owned()
        }
        other => other.to_string(),
    };
    (
        status,
        NO_STORE,
        Json(json!({ "error": error.code(), "error_description": description })),
    )
        .into_response()
}
