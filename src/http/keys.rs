//! Key publication: the JWKS and the SD-JWT VC issuer metadata (`/.well-known/jwt-vc-issuer`).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::AppState;

/// Routes for the JWKS and the JWT VC issuer metadata. When the issuer identifier has a path, the
/// well-known segment goes between host and path (SD-JWT VC draft, section 5).
pub fn routes(issuer_id: &str) -> Router<AppState> {
    let path = issuer_path(issuer_id);
    let metadata_route = format!("/.well-known/jwt-vc-issuer{path}");
    Router::new()
        .route("/jwks.json", get(jwks))
        .route(&metadata_route, get(jwt_vc_issuer))
}

/// Returns the path part of an issuer identifier, empty when it has none.
fn issuer_path(issuer_id: &str) -> &str {
    let without_scheme = issuer_id
        .split_once("://")
        .map_or(issuer_id, |(_, rest)| rest);
    without_scheme
        .find('/')
        .map_or("", |index| &without_scheme[index..])
}

/// Returns the current signing key and every retired key whose certificate has not expired.
fn key_set(state: &AppState) -> Value {
    let now = OffsetDateTime::now_utc();
    let mut keys = vec![Value::Object(state.service.issuer.key.public_jwk().clone())];
    keys.extend(
        state
            .retired_keys
            .iter()
            .filter(|key| key.not_after > now)
            .map(|key| Value::Object(key.public_jwk.clone())),
    );
    json!({ "keys": keys })
}

async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(key_set(&state)),
    )
}

async fn jwt_vc_issuer(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(json!({
            "issuer": state.service.issuer.issuer_id,
            "jwks": key_set(&state),
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::issuer_path;

    #[test]
    fn issuer_path_with_and_without_path() {
        assert_eq!(issuer_path("https://intyg.example.se"), "");
        assert_eq!(
            issuer_path("https://intyg.example.se/tenant/a"),
            "/tenant/a"
        );
        assert_eq!(issuer_path("http://127.0.0.1:8080"), "");
    }
}
