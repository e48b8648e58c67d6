//! The authorization code flow of OpenID4VCI 1.0 and RFC 6749. The wallet pushes an
//! authorization request (RFC 9126) with PKCE S256 (RFC 7636) and the offer's `issuer_state`.
//! The holder logs in at the upstream OpenID provider, whose ID token must name the
//! certificate's holder. The wallet then exchanges the code at the token endpoint.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::token::{form_parameter, TokenError};
use super::{configuration_id, hash_secret, new_secret};
use crate::crypto::b64url;
use crate::formats::Format;
use crate::store::{AuthorizationSession, Status, Store, StoreError};

/// Secret kind of the `issuer_state` values of offers.
pub const ISSUER_STATE: &str = "issuer_state";

/// The `request_uri` prefix of pushed authorization requests (RFC 9126, section 2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Lifetime of a pushed authorization request, in seconds.
pub const PAR_LIFETIME_SECONDS: i64 = 60;

/// Lifetime of a login at the upstream provider, in seconds.
pub const LOGIN_LIFETIME_SECONDS: i64 = 600;

/// Lifetime of an authorization code, in seconds.
pub const CODE_LIFETIME_SECONDS: i64 = 60;

/// Session kinds in the store.
pub const PAR_SESSION: &str = "par";
pub const LOGIN_SESSION: &str = "login";
pub const CODE_SESSION: &str = "code";

/// A rejected authorization request with its RFC 6749 error code.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    InvalidAuthorizationDetails(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot generate a value: {0}")]
    Random(#[from] openssl::error::ErrorStack),
}

impl AuthorizationError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthorizationError::InvalidRequest(_) => "invalid_request",
            AuthorizationError::InvalidScope(_) => "invalid_scope",
            AuthorizationError::InvalidAuthorizationDetails(_) => "invalid_authorization_details",
            AuthorizationError::Store(_) | AuthorizationError::Random(_) => "server_error",
        }
    }
}

/// An accepted authorization request, kept from the PAR to the token exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The credential configurations requested.
    pub configuration_ids: Vec<String>,
    /// Whether they were requested with `authorization_details`, so the token response must
    /// return credential identifiers.
    pub authorization_details: bool,
    /// The login at the upstream provider: its nonce and PKCE verifier. Set from the
    /// authorization endpoint on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_verifier: Option<String>,
}

/// Returns the `issuer_state` of an offer, derived from its id like its pre-authorized code.
pub fn issuer_state(offer_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"intyg issuer state\0");
    hasher.update(offer_id.as_bytes());
    b64url(hasher.finalize())
}

/// Returns the PKCE S256 challenge of a verifier (RFC 7636, section 4.2).
pub fn s256(verifier: &str) -> String {
    b64url(Sha256::digest(verifier.as_bytes()))
}

fn is_pkce_value(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~'))
}

