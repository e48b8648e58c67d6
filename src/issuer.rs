//! The issuer: validates claims against their certificate type and signs them in a format.
//! The command line and the HTTP API both issue through here.

use std::sync::Arc;

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::certificate::{TypeError, TypeRegistry, ValidationError};
use crate::crypto::{GoogleServiceAccount, IssuerKey, PassSigningKey};
use crate::formats::google_wallet::GoogleWallet;
use crate::formats::pkpass::{PassOptions, PassState, WebService};
use crate::formats::{self, Format, FormatError, Issuance};
use crate::status::StatusClaim;

/// Failure to issue one credential.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    UnknownType(#[from] TypeError),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{0} is not configured for this instance")]
    NotConfigured(&'static str),
}

/// The keys and settings of the traditional wallets, Apple Wallet and Google Wallet.
#[derive(Debug)]
pub struct Wallets {
    pub pass_key: PassSigningKey,
    /// The agency's name on Apple Wallet passes.
    pub organization_name: String,
    pub google_account: GoogleServiceAccount,
    pub google_issuer_id: String,
    pub google_origins: Vec<String>,
}

/// Settings of the pass of a stored certificate: the web service that updates it, and the
/// certificate's status.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassRequest<'a> {
    pub web_service: Option<WebService<'a>>,
    pub state: PassState,
}

/// Certificate types, the signing key and the issuer identifier, shared by every request.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub types: TypeRegistry,
    pub key: Arc<IssuerKey>,
    /// The credential issuer identifier (the public URL).
    pub issuer_id: String,
    /// Apple Wallet and Google Wallet; `None` where no command needs them.
    pub wallets: Option<Arc<Wallets>>,
}

/// One request to issue a credential.
#[derive(Debug, Clone)]
pub struct IssueRequest<'a> {
    pub type_id: &'a str,
    pub format: Format,
    pub claims: &'a Value,
    pub holder_jwk: Option<&'a Map<String, Value>>,
    pub certificate_id: &'a str,
    pub issued_at: OffsetDateTime,
    /// Validity in days; the type's default when `None`.
    pub validity_days: Option<u32>,
    /// Where the certificate's status is published; `None` for credentials of no stored
    /// certificate, such as those of `intyg issue`.
    pub status: Option<&'a StatusClaim>,
}

impl Issuer {
    /// Validates the claims against the type and issues the credential.
    pub fn issue(&self, request: &IssueRequest<'_>) -> Result<String, IssueError> {
        let credential = self.with_issuance(request, |issuance| {
            formats::issue(request.format, issuance, self.key.as_ref())
        })?;
        count_issued(request.type_id, request.format.as_str());
        Ok(credential)
    }

    /// Validates the claims against the type and renders the certificate's PDF with its signed
    /// 2D code. The request's `format` is not used.
    pub fn issue_pdf(&self, request: &IssueRequest<'_>) -> Result<Vec<u8>, IssueError> {
        let pdf = self.with_issuance(request, |issuance| {
            formats::pdf::issue(issuance, self.key.as_ref())
        })?;
        count_issued(request.type_id, "pdf");
        Ok(pdf)
    }

    /// Validates the claims against the type and builds the certificate's Apple Wallet pass, with
    /// a freshly signed 2D code unless the pass is voided. The request's `format` is not used.
    pub fn issue_pass(
        &self,
        request: &IssueRequest<'_>,
        pass: &PassRequest<'_>,
    ) -> Result<Vec<u8>, IssueError> {
        let wallets = self.wallets()?;
        let options = PassOptions {
            organization_name: &wallets.organization_name,
            web_service: pass.web_service,
            state: pass.state,
        };
        let bytes = self.with_issuance(request, |issuance| {
            formats::pkpass::issue(issuance, self.key.as_ref(), &wallets.pass_key, &options)
        })?;
        count_issued(request.type_id, "pkpass");
        Ok(bytes)
    }

    /// Validates the claims against the type and returns the certificate's Google Wallet save
    /// link, whose pass carries a freshly signed compact 2D code of the claims on its front.
    pub fn google_save_link(&self, request: &IssueRequest<'_>) -> Result<String, IssueError> {
        let wallets = self.wallets()?;
        let wallet = GoogleWallet {
            account: &wallets.google_account,
            issuer_id: &wallets.google_issuer_id,
            origins: &wallets.google_origins,
        };
        let now = OffsetDateTime::now_utc();
        let jwt = self.with_issuance(request, |issuance| {
            formats::google_wallet::save_jwt(issuance, self.key.as_ref(), &wallet, now)
        })?;
        count_issued(request.type_id, "google");
        Ok(format!("{}{jwt}", formats::google_wallet::SAVE_URL))
    }

    fn wallets(&self) -> Result<&Wallets, IssueError> {
        self.wallets
            .as_deref()
            .ok_or(IssueError::NotConfigured("Apple Wallet and Google Wallet"))
    }

    /// Validates the claims, builds the issuance with its validity period and hands it to `build`.
    fn with_issuance<T>(
        &self,
        request: &IssueRequest<'_>,
        build: impl FnOnce(&Issuance<'_>) -> Result<T, FormatError>,
    ) -> Result<T, IssueError> {
        let certificate_type = self.types.get(request.type_id)?;
        certificate_type.validate(request.claims)?;
        let Some(claims) = request.claims.as_object() else {
            return Err(ValidationError {
                type_id: certificate_type.id.clone(),
                violations: vec![crate::certificate::SchemaViolation {
                    pointer: String::new(),
                    message: "the claims must be a JSON object".into(),
                }],
            }
            .into());
        };
        let days = request
            .validity_days
            .unwrap_or(certificate_type.default_validity_days);
        let issuance = Issuance {
            certificate_type: &certificate_type,
            claims,
            issuer: &self.issuer_id,
            certificate_id: request.certificate_id,
            issued_at: request.issued_at,
            valid_from: request.issued_at,
            valid_until: request.issued_at + Duration::days(i64::from(days)),
            holder_jwk: request.holder_jwk,
            status: request.status,
        };
        Ok(build(&issuance)?)
    }
}

/// Counts an issued credential, PDF or 2D code in the Prometheus metrics, by type and format.
fn count_issued(type_id: &str, format: &'static str) {
    metrics::counter!("intyg_credentials_issued_total", "type" => type_id.to_owned(), "format" => format).increment(1);
}
