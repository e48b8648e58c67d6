//! The HTTP server: thin axum handlers over the certificate service, the issuer and the verifier.

pub mod api;
pub mod auth;
mod holder;
mod keys;
mod lifecycle;
pub mod openapi;
mod ops;
mod passkit;
pub mod problem;
mod status;
pub mod vc_api;
pub mod verifier;
pub mod wallet;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::certificate::CertificateService;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub service: CertificateService,
    pub metrics: Arc<PrometheusHandle>,
    pub clients: Arc<auth::ClientCache>,
    pub verifier: Arc<verifier::VerifierState>,
    /// Retired signing keys, published until their certificates expire.
    pub retired_keys: Arc<Vec<crate::crypto::RetiredKey>>,
    pub wallet: Arc<wallet::WalletState>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the router with every route, the body limit, request ids, tracing and metrics.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let issuer_id = state.service.issuer.issuer_id.clone();
    Router::new()
        .merge(ops::routes())
        .merge(api::routes())
        .merge(openapi::routes())
        .merge(keys::routes(&issuer_id))
        .merge(wallet::routes(&issuer_id))
        .merge(holder::routes())
        .merge(passkit::routes())
        .merge(lifecycle::routes())
        .merge(status::routes())
        .merge(verifier::routes())
        .merge(vc_api::routes())
        .route_layer(axum::middleware::from_fn(ops::record_metrics))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        request_id = %request_id,
                        method = %request.method(),
                        path = %request.uri().path(),
                        client_id = tracing::field::Empty,
                    )
                })
                .on_response(
                    |response: &axum::response::Response,
                     latency: Duration,
                     _span: &tracing::Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_millis() as u64,
                            "request finished"
                        );
                    },
                ),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}
