//! The issuer: validates claims against their certificate type and signs them in a format.
//! The command line and the HTTP API both issue through here.

use std::sync::Arc;

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::certificate::{TypeError, TypeRegistry, ValidationError};
use crate::crypto::IssuerKey;
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
}

/// Certificate types, the signing key and the issuer identifier, shared by every request.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub types: TypeRegistry,
    pub key: Arc<IssuerKey>,
    /// The credential issuer identifier (the public URL).
    pub issuer_id: String,
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
