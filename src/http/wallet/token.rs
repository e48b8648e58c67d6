//! The token endpoint: the pre-authorized code grant, with an optional DPoP proof that binds the
//! access token to the wallet's key.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use time::OffsetDateTime;

use super::super::AppState;
use super::{media_type, single_header, OauthError, NO_STORE};
use crate::oid4vci::dpop::{check_dpop_proof, DpopError, DpopTarget};
use crate::oid4vci::metadata::endpoint;
use crate::oid4vci::token::{exchange, TokenError};

pub(super) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OauthError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if media_type(&headers) != "application/x-www-form-urlencoded" {
        return Err(token_error(
            &TokenError::InvalidRequest(
                "send the token request as application/x-www-form-urlencoded".into(),
            ),
            &state,
            now,
        ));
    }
    let dpop_jkt = match single_header(&headers, "dpop")
        .map_err(|error| token_error(&TokenError::InvalidDpopProof(error), &state, now))?
    {
        Some(proof) => {
            let token_url = endpoint(&state.service.issuer.issuer_id, "/token");
            let target = DpopTarget {
                method: "POST",
                url: &token_url,
                access_token: None,
            };
            let store = state.service.store.as_ref();
            match check_dpop_proof(proof, &target, &state.wallet.dpop_nonces, store, now).await {
                Ok(thumbprint) => Some(thumbprint),
                Err(DpopError::Invalid(detail)) => {
                    return Err(token_error(
                        &TokenError::InvalidDpopProof(detail),
                        &state,
                        now,
                    ))
                }
                Err(DpopError::UseNonce(detail)) => {
                    return Err(token_error(&TokenError::UseDpopNonce(detail), &state, now))
                }
                Err(DpopError::Store(error)) => {
                    return Err(token_error(&TokenError::Store(error), &state, now))
                }
            }
        }
        None => None,
    };
    let form = super::super::api::url_pairs(&String::from_utf8_lossy(&body));
    match exchange(state.service.store.as_ref(), &form, dpop_jkt, now).await {
        Ok((response, certificate_id)) => {
            tracing::info!(%certificate_id, token_type = response.token_type, "pre-authorized code exchanged for an access token");
            Ok((NO_STORE, Json(response)).into_response())
        }
        Err(error) => Err(token_error(&error, &state, now)),
    }
}

fn token_error(error: &TokenError, state: &AppState, now: i64) -> OauthError {
    match error {
        TokenError::Store(_) | TokenError::Random(_) => {
            tracing::error!(%error, "token request failed");
            OauthError::internal()
        }
        TokenError::UseDpopNonce(_) => OauthError::bad_request(error.code(), error.to_string())
            .with_dpop_nonce(state.wallet.dpop_nonces.current(now)),
        _ => OauthError::bad_request(error.code(), error.to_string()),
    }
}
