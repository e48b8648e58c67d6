//! The token endpoint's pre-authorized code grant (OpenID4VCI 1.0; RFC 6749,
//! section 5). The code is consumed by one atomic store operation, so it is accepted once even
//! when several nodes receive it at the same moment. A wrong transaction code counts against the
//! offer, which locks after [`MAX_TX_CODE_ATTEMPTS`] of them.

use serde::Serialize;
use serde_json::{json, Value};

use super::offer::{tx_code_hash, MAX_TX_CODE_ATTEMPTS};
use super::{hash_secret, new_secret, PRE_AUTHORIZED_CODE_GRANT};
use crate::store::{
    AccessTokenRecord, AuthorizationSession, Redemption, Status, Store, StoreError,
};

/// Lifetime of an access token, in seconds.
pub const ACCESS_TOKEN_LIFETIME_SECONDS: i64 = 300;

/// Lifetime of a refresh token, in seconds (30 days, as long as a deferred request waits).
pub const REFRESH_TOKEN_LIFETIME_SECONDS: i64 = 30 * 86_400;

/// Session kind of refresh tokens in the store.
pub const REFRESH_SESSION: &str = "refresh";

/// The grant a refresh token passes on to the access tokens it is exchanged for.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct RefreshGrant {
    client_id: Option<String>,
    dpop_jkt: Option<String>,
    credential_identifiers: Option<Vec<String>>,
}

/// A successful token response (RFC 6749, section 5.1).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenResponse {
    pub access_token: String,
    /// `DPoP` for a token bound to a DPoP key (RFC 9449, section 5), else `Bearer`.
    pub token_type: &'static str,
    pub expires_in: i64,
    /// The granted credentials with their identifiers, when the authorization request named them
    /// with `authorization_details`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Value>,
    /// A refresh token, issued while the certificate waits for approval, so the wallet can get a
    /// new access token for the deferred credential endpoint after this one expires. Each use
    /// returns a new refresh token and ends the old one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// A token error with its RFC 6749 section 5.2 code.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("the code is unknown, expired or already used")]
    InvalidGrant,
    #[error("invalid_grant: the certificate of this offer is {0}; ask the issuer")]
    CertificateNotActive(&'static str),
    /// An authorization code that does not fit the request that obtained it.
    #[error("{0}")]
    InvalidGrantDetail(String),
    #[error("the transaction code (tx_code) is missing or wrong; {attempts_left} attempts are left before the offer locks")]
    WrongTxCode { attempts_left: i64 },
    #[error("the offer is locked after {MAX_TX_CODE_ATTEMPTS} wrong transaction codes; ask the e-service for a new offer")]
    Locked,
    /// An invalid DPoP proof (RFC 9449, section 5): `invalid_dpop_proof`.
    #[error("{0}")]
    InvalidDpopProof(String),
    /// The DPoP proof lacks the current server nonce (RFC 9449, section 8): `use_dpop_nonce`.
    #[error("{0}")]
    UseDpopNonce(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot generate a token: {0}")]
    Random(#[from] openssl::error::ErrorStack),
}

impl TokenError {
    /// Returns the OAuth `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::UnsupportedGrantType(_) => "unsupported_grant_type",
            TokenError::InvalidGrant
            | TokenError::InvalidGrantDetail(_)
            | TokenError::WrongTxCode { .. }
            | TokenError::Locked
            | TokenError::CertificateNotActive(_) => "invalid_grant",
            TokenError::InvalidDpopProof(_) => "invalid_dpop_proof",
            TokenError::UseDpopNonce(_) => "use_dpop_nonce",
            TokenError::Store(_) | TokenError::Random(_) => "server_error",
        }
    }
}

/// Returns the single value of a form parameter, rejecting a repeated one (RFC 6749, section 3.2).
pub fn form_parameter<'a>(
    form: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, TokenError> {
    let mut values = form
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(TokenError::InvalidRequest(format!(
            "the parameter {name} is repeated"
        )));
    }
    Ok(first)
}

