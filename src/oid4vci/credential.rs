//! The credential endpoint (OpenID4VCI 1.0) and the deferred credential endpoint
//! (section 9): checks the request and its key proofs, then issues one credential per proof,
//! each bound to that proof's key.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::metadata::BATCH_SIZE;
use super::nonce::consume_c_nonce;
use super::proof::{check_proof, ProofExpectations};
use super::{configuration_id, hash_secret, new_sealed_value, new_secret};
use crate::certificate::{Certificate, CertificateService, ServiceError};
use crate::formats::Format;
use crate::issuer::IssueRequest;
use crate::store::{AccessTokenRecord, DeferredCredential, Status, StoreError};

/// Purpose of the MAC of the `notification_id` values in credential responses.
pub const NOTIFICATION_ID: &str = "notification_id";

/// How long a notification id and a deferred transaction stay valid, in seconds (30 days).
pub const FOLLOW_UP_LIFETIME_SECONDS: i64 = 30 * 86_400;

/// Seconds a wallet should wait before it polls the deferred credential endpoint again. This is
/// longer than an access token lives, so a wallet polls with a new access token from the refresh
/// token that the token endpoint issues for a pending certificate.
pub const DEFERRED_INTERVAL_SECONDS: i64 = 3600;

/// A rejected credential request, with its OpenID4VCI 1.0 error code (section 8.3.1.2).
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{0}")]
    InvalidCredentialRequest(String),
    #[error("{0}")]
    UnknownCredentialConfiguration(String),
    #[error("{0}")]
    UnknownCredentialIdentifier(String),
    #[error("{0}")]
    InvalidProof(String),
    #[error("{0}")]
    InvalidNonce(String),
    #[error("{0}")]
    InvalidEncryptionParameters(String),
    #[error("{0}")]
    CredentialRequestDenied(String),
    /// The deferred credential endpoint does not know the transaction id (section 9.3).
    #[error("{0}")]
    InvalidTransactionId(String),
    #[error("the credential cannot be issued: {0}")]
    Internal(String),
}

impl CredentialError {
    /// Returns the OpenID4VCI `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::InvalidCredentialRequest(_) => "invalid_credential_request",
            CredentialError::UnknownCredentialConfiguration(_) => {
                "unknown_credential_configuration"
            }
            CredentialError::UnknownCredentialIdentifier(_) => "unknown_credential_identifier",
            CredentialError::InvalidProof(_) => "invalid_proof",
            CredentialError::InvalidNonce(_) => "invalid_nonce",
            CredentialError::InvalidEncryptionParameters(_) => "invalid_encryption_parameters",
            CredentialError::CredentialRequestDenied(_) => "credential_request_denied",
            CredentialError::InvalidTransactionId(_) => "invalid_transaction_id",
            CredentialError::Internal(_) => "server_error",
        }
    }
}

impl From<StoreError> for CredentialError {
    fn from(error: StoreError) -> Self {
        CredentialError::Internal(error.to_string())
    }
}

impl From<ServiceError> for CredentialError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound => CredentialError::CredentialRequestDenied(
                "the certificate of this access token no longer exists".into(),
            ),
            other => CredentialError::Internal(other.to_string()),
        }
    }
}

/// A parsed credential request, before its proofs are checked.
#[derive(Debug, Clone)]
pub struct CredentialRequest {
    pub configuration_id: String,
    pub format: Format,
    /// The `proofs.jwt` values.
    pub proofs: Vec<String>,
    /// The `credential_response_encryption` parameter, unchecked.
    pub response_encryption: Option<Value>,
}

/// The result of a credential request.
#[derive(Debug, Clone)]
pub enum CredentialOutcome {
    /// One credential per proof, in the order of the proofs.
    Issued {
        credentials: Vec<String>,
        notification_id: String,
    },
    /// The certificate waits for approval; the wallet polls the deferred endpoint.
    Deferred { transaction_id: String },
}