/// Checks a pushed authorization request, stores it and returns its `request_uri`.
pub async fn push(
    store: &dyn Store,
    form: &[(String, String)],
    now: i64,
) -> Result<String, AuthorizationError> {
    let parameter = |name: &str| {
        form_parameter(form, name).map_err(|error| match error {
            TokenError::InvalidRequest(detail) => AuthorizationError::InvalidRequest(detail),
            other => AuthorizationError::InvalidRequest(other.to_string()),
        })
    };
    let required = |name: &str| -> Result<String, AuthorizationError> {
        parameter(name)?
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| AuthorizationError::InvalidRequest(format!("{name} is missing")))
    };
    if parameter("request_uri")?.is_some() || parameter("request")?.is_some() {
        return Err(AuthorizationError::InvalidRequest(
            "a pushed authorization request may not carry request_uri or request".into(),
        ));
    }
    let response_type = required("response_type")?;
    if response_type != "code" {
        return Err(AuthorizationError::InvalidRequest(format!(
            "response_type {response_type:?} is not supported; use code"
        )));
    }
    let client_id = required("client_id")?;
    let redirect_uri = required("redirect_uri")?;
    if !redirect_uri.contains("://") || redirect_uri.contains('#') {
        return Err(AuthorizationError::InvalidRequest(
            "redirect_uri must be an absolute URI without a fragment".into(),
        ));
    }
    let method = parameter("code_challenge_method")?.unwrap_or("");
    if method != "S256" {
        return Err(AuthorizationError::InvalidRequest(format!(
            "code_challenge_method {method:?} is not supported; PKCE with S256 is required"
        )));
    }
    let code_challenge = required("code_challenge")?;
    if code_challenge.len() != 43 || !is_pkce_value(&code_challenge) {
        return Err(AuthorizationError::InvalidRequest(
            "code_challenge must be the 43-character base64url SHA-256 of the code verifier".into(),
        ));
    }
    let issuer_state = required("issuer_state").map_err(|_| {
        AuthorizationError::InvalidRequest(
            "issuer_state is missing; start from the credential offer, whose authorization_code grant carries it".into(),
        )
    })?;
    let certificate_id = store
        .find_secret(ISSUER_STATE, &hash_secret(&issuer_state), now)
        .await?
        .ok_or_else(|| {
            AuthorizationError::InvalidRequest(
                "issuer_state is unknown or its offer has expired".into(),
            )
        })?;
    let type_id = store
        .certificate_by_id(&certificate_id)
        .await?
        .filter(|record| record.status != Status::Revoked)
        .map(|record| record.type_id)
        .ok_or_else(|| AuthorizationError::InvalidRequest("the offer was withdrawn".into()))?;
    let offered: Vec<String> = Format::ALL
        .into_iter()
        .map(|format| configuration_id(&type_id, format))
        .collect();

    let (configuration_ids, authorization_details) =
        match (parameter("authorization_details")?, parameter("scope")?) {
            (Some(details), _) => (requested_details(details, &offered)?, true),
            (None, Some(scope)) => (requested_scopes(scope, &offered)?, false),
            (None, None) => {
                return Err(AuthorizationError::InvalidRequest(
                    "name the credentials with authorization_details or scope".into(),
                ))
            }
        };

    let request = AuthorizationRequest {
        client_id,
        redirect_uri,
        code_challenge,
        state: parameter("state")?.map(str::to_owned),
        configuration_ids,
        authorization_details,
        upstream_nonce: None,
        upstream_verifier: None,
    };
    let reference = new_secret()?;
    store
        .put_authorization_session(&AuthorizationSession {
            kind: PAR_SESSION.into(),
            hash: hash_secret(&reference),
            certificate_id,
            data: to_json(&request)?,
            expires_at: now + PAR_LIFETIME_SECONDS,
        })
        .await?;
    Ok(format!("{REQUEST_URI_PREFIX}{reference}"))
}

