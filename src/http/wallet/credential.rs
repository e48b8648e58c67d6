//! The nonce, credential, deferred credential and notification endpoints. The last three
//! authorize with the access token of the token endpoint, as a bearer token or bound to a DPoP
//! key.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::super::AppState;
use super::{media_type, single_header, OauthError, NO_STORE};
use crate::oid4vci::credential::{
    issue, issue_deferred, parse_request, CredentialError, CredentialOutcome, DeferredOutcome,
    DEFERRED_INTERVAL_SECONDS, NOTIFICATION_ID,
};
use crate::oid4vci::dpop::{check_dpop_proof, DpopError, DpopTarget};
use crate::oid4vci::encryption::ResponseEncryption;
use crate::oid4vci::metadata::endpoint;
use crate::oid4vci::nonce::new_c_nonce;
use crate::oid4vci::{hash_secret, open_sealed_value};
use crate::store::{AccessTokenRecord, AuditEvent};

/// Notification events a wallet may send (OpenID4VCI 1.0).
const NOTIFICATION_EVENTS: [&str; 3] = [
    "credential_accepted",
    "credential_failure",
    "credential_deleted",
];

/// `POST /nonce`: a fresh `c_nonce`.
pub(super) async fn nonce(State(state): State<AppState>) -> Result<Response, OauthError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let nonce = new_c_nonce(&state.service.data_keys, now).map_err(|error| {
        tracing::error!(%error, "creating a c_nonce failed");
        OauthError::internal()
    })?;
    Ok((NO_STORE, Json(json!({ "c_nonce": nonce }))).into_response())
}

/// `POST /credential`.
pub(super) async fn credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OauthError> {
    let now = OffsetDateTime::now_utc();
    let token = authenticate(&state, &headers, "/credential", now.unix_timestamp()).await?;
    let (body, encryption) = read_body(&state, &headers, &body)?;
    let certificate = state
        .service
        .get_by_id(&token.certificate_id)
        .await
        .map_err(|error| credential_error(CredentialError::from(error)))?;
    let request = parse_request(
        &body,
        &certificate.record.type_id,
        token.credential_identifiers.as_deref(),
    )
    .map_err(credential_error)?;
    let outcome = issue(&state.service, &token, &certificate, &request, now)
        .await
        .map_err(credential_error)?;
    let certificate_id = &certificate.record.id;
    match outcome {
        CredentialOutcome::Issued {
            credentials,
            notification_id,
        } => {
            tracing::info!(%certificate_id, configuration = %request.configuration_id, count = credentials.len(), "credentials issued to a wallet");
            let body = credentials_body(credentials, notification_id);
            respond(StatusCode::OK, &body, encryption.as_ref())
        }
        CredentialOutcome::Deferred { transaction_id } => {
            tracing::info!(%certificate_id, "credential deferred until the certificate is approved");
            let body =
                json!({ "transaction_id": transaction_id, "interval": DEFERRED_INTERVAL_SECONDS });
            respond(StatusCode::ACCEPTED, &body, encryption.as_ref())
        }
    }
}

/// `POST /deferred_credential`.
pub(super) async fn deferred_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OauthError> {
    let now = OffsetDateTime::now_utc();
    let token = authenticate(
        &state,
        &headers,
        "/deferred_credential",
        now.unix_timestamp(),
    )
    .await?;
    let (body, encryption) = read_body(&state, &headers, &body)?;
    let Some(transaction_id) = body.get("transaction_id").and_then(Value::as_str) else {
        return Err(credential_error(CredentialError::InvalidCredentialRequest(
            "the deferred credential request has no transaction_id".into(),
        )));
    };
    match issue_deferred(&state.service, &token, transaction_id, now)
        .await
        .map_err(credential_error)?
    {
        DeferredOutcome::Issued {
            credentials,
            notification_id,
        } => {
            tracing::info!(certificate_id = %token.certificate_id, count = credentials.len(), "deferred credentials issued to a wallet");
            let body = credentials_body(credentials, notification_id);
            respond(StatusCode::OK, &body, encryption.as_ref())
        }
        DeferredOutcome::Pending => {
            let body =
                json!({ "transaction_id": transaction_id, "interval": DEFERRED_INTERVAL_SECONDS });
            respond(StatusCode::ACCEPTED, &body, encryption.as_ref())
        }
    }
}

