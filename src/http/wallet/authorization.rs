//! The authorization code flow's endpoints: pushed authorization requests, the authorization
//! endpoint that sends the holder to the upstream provider, and the callback that checks the
//! login and returns an authorization code to the wallet.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::super::AppState;
use super::{media_type, OauthError, NO_STORE};
use crate::oid4vci::authorization::{
    from_session, push, s256, store_session, AuthorizationError, AuthorizationRequest,
    CODE_LIFETIME_SECONDS, CODE_SESSION, LOGIN_LIFETIME_SECONDS, LOGIN_SESSION,
    PAR_LIFETIME_SECONDS, PAR_SESSION, REQUEST_URI_PREFIX,
};
use crate::oid4vci::metadata::endpoint;
use crate::oid4vci::offer::percent_encode;
use crate::oid4vci::upstream::Upstream;
use crate::oid4vci::{hash_secret, new_secret};
use crate::store::Status;

fn upstream(state: &AppState) -> Result<&Upstream, OauthError> {
    state.wallet.upstream.as_deref().ok_or_else(|| {
        OauthError::bad_request(
            "invalid_request",
            "the authorization code flow is not configured on this issuer; use the pre-authorized code of the offer",
        )
    })
}

/// Returns the first value of query parameter `name`.
fn query_parameter<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn authorization_error(error: AuthorizationError) -> OauthError {
    if matches!(
        error,
        AuthorizationError::Store(_) | AuthorizationError::Random(_)
    ) {
        tracing::error!(%error, "authorization request failed");
        return OauthError::internal();
    }
    OauthError::bad_request(error.code(), error.to_string())
}