fn requested_details(details: &str, offered: &[String]) -> Result<Vec<String>, AuthorizationError> {
    let invalid = |detail: String| AuthorizationError::InvalidAuthorizationDetails(detail);
    let entries: Value = serde_json::from_str(details)
        .map_err(|error| invalid(format!("authorization_details is not JSON: {error}")))?;
    let entries = entries
        .as_array()
        .filter(|entries| !entries.is_empty())
        .ok_or_else(|| invalid("authorization_details must be a non-empty array".into()))?;
    let mut ids = Vec::new();
    for entry in entries {
        if entry.get("type").and_then(Value::as_str) != Some("openid_credential") {
            return Err(invalid(
                "every authorization_details entry must have type openid_credential".into(),
            ));
        }
        let id = entry
            .get("credential_configuration_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid("an authorization_details entry has no credential_configuration_id".into())
            })?;
        if !offered.iter().any(|offered| offered == id) {
            return Err(invalid(format!(
                "{id:?} is not offered; use one of {}",
                offered.join(", ")
            )));
        }
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

fn requested_scopes(scope: &str, offered: &[String]) -> Result<Vec<String>, AuthorizationError> {
    let mut ids = Vec::new();
    for value in scope.split(' ').filter(|value| !value.is_empty()) {
        if !offered.iter().any(|offered| offered == value) {
            return Err(AuthorizationError::InvalidScope(format!(
                "scope {value:?} is not offered; use one of {}",
                offered.join(", ")
            )));
        }
        if !ids.iter().any(|known| known == value) {
            ids.push(value.to_owned());
        }
    }
    if ids.is_empty() {
        return Err(AuthorizationError::InvalidScope("scope is empty".into()));
    }
    Ok(ids)
}

fn to_json(request: &AuthorizationRequest) -> Result<String, AuthorizationError> {
    serde_json::to_string(request).map_err(|error| StoreError::Corrupt(error.to_string()).into())
}

/// Parses the stored request of a session.
pub fn from_session(session: &AuthorizationSession) -> Result<AuthorizationRequest, StoreError> {
    serde_json::from_str(&session.data)
        .map_err(|error| StoreError::Corrupt(format!("authorization session: {error}")))
}

/// Stores a session of `kind` for `request` under a fresh secret and returns the secret.
pub async fn store_session(
    store: &dyn Store,
    kind: &str,
    certificate_id: &str,
    request: &AuthorizationRequest,
    expires_at: i64,
) -> Result<String, AuthorizationError> {
    let secret = new_secret()?;
    store
        .put_authorization_session(&AuthorizationSession {
            kind: kind.into(),
            hash: hash_secret(&secret),
            certificate_id: certificate_id.to_owned(),
            data: to_json(request)?,
            expires_at,
        })
        .await?;
    Ok(secret)
}

/// A redeemed authorization code: the certificate, the client and the granted configurations.
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub certificate_id: String,
    pub request: AuthorizationRequest,
}

/// Redeems an authorization code at the token endpoint: the code is taken once, and the client,
/// redirect URI and PKCE verifier must match the authorization request.
pub async fn redeem_code(
    store: &dyn Store,
    form: &[(String, String)],
    now: i64,
) -> Result<Redeemed, TokenError> {
    let required = |name: &str| -> Result<&str, TokenError> {
        form_parameter(form, name)?
            .filter(|value| !value.is_empty())
            .ok_or_else(|| TokenError::InvalidRequest(format!("{name} is missing")))
    };
    let code = required("code")?;
    let verifier = required("code_verifier")?;
    let client_id = required("client_id")?;
    let redirect_uri = required("redirect_uri")?;
    let session = store
        .take_authorization_session(CODE_SESSION, &hash_secret(code), now)
        .await?
        .ok_or(TokenError::InvalidGrant)?;
    let request = from_session(&session)?;
    if request.client_id != client_id {
        return Err(TokenError::InvalidGrantDetail(
            "the code was issued to another client_id".into(),
        ));
    }
    if request.redirect_uri != redirect_uri {
        return Err(TokenError::InvalidGrantDetail(
            "redirect_uri differs from the authorization request's".into(),
        ));
    }
    if !is_pkce_value(verifier) || s256(verifier) != request.code_challenge {
        return Err(TokenError::InvalidGrantDetail(
            "code_verifier does not match the code_challenge (PKCE S256)".into(),
        ));
    }
    Ok(Redeemed {
        certificate_id: session.certificate_id,
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_of_rfc_7636_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn details_and_scopes_checked() {
        let offered = vec![
            "personbevis.dc+sd-jwt".to_owned(),
            "personbevis.vc+jwt".to_owned(),
        ];
        let details =
            r#"[{"type":"openid_credential","credential_configuration_id":"personbevis.vc+jwt"}]"#;
        assert_eq!(
            requested_details(details, &offered).unwrap(),
            ["personbevis.vc+jwt"]
        );
        assert!(requested_details(r#"[{"type":"other"}]"#, &offered).is_err());
        assert!(requested_details(
            r#"[{"type":"openid_credential","credential_configuration_id":"x"}]"#,
            &offered
        )
        .is_err());
        assert_eq!(
            requested_scopes("personbevis.dc+sd-jwt", &offered).unwrap(),
            ["personbevis.dc+sd-jwt"]
        );
        assert!(requested_scopes("openid", &offered).is_err());
    }
}
