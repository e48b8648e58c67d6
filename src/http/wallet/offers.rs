//! Credential offers by reference (`credential_offer_uri`) and their QR codes.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use time::OffsetDateTime;

use super::super::AppState;
use super::OauthError;
use crate::oid4vci::authorization::issuer_state;
use crate::oid4vci::offer::{offer_object, offer_uri, percent_encode, pre_authorized_code};
use crate::oid4vci::{hash_secret, qr, PRE_AUTHORIZED_CODE};
use crate::store::Status;

/// `GET /offers/{id}`: the credential offer object.
pub(super) async fn offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, OauthError> {
    let offer = current_offer(&state, &id).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(offer)).into_response())
}

/// `GET /offers/{id}/qr.png` and `/offers/{id}/qr.svg`: the QR code of the by-reference link.
pub(super) async fn offer_qr(
    State(state): State<AppState>,
    Path((id, image)): Path<(String, String)>,
) -> Result<Response, OauthError> {
    if image != "qr.png" && image != "qr.svg" {
        return Err(not_found());
    }
    current_offer(&state, &id).await?;
    let link = format!(
        "openid-credential-offer://?credential_offer_uri={}",
        percent_encode(&offer_uri(&state.service.issuer.issuer_id, &id))
    );
    let drawn = if image == "qr.png" {
        qr::png(&link).map(|png| ("image/png", png))
    } else {
        qr::svg(&link).map(|svg| ("image/svg+xml", svg.into_bytes()))
    };
    let (content_type, bytes) = drawn.map_err(|error| {
        tracing::error!(%error, "drawing an offer QR code failed");
        OauthError::internal()
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response())
}

/// Rebuilds the offer, if it exists, has not expired, its code is unused and its certificate is
/// not revoked.
async fn current_offer(state: &AppState, id: &str) -> Result<Value, OauthError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let store = state.service.store.as_ref();
    let failed = |error: crate::store::StoreError| {
        tracing::error!(%error, "reading a credential offer failed");
        OauthError::internal()
    };
    let offer = store
        .offer(&hash_secret(id), now)
        .await
        .map_err(failed)?
        .ok_or_else(not_found)?;
    let code = pre_authorized_code(id);
    let unused = store
        .find_secret(PRE_AUTHORIZED_CODE, &offer.code_hash, now)
        .await
        .map_err(failed)?
        .is_some();
    let record = store
        .certificate_by_id(&offer.certificate_id)
        .await
        .map_err(failed)?;
    let active = record
        .as_ref()
        .is_some_and(|record| record.status != Status::Revoked);
    let Some(record) = record.filter(|_| unused && active) else {
        return Err(not_found());
    };
    let issuer_state = state
        .service
        .authorization_code_offers
        .then(|| issuer_state(id));
    Ok(offer_object(
        &state.service.issuer.issuer_id,
        &record.type_id,
        &code,
        offer.tx_code_length,
        issuer_state.as_deref(),
    ))
}

fn not_found() -> OauthError {
    OauthError {
        status: StatusCode::NOT_FOUND,
        ..OauthError::bad_request(
            "invalid_request",
            "the credential offer is unknown, expired, used or withdrawn; ask the e-service for a new one",
        )
    }
}
