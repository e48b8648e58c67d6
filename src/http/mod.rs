//! The HTTP server: thin axum handlers over the issuer and verifier.

mod keys;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::issuer::Issuer;
use crate::store::Database;

/// State shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub issuer: Arc<Issuer>,
    pub database: Database,
}

/// Builds the router with every route the server answers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .merge(keys::routes(&state.issuer.issuer_id))
        .with_state(state)
}

/// Reports that the process is up; database checks belong to readiness, not liveness.
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}
