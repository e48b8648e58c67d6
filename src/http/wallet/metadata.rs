//! The well-known metadata documents.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::super::AppState;

/// Credential Issuer metadata: JSON, or the signed JWT when the wallet accepts
/// `application/jwt` and not JSON (OpenID4VCI 1.0).
pub(super) async fn credential_issuer(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media_types: Vec<String> = accept
        .split(',')
        .map(|part| {
            part.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    let wants_jwt = media_types.iter().any(|media| media == "application/jwt");
    let accepts_json = media_types
        .iter()
        .any(|media| media == "application/json" || media == "*/*");
    let cache = (header::CACHE_CONTROL, "public, max-age=300");
    if wants_jwt && !accepts_json {
        return (
            [cache, (header::CONTENT_TYPE, "application/jwt")],
            state.wallet.signed_metadata.clone(),
        )
            .into_response();
    }
    ([cache], Json(state.wallet.metadata.clone())).into_response()
}

/// OAuth authorization server metadata (RFC 8414).
pub(super) async fn authorization_server(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.wallet.authorization_server.clone()),
    )
        .into_response()
}