/// `POST /notification`: records what the wallet did with the credentials.
pub(super) async fn notification(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OauthError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token = authenticate(&state, &headers, "/notification", now).await?;
    let invalid = |detail: &str| OauthError::bad_request("invalid_notification_request", detail);
    if media_type(&headers) != "application/json" {
        return Err(invalid("send the notification as application/json"));
    }
    let body: Value = serde_json::from_slice(&body)
        .map_err(|error| invalid(&format!("the body is not valid JSON: {error}")))?;
    let notification_id = body
        .get("notification_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("notification_id is missing"))?;
    let event = body
        .get("event")
        .and_then(Value::as_str)
        .filter(|event| NOTIFICATION_EVENTS.contains(event))
        .ok_or_else(|| {
            invalid("event must be credential_accepted, credential_failure or credential_deleted")
        })?;

    let keys = &state.service.data_keys;
    if open_sealed_value(
        keys,
        NOTIFICATION_ID,
        &token.certificate_id,
        notification_id,
        now,
    )
    .is_none()
    {
        return Err(OauthError::bad_request(
            "invalid_notification_id",
            "the notification_id is unknown or expired, or it was issued for another certificate than this access token's",
        ));
    }
    // The wallet's event_description is free text that may name the holder, so it is not
    // stored.
    state
        .service
        .store
        .record_audit(&AuditEvent {
            at: now,
            actor: "wallet".into(),
            action: format!("wallet.{event}"),
            certificate_id: Some(token.certificate_id.clone()),
            detail: None,
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "recording a wallet notification failed");
            OauthError::internal()
        })?;
    tracing::info!(certificate_id = %token.certificate_id, event, "wallet notification recorded");
    Ok((StatusCode::NO_CONTENT, NO_STORE).into_response())
}

/// Checks the access token, and the DPoP proof when the token is bound to a key.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    now: i64,
) -> Result<AccessTokenRecord, OauthError> {
    let invalid_request = |detail: String| OauthError::bad_request("invalid_request", detail);
    let authorization = single_header(headers, "authorization")
        .map_err(invalid_request)?
        .ok_or_else(|| {
            OauthError::unauthorized(
                "Bearer",
                "invalid_token",
                "the request has no access token; send Authorization: Bearer (or DPoP) with the token endpoint's access_token",
            )
        })?;
    let (scheme, access_token) = authorization.split_once(' ').unwrap_or((authorization, ""));
    let scheme = if scheme.eq_ignore_ascii_case("dpop") {
        "DPoP"
    } else if scheme.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else {
        return Err(OauthError::unauthorized(
            "Bearer",
            "invalid_token",
            "the Authorization scheme must be Bearer or DPoP",
        ));
    };
    let access_token = access_token.trim();
    let token = state
        .service
        .store
        .access_token(&hash_secret(access_token), now)
        .await
        .map_err(|error| {
            tracing::error!(%error, "looking up an access token failed");
            OauthError::internal()
        })?
        .ok_or_else(|| {
            OauthError::unauthorized(
                scheme,
                "invalid_token",
                "the access token is unknown or expired",
            )
        })?;

    let Some(bound_key) = &token.dpop_jkt else {
        if scheme == "DPoP" {
            return Err(OauthError::unauthorized(
                "Bearer",
                "invalid_token",
                "this access token is a bearer token; send it with the Bearer scheme",
            ));
        }
        return Ok(token);
    };
    if scheme != "DPoP" {
        return Err(OauthError::unauthorized(
            "DPoP",
            "invalid_token",
            "this access token is bound to a DPoP key; send it with the DPoP scheme and a DPoP proof",
        ));
    }
    let proof = single_header(headers, "dpop")
        .map_err(invalid_request)?
        .ok_or_else(|| {
            OauthError::unauthorized(
                "DPoP",
                "invalid_dpop_proof",
                "this access token is bound to a DPoP key, but the request has no DPoP proof",
            )
        })?;
    let url = endpoint(&state.service.issuer.issuer_id, path);
    let target = DpopTarget {
        method: "POST",
        url: &url,
        access_token: Some(access_token),
    };
    let store = state.service.store.as_ref();
    let thumbprint = check_dpop_proof(proof, &target, &state.wallet.dpop_nonces, store, now)
        .await
        .map_err(|error| match error {
            DpopError::Invalid(detail) => {
                OauthError::unauthorized("DPoP", "invalid_dpop_proof", detail)
            }
            DpopError::UseNonce(detail) => {
                OauthError::unauthorized("DPoP", "use_dpop_nonce", detail)
                    .with_dpop_nonce(state.wallet.dpop_nonces.current(now))
            }
            DpopError::Store(error) => {
                tracing::error!(%error, "recording a DPoP proof failed");
                OauthError::internal()
            }
        })?;
    if &thumbprint != bound_key {
        return Err(OauthError::unauthorized(
            "DPoP",
            "invalid_dpop_proof",
            "the DPoP proof is signed with another key than the one the access token is bound to",
        ));
    }
    Ok(token)
}