/// `POST /par`: a pushed authorization request (RFC 9126).
pub(super) async fn par(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OauthError> {
    upstream(&state)?;
    if media_type(&headers) != "application/x-www-form-urlencoded" {
        return Err(OauthError::bad_request(
            "invalid_request",
            "send the pushed authorization request as application/x-www-form-urlencoded",
        ));
    }
    let form = super::super::api::url_pairs(&String::from_utf8_lossy(&body));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let request_uri = push(state.service.store.as_ref(), &form, now)
        .await
        .map_err(authorization_error)?;
    Ok((
        StatusCode::CREATED,
        NO_STORE,
        Json(json!({ "request_uri": request_uri, "expires_in": PAR_LIFETIME_SECONDS })),
    )
        .into_response())
}

/// `GET /authorize?client_id=...&request_uri=...`: starts the holder's login upstream.
pub(super) async fn authorize(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, OauthError> {
    let upstream = upstream(&state)?;
    let query = super::super::api::url_pairs(query.as_deref().unwrap_or(""));
    let parameter = |name: &str| query_parameter(&query, name);
    let invalid = |detail: &str| OauthError::bad_request("invalid_request", detail);
    let request_uri = parameter("request_uri").ok_or_else(|| {
        invalid("request_uri is missing; push the authorization request to the PAR endpoint first")
    })?;
    let reference = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .ok_or_else(|| invalid("request_uri is not one this issuer returned"))?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let store = state.service.store.as_ref();
    let failed = |error: crate::store::StoreError| {
        tracing::error!(%error, "reading an authorization session failed");
        OauthError::internal()
    };
    let session = store
        .take_authorization_session(PAR_SESSION, &hash_secret(reference), now)
        .await
        .map_err(failed)?
        .ok_or_else(|| invalid("request_uri is unknown, expired or already used"))?;
    let mut request = from_session(&session).map_err(failed)?;
    if parameter("client_id") != Some(request.client_id.as_str()) {
        return Err(invalid(
            "client_id differs from the pushed authorization request's",
        ));
    }

    let verifier = new_secret().map_err(|_| OauthError::internal())?;
    let nonce = new_secret().map_err(|_| OauthError::internal())?;
    request.upstream_nonce = Some(nonce.clone());
    request.upstream_verifier = Some(verifier.clone());
    let login_state = store_session(
        store,
        LOGIN_SESSION,
        &session.certificate_id,
        &request,
        now + LOGIN_LIFETIME_SECONDS,
    )
    .await
    .map_err(authorization_error)?;
    let callback = endpoint(&state.service.issuer.issuer_id, "/authorize/callback");
    let url = upstream
        .authorization_url(&callback, &login_state, &nonce, &s256(&verifier))
        .await
        .map_err(|error| {
            tracing::error!(%error, "the upstream OpenID provider is unavailable");
            OauthError::internal()
        })?;
    tracing::info!(certificate_id = %session.certificate_id, "holder sent to the upstream login");
    Ok(Redirect::to(&url).into_response())
}

/// `GET /authorize/callback`: the upstream provider's response. The ID token's holder claim
/// must equal the certificate holder's personal identity number; otherwise the wallet gets
/// `access_denied`.
pub(super) async fn callback(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, OauthError> {
    let upstream = upstream(&state)?;
    let query = super::super::api::url_pairs(query.as_deref().unwrap_or(""));
    let parameter = |name: &str| query_parameter(&query, name);
    let invalid = |detail: &str| OauthError::bad_request("invalid_request", detail);
    let login_state = parameter("state").ok_or_else(|| invalid("state is missing"))?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let store = state.service.store.as_ref();
    let failed = |error: crate::store::StoreError| {
        tracing::error!(%error, "reading a login session failed");
        OauthError::internal()
    };
    let session = store
        .take_authorization_session(LOGIN_SESSION, &hash_secret(login_state), now)
        .await
        .map_err(failed)?
        .ok_or_else(|| invalid("the login is unknown, expired or already finished"))?;
    let request = from_session(&session).map_err(failed)?;
    let issuer_id = &state.service.issuer.issuer_id;
    let certificate_id = &session.certificate_id;

    if let Some(error) = parameter("error") {
        tracing::info!(%certificate_id, upstream_error = %error, "the upstream login failed");
        return Ok(to_wallet(
            &request,
            issuer_id,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "the login at the identity provider did not complete",
                ),
            ],
        ));
    }
    let code = parameter("code").ok_or_else(|| invalid("code is missing"))?;
    let callback = endpoint(issuer_id, "/authorize/callback");
    let (Some(nonce), Some(verifier)) = (&request.upstream_nonce, &request.upstream_verifier)
    else {
        return Err(failed(crate::store::StoreError::Corrupt(
            "a login session without its nonce".into(),
        )));
    };
    let claims = match upstream
        .redeem_code(code, &callback, verifier, nonce, now)
        .await
    {
        Ok(claims) => claims,
        Err(error) => {
            tracing::warn!(%certificate_id, %error, "the upstream login could not be verified");
            return Ok(to_wallet(
                &request,
                issuer_id,
                &[
                    ("error", "access_denied"),
                    (
                        "error_description",
                        "the login at the identity provider could not be verified",
                    ),
                ],
            ));
        }
    };

    let certificate = state
        .service
        .get_by_id(certificate_id)
        .await
        .map_err(|error| {
            tracing::error!(%certificate_id, %error, "reading the certificate of a login failed");
            OauthError::internal()
        })?;
    let holder_number = certificate
        .data
        .as_ref()
        .and_then(|data| data.holder.as_ref())
        .and_then(|holder| holder.personal_identity_number.as_deref());
    let logged_in = claims
        .get(&upstream.config.holder_claim)
        .and_then(Value::as_str);
    let matches = holder_number.is_some() && holder_number == logged_in;
    if certificate.record.status == Status::Revoked || !matches {
        tracing::info!(%certificate_id, revoked = certificate.record.status == Status::Revoked, "the logged-in person is not the certificate's holder, or the certificate is revoked");
        return Ok(to_wallet(
            &request,
            issuer_id,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "the person who logged in is not the holder of this certificate",
                ),
            ],
        ));
    }

    let code = store_session(
        store,
        CODE_SESSION,
        certificate_id,
        &request,
        now + CODE_LIFETIME_SECONDS,
    )
    .await
    .map_err(authorization_error)?;
    tracing::info!(%certificate_id, "holder logged in; authorization code issued");
    Ok(to_wallet(&request, issuer_id, &[("code", code.as_str())]))
}

/// Redirects the holder's browser to the wallet's redirect URI with `parameters`, the wallet's
/// `state` and the issuer (`iss`, RFC 9207).
fn to_wallet(
    request: &AuthorizationRequest,
    issuer_id: &str,
    parameters: &[(&str, &str)],
) -> Response {
    let mut url = request.redirect_uri.clone();
    url.push(if url.contains('?') { '&' } else { '?' });
    let mut pairs: Vec<(&str, &str)> = parameters.to_vec();
    if let Some(state) = &request.state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer_id));
    let query: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect();
    url.push_str(&query.join("&"));
    ([(header::CACHE_CONTROL, "no-store")], Redirect::to(&url)).into_response()
}