/// Parses a credential request body for an access token of a certificate of type `type_id`.
/// `identifiers` are the credential identifiers of a token issued for `authorization_details`;
/// such a token must name its credential by one of them.
pub fn parse_request(
    body: &Value,
    type_id: &str,
    identifiers: Option<&[String]>,
) -> Result<CredentialRequest, CredentialError> {
    let invalid = |detail: &str| CredentialError::InvalidCredentialRequest(detail.to_owned());
    let body = body
        .as_object()
        .ok_or_else(|| invalid("the credential request must be a JSON object"))?;
    if body.contains_key("proof") {
        return Err(invalid(
            "the request carries proof, which OpenID4VCI 1.0 replaced with proofs; send {\"proofs\": {\"jwt\": [...]}}",
        ));
    }
    if body.contains_key("format") {
        return Err(invalid(
            "the request carries format; OpenID4VCI 1.0 requests name a credential_configuration_id instead",
        ));
    }
    let requested = match (
        body.get("credential_configuration_id"),
        body.get("credential_identifier"),
    ) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "send either credential_configuration_id or credential_identifier, not both",
            ))
        }
        (None, None) => {
            return Err(invalid(
                "the request names no credential: send credential_configuration_id",
            ))
        }
        (None, Some(identifier)) => match identifiers {
            None => return Err(CredentialError::UnknownCredentialIdentifier(
                "this access token was issued without authorization_details, so it has no credential identifiers; send credential_configuration_id".into(),
            )),
            Some(identifiers) => {
                let identifier = identifier.as_str().unwrap_or("");
                if !identifiers.iter().any(|known| known == identifier) {
                    return Err(CredentialError::UnknownCredentialIdentifier(format!(
                        "{identifier:?} is not a credential identifier of this access token; use one of {}",
                        identifiers.join(", ")
                    )));
                }
                // Each identifier is the configuration id it was granted for.
                identifier.to_owned()
            }
        },
        (Some(_), None) if identifiers.is_some() => {
            return Err(invalid(
                "this access token was issued for authorization_details, so the request must name a credential_identifier from the token response",
            ))
        }
        (Some(Value::String(id)), None) => id.clone(),
        (Some(_), None) => return Err(invalid("credential_configuration_id must be a string")),
    };
    let format = Format::ALL
        .into_iter()
        .find(|format| requested == configuration_id(type_id, *format))
        .ok_or_else(|| {
            CredentialError::UnknownCredentialConfiguration(format!(
                "{requested:?} is not a credential configuration of this access token; use one of {}",
                Format::ALL
                    .map(|format| configuration_id(type_id, format))
                    .join(", ")
            ))
        })?;

    let proofs =
        match body.get("proofs") {
            None => return Err(CredentialError::InvalidProof(
                "the request has no proofs; every credential is bound to a key, so send proofs.jwt"
                    .into(),
            )),
            Some(Value::Object(proofs)) => proofs,
            Some(_) => return Err(invalid("proofs must be an object such as {\"jwt\": [...]}")),
        };
    if let Some(other) = proofs.keys().find(|name| name.as_str() != "jwt") {
        return Err(CredentialError::InvalidProof(format!(
            "the proof type {other:?} is not supported; use jwt (proof_types_supported)"
        )));
    }
    let jwts = match proofs.get("jwt") {
        Some(Value::Array(jwts)) => jwts,
        _ => {
            return Err(CredentialError::InvalidProof(
                "proofs.jwt must be an array of proof JWTs".into(),
            ))
        }
    };
    if jwts.is_empty() || jwts.len() > BATCH_SIZE {
        return Err(CredentialError::InvalidProof(format!(
            "proofs.jwt has {} proofs; send 1 to {BATCH_SIZE} (batch_credential_issuance.batch_size)",
            jwts.len()
        )));
    }
    let proofs = jwts
        .iter()
        .map(|jwt| {
            jwt.as_str().map(str::to_owned).ok_or_else(|| {
                CredentialError::InvalidProof("every entry of proofs.jwt must be a string".into())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CredentialRequest {
        configuration_id: requested,
        format,
        proofs,
        response_encryption: body.get("credential_response_encryption").cloned(),
    })
}

/// Checks the request's proofs, consumes their nonces and issues one credential per proof, or
/// records a deferred request when the certificate awaits approval.
pub async fn issue(
    service: &CertificateService,
    token: &AccessTokenRecord,
    certificate: &Certificate,
    request: &CredentialRequest,
    now: OffsetDateTime,
) -> Result<CredentialOutcome, CredentialError> {
    let store = service.store.as_ref();
    let expected = ProofExpectations {
        issuer_id: &service.issuer.issuer_id,
        now: now.unix_timestamp(),
        client_id: token.client_id.as_deref(),
    };
    let mut keys = Vec::with_capacity(request.proofs.len());
    let mut nonces: Vec<String> = Vec::new();
    for (index, jwt) in request.proofs.iter().enumerate() {
        let proof = check_proof(jwt, &expected).map_err(|error| {
            CredentialError::InvalidProof(format!("proofs.jwt[{index}]: {error}"))
        })?;
        if !nonces.contains(&proof.nonce) {
            nonces.push(proof.nonce.clone());
        }
        keys.push(proof.jwk);
    }
    for nonce in &nonces {
        if !consume_c_nonce(store, &service.data_keys, nonce, now.unix_timestamp()).await? {
            return Err(CredentialError::InvalidNonce(
                "a proof's nonce was not issued by this issuer, has expired or was used before; request a new c_nonce from the nonce endpoint".into(),
            ));
        }
    }

    match certificate.record.status {
        Status::Revoked => {
            return Err(CredentialError::CredentialRequestDenied(
                "the certificate has been revoked".into(),
            ))
        }
        Status::Suspended => {
            return Err(CredentialError::CredentialRequestDenied(
                "the certificate is suspended; ask the issuer to reinstate it".into(),
            ))
        }
        Status::Pending => {
            let transaction_id =
                new_secret().map_err(|error| CredentialError::Internal(error.to_string()))?;
            let holder_jwks = serde_json::to_string(&keys)
                .map_err(|error| CredentialError::Internal(error.to_string()))?;
            store
                .put_deferred_credential(&DeferredCredential {
                    transaction_hash: hash_secret(&transaction_id),
                    certificate_id: certificate.record.id.clone(),
                    credential_configuration: request.configuration_id.clone(),
                    holder_jwks,
                    expires_at: now.unix_timestamp() + FOLLOW_UP_LIFETIME_SECONDS,
                })
                .await?;
            return Ok(CredentialOutcome::Deferred { transaction_id });
        }
        Status::Active => {}
    }
    let credentials = sign_credentials(service, certificate, request.format, &keys, now)?;
    let notification_id = new_notification_id(service, &certificate.record.id, now)?;
    Ok(CredentialOutcome::Issued {
        credentials,
        notification_id,
    })
}

/// The result of asking the deferred credential endpoint.
#[derive(Debug, Clone)]
pub enum DeferredOutcome {
    Issued {
        credentials: Vec<String>,
        notification_id: String,
    },
    /// Still waiting for approval.
    Pending,
}

/// Issues the credentials of a deferred request once its certificate is approved.
pub async fn issue_deferred(
    service: &CertificateService,
    token: &AccessTokenRecord,
    transaction_id: &str,
    now: OffsetDateTime,
) -> Result<DeferredOutcome, CredentialError> {
    let store = service.store.as_ref();
    let unknown = || {
        CredentialError::InvalidTransactionId(
            "the transaction_id is unknown, expired or already redeemed".into(),
        )
    };
    let hash = hash_secret(transaction_id);
    let deferred = store
        .deferred_credential(&hash, now.unix_timestamp())
        .await?
        .filter(|deferred| deferred.certificate_id == token.certificate_id)
        .ok_or_else(unknown)?;

    let certificate = service.get_by_id(&deferred.certificate_id).await?;
    match certificate.record.status {
        Status::Pending => return Ok(DeferredOutcome::Pending),
        Status::Revoked => {
            return Err(CredentialError::CredentialRequestDenied(
                "the certificate has been revoked".into(),
            ))
        }
        Status::Suspended => {
            return Err(CredentialError::CredentialRequestDenied(
                "the certificate is suspended; ask the issuer to reinstate it".into(),
            ))
        }
        Status::Active => {}
    }
    let Some(deferred) = store
        .take_deferred_credential(&hash, now.unix_timestamp())
        .await?
    else {
        return Err(unknown());
    };

    let keys: Vec<Map<String, Value>> = serde_json::from_str(&deferred.holder_jwks)
        .map_err(|error| CredentialError::Internal(format!("stored holder keys: {error}")))?;
    let format = Format::ALL
        .into_iter()
        .find(|format| {
            deferred.credential_configuration
                == configuration_id(&certificate.record.type_id, *format)
        })
        .ok_or_else(|| {
            CredentialError::Internal(format!(
                "stored configuration {:?}",
                deferred.credential_configuration
            ))
        })?;
    let credentials = sign_credentials(service, &certificate, format, &keys, now)?;
    let notification_id = new_notification_id(service, &certificate.record.id, now)?;
    Ok(DeferredOutcome::Issued {
        credentials,
        notification_id,
    })
}

fn sign_credentials(
    service: &CertificateService,
    certificate: &Certificate,
    format: Format,
    keys: &[Map<String, Value>],
    now: OffsetDateTime,
) -> Result<Vec<String>, CredentialError> {
    let record = &certificate.record;
    let Some(data) = &certificate.data else {
        return Err(CredentialError::CredentialRequestDenied(
            "the certificate's retention period has ended and its data was deleted".into(),
        ));
    };
    // The credential carries the certificate's own validity period, as the PDF does.
    let issued_at = OffsetDateTime::from_unix_timestamp(record.valid_from).unwrap_or(now);
    let validity_days = u32::try_from((record.valid_until - record.valid_from) / 86_400).ok();
    // Every credential carries the certificate's status list entry, so revoking or suspending
    // the certificate reaches the credentials already in wallets.
    let status = record
        .status_entry
        .map(|entry| entry.claim(&service.issuer.issuer_id));
    keys.iter()
        .map(|jwk| {
            service
                .issuer
                .issue(&IssueRequest {
                    type_id: &record.type_id,
                    format,
                    claims: &data.claims,
                    holder_jwk: Some(jwk),
                    certificate_id: &record.id,
                    issued_at,
                    validity_days,
                    status: status.as_ref(),
                })
                .map_err(|error| CredentialError::Internal(error.to_string()))
        })
        .collect()
}

/// Returns the `notification_id` of a credential response: a sealed value for the certificate,
/// so the notification endpoint recognises it without a stored copy.
fn new_notification_id(
    service: &CertificateService,
    certificate_id: &str,
    now: OffsetDateTime,
) -> Result<String, CredentialError> {
    new_sealed_value(
        &service.data_keys,
        NOTIFICATION_ID,
        certificate_id,
        now.unix_timestamp() + FOLLOW_UP_LIFETIME_SECONDS,
    )
    .map_err(|error| CredentialError::Internal(error.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rejected(body: Value) -> CredentialError {
        parse_request(&body, "personbevis", None).unwrap_err()
    }

    #[test]
    fn request_parsed() {
        let request = parse_request(
            &json!({ "credential_configuration_id": "personbevis.dc+sd-jwt", "proofs": { "jwt": ["a", "b"] } }),
            "personbevis",
            None,
        )
        .unwrap();
        assert_eq!(request.format, Format::SdJwtVc);
        assert_eq!(request.proofs, ["a", "b"]);
    }

    #[test]
    fn identifiers_required_after_authorization_details() {
        let identifiers = vec!["personbevis.vc+jwt".to_owned()];
        let proofs = json!({ "jwt": ["a"] });
        let by_identifier =
            json!({ "credential_identifier": "personbevis.vc+jwt", "proofs": proofs });
        let request = parse_request(&by_identifier, "personbevis", Some(&identifiers)).unwrap();
        assert_eq!(request.format, Format::VcJwt);
        let other = json!({ "credential_identifier": "personbevis.dc+sd-jwt", "proofs": proofs });
        let error = parse_request(&other, "personbevis", Some(&identifiers)).unwrap_err();
        assert_eq!(error.code(), "unknown_credential_identifier");
        let by_configuration =
            json!({ "credential_configuration_id": "personbevis.vc+jwt", "proofs": proofs });
        let error =
            parse_request(&by_configuration, "personbevis", Some(&identifiers)).unwrap_err();
        assert_eq!(error.code(), "invalid_credential_request");
    }

    #[test]
    fn request_errors_have_codes() {
        let proofs = json!({ "jwt": ["a"] });
        let cases = [
            (json!([]), "invalid_credential_request"),
            (
                json!({ "proof": {}, "credential_configuration_id": "personbevis.dc+sd-jwt" }),
                "invalid_credential_request",
            ),
            (json!({ "proofs": proofs }), "invalid_credential_request"),
            (
                json!({ "credential_identifier": "x", "proofs": proofs }),
                "unknown_credential_identifier",
            ),
            (
                json!({ "credential_configuration_id": "other.dc+sd-jwt", "proofs": proofs }),
                "unknown_credential_configuration",
            ),
            (
                json!({ "credential_configuration_id": "personbevis.hcert", "proofs": proofs }),
                "unknown_credential_configuration",
            ),
            (
                json!({ "credential_configuration_id": "personbevis.dc+sd-jwt" }),
                "invalid_proof",
            ),
            (
                json!({ "credential_configuration_id": "personbevis.dc+sd-jwt", "proofs": { "jwt": [] } }),
                "invalid_proof",
            ),
            (
                json!({ "credential_configuration_id": "personbevis.dc+sd-jwt", "proofs": { "jwt": vec!["a"; BATCH_SIZE + 1] } }),
                "invalid_proof",
            ),
            (
                json!({ "credential_configuration_id": "personbevis.dc+sd-jwt", "proofs": { "attestation": ["a"] } }),
                "invalid_proof",
            ),
        ];
        for (body, code) in cases {
            assert_eq!(rejected(body.clone()).code(), code, "{body}");
        }
    }
}