/// Reads a credential or deferred credential request: JSON, or a JWE encrypted to the issuer's
/// request key (`application/jwt`). An encrypted request must ask for an encrypted response,
/// and a request for one must be encrypted, because it carries the wallet's key
/// (OpenID4VCI 1.0).
fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Value, Option<ResponseEncryption>), OauthError> {
    let encrypted = match media_type(headers).as_str() {
        "application/json" => false,
        "application/jwt" => true,
        other => {
            return Err(credential_error(CredentialError::InvalidCredentialRequest(format!(
                "the Content-Type is {other:?}; send application/json, or application/jwt for an encrypted request"
            ))))
        }
    };
    let plaintext = if encrypted {
        let compact = std::str::from_utf8(body).map_err(|_| {
            credential_error(CredentialError::InvalidEncryptionParameters(
                "the encrypted request is not UTF-8 text".into(),
            ))
        })?;
        state
            .wallet
            .request_key
            .decrypt(compact.trim())
            .map_err(|error| {
                credential_error(CredentialError::InvalidEncryptionParameters(
                    error.to_string(),
                ))
            })?
    } else {
        body.to_vec()
    };
    let value: Value = serde_json::from_slice(&plaintext).map_err(|error| {
        credential_error(CredentialError::InvalidCredentialRequest(format!(
            "the request is not valid JSON: {error}"
        )))
    })?;
    let encryption = match (value.get("credential_response_encryption"), encrypted) {
        (Some(parameters), true) => Some(ResponseEncryption::parse(parameters).map_err(|error| {
            credential_error(CredentialError::InvalidEncryptionParameters(error.to_string()))
        })?),
        (Some(_), false) => {
            return Err(credential_error(CredentialError::InvalidEncryptionParameters(
                "the request carries credential_response_encryption, so it must itself be encrypted to the key in credential_request_encryption and sent as application/jwt".into(),
            )))
        }
        (None, true) => {
            return Err(credential_error(CredentialError::InvalidEncryptionParameters(
                "an encrypted request must carry credential_response_encryption".into(),
            )))
        }
        (None, false) => None,
    };
    Ok((value, encryption))
}

fn credentials_body(credentials: Vec<String>, notification_id: String) -> Value {
    let credentials: Vec<Value> = credentials
        .into_iter()
        .map(|credential| json!({ "credential": credential }))
        .collect();
    json!({ "credentials": credentials, "notification_id": notification_id })
}

/// Sends `body` as `application/json`, or encrypted as `application/jwt`.
fn respond(
    status: StatusCode,
    body: &Value,
    encryption: Option<&ResponseEncryption>,
) -> Result<Response, OauthError> {
    let Some(encryption) = encryption else {
        return Ok((status, NO_STORE, Json(body)).into_response());
    };
    let jwe = encryption
        .encrypt(body.to_string().as_bytes())
        .map_err(|error| {
            tracing::error!(%error, "encrypting a credential response failed");
            OauthError::internal()
        })?;
    Ok((
        status,
        NO_STORE,
        [(header::CONTENT_TYPE, "application/jwt")],
        jwe,
    )
        .into_response())
}

fn credential_error(error: CredentialError) -> OauthError {
    if let CredentialError::Internal(detail) = &error {
        tracing::error!(%detail, "credential request failed");
        return OauthError::internal();
    }
    OauthError::bad_request(error.code(), error.to_string())
}