/// Exchanges a pre-authorized code (with its transaction code) or an authorization code for an
/// access token bound to the same certificate, and to `dpop_jkt` when the request carried a
/// DPoP proof.
pub async fn exchange(
    store: &dyn Store,
    form: &[(String, String)],
    dpop_jkt: Option<String>,
    now: i64,
) -> Result<(TokenResponse, String), TokenError> {
    let grant_type = form_parameter(form, "grant_type")?
        .ok_or_else(|| TokenError::InvalidRequest("grant_type is missing".into()))?;
    // The pre-authorized code's redemption returns the certificate's status too; the other
    // grants read it afterwards.
    let (certificate_id, known_status, client_id, identifiers) = match grant_type {
        PRE_AUTHORIZED_CODE_GRANT => {
            let (certificate_id, status) = redeem_pre_authorized(store, form, now).await?;
            (certificate_id, Some(status), None, None)
        }
        "refresh_token" => {
            let (certificate_id, grant) = redeem_refresh_token(store, form, dpop_jkt.as_deref(), now).await?;
            (certificate_id, None, grant.client_id, grant.credential_identifiers)
        }
        "authorization_code" => {
            let redeemed = super::authorization::redeem_code(store, form, now).await?;
            // NOTE: a token granted for `scope` is not limited to the scoped configurations: it
            // may request any format of the certificate's type, all of which the offer named.
            let identifiers = redeemed
                .request
                .authorization_details
                .then(|| redeemed.request.configuration_ids.clone());
            (
                redeemed.certificate_id,
                None,
                Some(redeemed.request.client_id),
                identifiers,
            )
        }
        other => {
            return Err(TokenError::UnsupportedGrantType(format!(
                "{other:?} is not supported; use {PRE_AUTHORIZED_CODE_GRANT}, authorization_code or refresh_token"
            )))
        }
    };
    // A pre-authorized code comes with its certificate's status and stays unused while the
    // certificate is suspended.
    // NOTE: an authorization code or refresh token is consumed before the status is read, so
    // after a suspended certificate is reinstated, that wallet needs a new offer.
    let status = match known_status {
        Some(status) => status,
        None => store
            .certificate_by_id(&certificate_id)
            .await?
            .map(|record| record.status)
            .ok_or(TokenError::InvalidGrant)?,
    };
    // A pending certificate gets a token, because its credential request gets deferred issuance
    // until a case officer approves it.
    if matches!(status, Status::Revoked | Status::Suspended) {
        return Err(TokenError::CertificateNotActive(status.as_str()));
    }

    let access_token = new_secret()?;
    let token_type = if dpop_jkt.is_some() { "DPoP" } else { "Bearer" };
    // Each configuration is its own credential identifier.
    let authorization_details = identifiers.as_ref().map(|identifiers| {
        Value::from(
            identifiers
                .iter()
                .map(|id| {
                    json!({
                        "type": "openid_credential",
                        "credential_configuration_id": id,
                        "credential_identifiers": [id],
                    })
                })
                .collect::<Vec<_>>(),
        )
    });
    let refresh_token = if status == Status::Pending {
        let grant = RefreshGrant {
            client_id: client_id.clone(),
            dpop_jkt: dpop_jkt.clone(),
            credential_identifiers: identifiers.clone(),
        };
        let token = new_secret()?;
        let data = serde_json::to_string(&grant)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        store
            .put_authorization_session(&AuthorizationSession {
                kind: REFRESH_SESSION.into(),
                hash: hash_secret(&token),
                certificate_id: certificate_id.clone(),
                data,
                expires_at: now + REFRESH_TOKEN_LIFETIME_SECONDS,
            })
            .await?;
        Some(token)
    } else {
        None
    };
    store
        .put_access_token(&AccessTokenRecord {
            hash: hash_secret(&access_token),
            certificate_id: certificate_id.clone(),
            client_id,
            dpop_jkt,
            credential_identifiers: identifiers,
            expires_at: now + ACCESS_TOKEN_LIFETIME_SECONDS,
        })
        .await?;
    Ok((
        TokenResponse {
            access_token,
            token_type,
            expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
            authorization_details,
            refresh_token,
        },
        certificate_id,
    ))
}

/// Takes a refresh token once. A token issued with a DPoP proof needs a proof with the same key
/// (RFC 9449, section 5).
async fn redeem_refresh_token(
    store: &dyn Store,
    form: &[(String, String)],
    dpop_jkt: Option<&str>,
    now: i64,
) -> Result<(String, RefreshGrant), TokenError> {
    let token = form_parameter(form, "refresh_token")?
        .filter(|token| !token.is_empty())
        .ok_or_else(|| TokenError::InvalidRequest("refresh_token is missing".into()))?;
    let session = store
        .take_authorization_session(REFRESH_SESSION, &hash_secret(token), now)
        .await?
        .ok_or(TokenError::InvalidGrant)?;
    let grant: RefreshGrant = serde_json::from_str(&session.data)
        .map_err(|error| StoreError::Corrupt(format!("refresh token: {error}")))?;
    if grant.dpop_jkt.is_some() && grant.dpop_jkt.as_deref() != dpop_jkt {
        return Err(TokenError::InvalidGrantDetail(
            "the refresh token is bound to a DPoP key; send a DPoP proof signed with that key"
                .into(),
        ));
    }
    if grant.client_id.is_some() && grant.client_id.as_deref() != form_parameter(form, "client_id")?
    {
        return Err(TokenError::InvalidGrantDetail(
            "the refresh token was issued to another client_id".into(),
        ));
    }
    Ok((session.certificate_id, grant))
}

/// Consumes a pre-authorized code if its transaction code is right, and returns the
/// certificate id.
async fn redeem_pre_authorized(
    store: &dyn Store,
    form: &[(String, String)],
    now: i64,
) -> Result<(String, Status), TokenError> {
    let code = form_parameter(form, "pre-authorized_code")?
        .filter(|code| !code.is_empty())
        .ok_or_else(|| TokenError::InvalidRequest("pre-authorized_code is missing".into()))?;
    let tx_code = form_parameter(form, "tx_code")?.map(|tx_code| tx_code_hash(code, tx_code));

    let granted = match store
        .redeem_pre_authorized_code(
            &hash_secret(code),
            tx_code.as_deref(),
            MAX_TX_CODE_ATTEMPTS,
            now,
        )
        .await?
    {
        Redemption::Granted {
            certificate_id,
            status,
        } => (certificate_id, status),
        Redemption::WrongTxCode { attempts_left } => {
            return Err(TokenError::WrongTxCode { attempts_left })
        }
        Redemption::NotActive { status } => {
            return Err(TokenError::CertificateNotActive(status.as_str()))
        }
        Redemption::Locked => return Err(TokenError::Locked),
        Redemption::Invalid => return Err(TokenError::InvalidGrant),
    };
    Ok(granted)
}
