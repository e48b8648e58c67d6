//! OpenID4VCI endpoints for EU identity wallets: metadata, offers by reference and their QR codes,
//! the token, nonce, credential, deferred credential and notification endpoints. Errors are OAuth
//! error responses (`error` and `error_description`, RFC 6749, section 5.2), never problem
//! documents and never a 200.

mod authorization;
mod credential;
mod metadata;
mod offers;
mod token;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::AppState;
use crate::certificate::TypeRegistry;
use crate::crypto::{DataKeys, Signer};
use crate::oid4vci::dpop::DpopNonces;
use crate::oid4vci::encryption::{EncryptionError, RequestDecryptionKey};
use crate::oid4vci::metadata::{
    authorization_server_metadata, issuer_metadata, sign_metadata, well_known_path,
};
use crate::oid4vci::upstream::{Upstream, UpstreamConfig};

/// The wallet endpoints' state, built once at start-up.
pub struct WalletState {
    /// The Credential Issuer metadata, with `signed_metadata`.
    pub metadata: Value,
    /// The same metadata as a signed JWT.
    pub signed_metadata: String,
    pub authorization_server: Value,
    pub request_key: RequestDecryptionKey,
    pub dpop_nonces: DpopNonces,
    /// The upstream OpenID provider of the authorization code flow, when configured.
    pub upstream: Option<std::sync::Arc<Upstream>>,
}

impl std::fmt::Debug for WalletState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletState").finish_non_exhaustive()
    }
}

/// Failure to build the wallet endpoints' state.
#[derive(Debug, thiserror::Error)]
pub enum WalletSetupError {
    #[error(transparent)]
    Encryption(#[from] EncryptionError),
    #[error("cannot sign the credential issuer metadata: {0}")]
    Sign(#[from] crate::crypto::SignError),
    #[error(transparent)]
    Upstream(#[from] crate::oid4vci::upstream::UpstreamError),
}

impl WalletState {
    /// Builds the metadata, signs it, and derives the request encryption and DPoP nonce keys
    /// from the data keys.
    pub fn new(
        issuer_id: &str,
        types: &TypeRegistry,
        signer: &dyn Signer,
        data_keys: &DataKeys,
        upstream: Option<UpstreamConfig>,
        now: time::OffsetDateTime,
    ) -> Result<Self, WalletSetupError> {
        let request_key = RequestDecryptionKey::derive(data_keys)?;
        let mut metadata = issuer_metadata(issuer_id, types, &request_key);
        let signed_metadata = sign_metadata(&metadata, issuer_id, signer, now)?;
        metadata["signed_metadata"] = Value::from(signed_metadata.as_str());
        let upstream = upstream
            .map(Upstream::new)
            .transpose()?
            .map(std::sync::Arc::new);
        Ok(Self {
            metadata,
            signed_metadata,
            authorization_server: authorization_server_metadata(issuer_id, upstream.is_some()),
            request_key,
            dpop_nonces: DpopNonces::new(data_keys),
            upstream,
        })
    }
}

pub fn routes(issuer_id: &str) -> Router<AppState> {
    Router::new()
        .route(
            &well_known_path("openid-credential-issuer", issuer_id),
            get(metadata::credential_issuer),
        )
        .route(
            &well_known_path("oauth-authorization-server", issuer_id),
            get(metadata::authorization_server),
        )
        .route("/offers/{id}", get(offers::offer))
        .route("/offers/{id}/{image}", get(offers::offer_qr))
        .route("/par", post(authorization::par))
        .route("/authorize", get(authorization::authorize))
        .route("/authorize/callback", get(authorization::callback))
        .route("/token", post(token::token))
        .route("/nonce", post(credential::nonce))
        .route("/credential", post(credential::credential))
        .route(
            "/deferred_credential",
            post(credential::deferred_credential),
        )
        .route("/notification", post(credential::notification))
}

/// Responses that carry tokens, nonces or credentials must not be cached (RFC 6749, section
/// 5.1; OpenID4VCI 1.0).
const NO_STORE: [(header::HeaderName, &str); 2] = [
    (header::CACHE_CONTROL, "no-store"),
    (header::PRAGMA, "no-cache"),
];

const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// An OAuth error response. A 401 carries a `WWW-Authenticate` challenge of `scheme` (RFC 6750,
/// section 3; RFC 9449, section 7.1), and `dpop_nonce` goes into a `DPoP-Nonce` header.
pub(super) struct OauthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    pub scheme: &'static str,
    pub dpop_nonce: Option<String>,
}

impl OauthError {
    pub fn bad_request(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
            scheme: "Bearer",
            dpop_nonce: None,
        }
    }

    pub fn unauthorized(
        scheme: &'static str,
        code: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code,
            description: description.into(),
            scheme,
            dpop_nonce: None,
        }
    }

    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "server_error",
            description: "the server could not complete the request".into(),
            scheme: "Bearer",
            dpop_nonce: None,
        }
    }

    pub fn with_dpop_nonce(mut self, nonce: String) -> Self {
        self.dpop_nonce = Some(nonce);
        self
    }
}

impl IntoResponse for OauthError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(error = self.code, "wallet request failed");
        } else {
            tracing::info!(
                status = self.status.as_u16(),
                error = self.code,
                "wallet request rejected"
            );
        }
        let mut response = (
            self.status,
            NO_STORE,
            Json(json!({ "error": self.code, "error_description": self.description })),
        )
            .into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            // The description is a fixed text of this module, but quotes are removed anyway so
            // the header stays well-formed.
            let description = self.description.replace(['"', '\\'], "'");
            let challenge = format!(
                "{} error=\"{}\", error_description=\"{description}\"",
                self.scheme, self.code
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if let Some(value) = self
            .dpop_nonce
            .and_then(|nonce| HeaderValue::from_str(&nonce).ok())
        {
            headers.insert(DPOP_NONCE, value);
        }
        response
    }
}

/// Returns the media type of the request, lowercase and without parameters.
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Returns the single value of header `name`, rejecting a repeated one.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(format!("the {name} header is repeated; send it once"));
    }
    first
        .map(|value| {
            value
                .to_str()
                .map_err(|_| format!("the {name} header is not visible ASCII"))
        })
        .transpose()
}
