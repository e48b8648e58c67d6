//! The token endpoint's pre-authorized code grant (OpenID4VCI 1.0, section 6; RFC 6749,
//! section 5). The code is consumed by one atomic store operation, so it is accepted once even
//! when several nodes receive it at the same moment.

use serde::Serialize;

use super::{
    hash_secret, new_secret, ACCESS_TOKEN, PRE_AUTHORIZED_CODE, PRE_AUTHORIZED_CODE_GRANT,
};
use crate::store::{Secret, Status, Store, StoreError};

/// Lifetime of an access token, in seconds.
pub const ACCESS_TOKEN_LIFETIME_SECONDS: i64 = 300;

/// A successful token response (RFC 6749, section 5.1).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

/// A token error with its RFC 6749 section 5.2 code.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("invalid_grant: the pre-authorized code is unknown, expired or already used")]
    InvalidGrant,
    #[error("invalid_grant: the certificate of this offer is {0}; ask the issuer")]
    CertificateNotActive(&'static str),
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
            TokenError::InvalidGrant | TokenError::CertificateNotActive(_) => "invalid_grant",
            TokenError::Store(_) | TokenError::Random(_) => "server_error",
        }
    }
}

/// Exchanges a pre-authorized code for an access token bound to the same certificate.
pub async fn exchange(
    store: &dyn Store,
    form: &[(String, String)],
    now: i64,
) -> Result<(TokenResponse, String), TokenError> {
    let parameter = |name: &str| -> Result<Option<&str>, TokenError> {
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
    };
    let grant_type = parameter("grant_type")?
        .ok_or_else(|| TokenError::InvalidRequest("grant_type is missing".into()))?;
    if grant_type != PRE_AUTHORIZED_CODE_GRANT {
        return Err(TokenError::UnsupportedGrantType(format!(
            "{grant_type:?} is not supported; use {PRE_AUTHORIZED_CODE_GRANT}"
        )));
    }
    let code = parameter("pre-authorized_code")?
        .filter(|code| !code.is_empty())
        .ok_or_else(|| TokenError::InvalidRequest("pre-authorized_code is missing".into()))?;

    // The certificate is checked before the code is consumed, so the offer of a suspended
    // certificate still works once the certificate is reinstated.
    let code_hash = hash_secret(code);
    let subject = store
        .find_secret(PRE_AUTHORIZED_CODE, &code_hash, now)
        .await?
        .ok_or(TokenError::InvalidGrant)?;
    let status = store
        .certificate_by_id(&subject)
        .await?
        .map(|record| record.status)
        .ok_or(TokenError::InvalidGrant)?;
    if status != Status::Active {
        return Err(TokenError::CertificateNotActive(status.as_str()));
    }
    let certificate_id = store
        .consume_secret(PRE_AUTHORIZED_CODE, &code_hash, now)
        .await?
        .ok_or(TokenError::InvalidGrant)?;
    let access_token = new_secret()?;
    store
        .put_secret(&Secret {
            kind: ACCESS_TOKEN.into(),
            hash: hash_secret(&access_token),
            subject_id: certificate_id.clone(),
            expires_at: now + ACCESS_TOKEN_LIFETIME_SECONDS,
        })
        .await?;
    Ok((
        TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
        },
        certificate_id,
    ))
}
