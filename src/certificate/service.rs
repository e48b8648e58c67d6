//! The certificate record: creating, reading, listing and revoking certificates for e-service
//! clients. Claims and holder data are validated, then sealed with the data key before storage.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::crypto::{parse_holder_jwk, DataKeyError, DataKeys};
use crate::formats::Format;
use crate::issuer::{IssueError, IssueRequest, Issuer};
use crate::oid4vci::offer::{new_offer, offer_uri};
use crate::oid4vci::{hash_secret, new_secret, PRE_AUTHORIZED_CODE};
use crate::passes::PassUpdates;
use crate::status::{ListError, StatusLists};
use crate::store::{
    ApiClient, CertificateRecord, CreateOutcome, Idempotency, ListQuery, Secret, Status, Store,
    StoreError,
};

/// Delivery channels a certificate may be created for.
/// NOTE: `mailbox` and `print` are accepted and stored, but no code delivers through them yet.
pub const CHANNELS: [&str; 6] = ["wallet", "pass", "google", "pdf", "mailbox", "print"];

/// Maximum validity a create request may ask for, in days (100 years).
pub const MAX_VALIDITY_DAYS: u32 = 36_500;

/// One invalid value in a request: its JSON pointer and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON pointer (RFC 6901) into the request body.
    pub pointer: String,
    pub detail: String,
}

/// Failure of a certificate operation, mapped to one HTTP status by the API.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the request is invalid")]
    Invalid(Vec<FieldError>),
    #[error("this client may not issue certificates of type {0:?}")]
    TypeNotAllowed(String),
    #[error("certificate not found")]
    NotFound,
    #[error("the certificate has been revoked")]
    Revoked,
    #[error("the Idempotency-Key was already used with another request body (certificate {certificate_id})")]
    IdempotencyConflict { certificate_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    DataKey(#[from] DataKeyError),
    #[error("the certificate cannot be delivered through the {channel} channel: {detail}")]
    Channel {
        channel: &'static str,
        detail: String,
    },
    #[error("the certificate is {}, so it cannot be {action}", status.as_str())]
    StatusConflict {
        status: Status,
        action: &'static str,
    },
    #[error(
        "the personal data of this certificate was deleted at the end of its retention period"
    )]
    DataDeleted,
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error(transparent)]
    StatusList(#[from] ListError),
}

/// The holder of a certificate, with what delivery needs to know of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// Personnummer or samordningsnummer, YYYYMMDDNNNC, used to match the holder's login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_identity_number: Option<String>,
    /// Public P-256 JWK to bind credentials to, when the e-service already has the wallet's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwk: Option<Map<String, Value>>,
}

/// A validated request to create a certificate.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub type_id: String,
    pub claims: Value,
    pub holder: Option<Holder>,
    pub validity_days: Option<u32>,
    pub channels: Vec<String>,
    /// Whether the wallet offer requires a transaction code from the holder.
    pub offer_tx_code: bool,
    /// Whether the certificate waits for a case officer's approval before a wallet receives it.
    pub pending_approval: bool,
}

/// The personal data of a certificate, sealed as one JSON document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateData {
    pub claims: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<Holder>,
}

/// A certificate with its personal data opened, if it has not been deleted yet.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub record: CertificateRecord,
    pub data: Option<CertificateData>,
    /// Links that carry a secret for the holder. They are present only in the response that
    /// created them, because the store keeps just the hash of each secret.
    pub holder_links: HolderLinks,
}

/// Links for the holder that carry a code or token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolderLinks {
    /// `openid-credential-offer://` link with a pre-authorized code, for the `wallet` channel.
    pub offer: Option<String>,
    /// `openid-credential-offer://` link with the offer by reference (`credential_offer_uri`).
    pub offer_by_reference: Option<String>,
    /// URL of the by-reference link's QR code as PNG.
    pub offer_qr_png: Option<String>,
    /// URL of the by-reference link's QR code as SVG.
    pub offer_qr_svg: Option<String>,
    /// The offer's transaction code, for the e-service to send the holder through another
    /// channel than the offer.
    pub offer_tx_code: Option<String>,
    /// PDF download link with a download token, for the `pdf` channel.
    pub pdf: Option<String>,
    /// Apple Wallet pass download link with a download token, for the `pass` channel.
    pub pass: Option<String>,
    /// Google Wallet save link, for the `google` channel.
    pub google: Option<String>,
}

/// Secret kind of the download tokens in PDF and pass links.
pub const DOWNLOAD_TOKEN: &str = "download";

/// Tries at drawing a free status list index before a create fails. With lists at most half
/// full (see `status::allocator`), 32 draws all hitting taken indices has odds below 1 in 10^9.
const STATUS_ENTRY_ATTEMPTS: u32 = 32;

/// Creates, reads, revokes, suspends and reinstates certificates.
#[derive(Clone)]
pub struct CertificateService {
    pub store: Arc<dyn Store>,
    pub issuer: Arc<Issuer>,
    pub data_keys: Arc<DataKeys>,
    /// Whether offers carry an authorization code grant, which needs an upstream OpenID
    /// provider for the holder's login.
    pub authorization_code_offers: bool,
    /// Pushes pass updates to registered devices; `None` where passes are not served.
    pub pass_updates: Option<Arc<PassUpdates>>,
    pub status_lists: Arc<StatusLists>,
}

/// A change of a certificate's status requested by its e-service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange<'a> {
    Revoke { reason: &'a str },
    Suspend,
    Reinstate,
}

impl CertificateService {
    /// Validates and stores a new certificate. With an idempotency key, repeating the same request
    /// returns the first certificate and `true`.
    pub async fn create(
        &self,
        client: &ApiClient,
        request: NewCertificate,
        idempotency_key: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(Certificate, bool), ServiceError> {
        let certificate_type = self.issuer.types.get(&request.type_id).map_err(|error| {
            ServiceError::Invalid(vec![FieldError {
                pointer: "/type".into(),
                detail: error.to_string(),
            }])
        })?;
        if !client
            .types
            .iter()
            .any(|allowed| allowed == &request.type_id)
        {
            return Err(ServiceError::TypeNotAllowed(request.type_id));
        }

        let mut errors = Vec::new();
        if let Err(invalid) = certificate_type.validate(&request.claims) {
            errors.extend(invalid.violations.into_iter().map(|violation| FieldError {
                pointer: format!("/claims{}", violation.pointer),
                detail: violation.message,
            }));
        }
        if let Some(holder) = &request.holder {
            check_holder(holder, &mut errors);
        }
        if let Some(days) = request.validity_days {
            if !(1..=MAX_VALIDITY_DAYS).contains(&days) {
                errors.push(FieldError {
                    pointer: "/validity/days".into(),
                    detail: format!("{days} is out of range; give 1 to {MAX_VALIDITY_DAYS} days"),
                });
            }
        }
        for (index, channel) in request.channels.iter().enumerate() {
            if !CHANNELS.contains(&channel.as_str()) {
                errors.push(FieldError {
                    pointer: format!("/channels/{index}"),
                    detail: format!(
                        "unknown channel {channel:?}; use one of {}",
                        CHANNELS.join(", ")
                    ),
                });
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }

        let (offer_tx_code, pending_approval) = (request.offer_tx_code, request.pending_approval);
        let idempotency = idempotency_key.map(|key| Idempotency {
            key: key.to_owned(),
            request_hash: request_hash(&request),
        });
        let id = uuid::Uuid::now_v7().to_string();
        let created_at = now.unix_timestamp();
        let validity_days = request
            .validity_days
            .unwrap_or(certificate_type.default_validity_days);
        let data = CertificateData {
            claims: request.claims,
            holder: request.holder,
        };
        let plaintext =
            serde_json::to_vec(&data).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let sealed = self.data_keys.seal(&plaintext, id.as_bytes())?;
        let mut record = CertificateRecord {
            id,
            client_id: client.id.clone(),
            type_id: request.type_id,
            status: if pending_approval {
                Status::Pending
            } else {
                Status::Active
            },
            created_at,
            updated_at: created_at,
            valid_from: created_at,
            valid_until: created_at + i64::from(validity_days) * 86_400,
            retain_until: created_at
                + i64::from(certificate_type.retention_days.max(validity_days)) * 86_400,
            channels: request.channels,
            data: Some(sealed),
            data_deleted_at: None,
            revoked_at: None,
            revocation_reason: None,
            status_entry: None,
        };
        // The save link is built before anything is stored, because a certificate whose link
        // would be too long is rejected whole.
        let google = self.google_link(&record, &data).map_err(|detail| {
            let index = record
                .channels
                .iter()
                .position(|channel| channel == "google")
                .unwrap_or(0);
            ServiceError::Invalid(vec![FieldError {
                pointer: format!("/channels/{index}"),
                detail,
            }])
        })?;

        match self.insert(&mut record, idempotency.as_ref()).await? {
            CreateOutcome::Created(record) => {
                metrics::counter!("intyg_certificates_created_total", "type" => record.type_id.clone()).increment(1);
                tracing::info!(target: "audit", client_id = %client.id, certificate_id = %record.id, type_id = %record.type_id, "certificate created");
                let holder_links = self
                    .holder_links(&record, google, offer_tx_code, created_at)
                    .await?;
                let certificate = Certificate {
                    record,
                    data: Some(data),
                    holder_links,
                };
                Ok((certificate, false))
            }
            // The client lost the first response and its offer, so a replay gets a fresh offer.
            // The first code stays valid until it is used or expires.
            CreateOutcome::Replayed(record) => {
                let mut certificate = self.open(record)?;
                let google = match &certificate.data {
                    Some(data) => {
                        self.google_link(&certificate.record, data)
                            .map_err(|detail| ServiceError::Channel {
                                channel: "google",
                                detail,
                            })?
                    }
                    None => None,
                };
                certificate.holder_links = self
                    .holder_links(&certificate.record, google, offer_tx_code, created_at)
                    .await?;
                Ok((certificate, true))
            }
            CreateOutcome::Conflict { certificate_id } => {
                Err(ServiceError::IdempotencyConflict { certificate_id })
            }
        }
    }

    /// Stores a new certificate with a random free status list entry, drawing again when the
    /// entry is taken.
    async fn insert(
        &self,
        record: &mut CertificateRecord,
        idempotency: Option<&Idempotency>,
    ) -> Result<CreateOutcome, ServiceError> {
        let allocator = self.status_lists.allocator();
        let mut attempts = 0;
        loop {
            let entry = allocator.candidate();
            record.status_entry = Some(entry);
            match self.store.create_certificate(record, idempotency).await {
                Ok(outcome) => {
                    if matches!(outcome, CreateOutcome::Created(_)) {
                        allocator.taken(entry);
                    }
                    return Ok(outcome);
                }
                Err(StoreError::StatusEntryTaken { .. })
                    if attempts + 1 < STATUS_ENTRY_ATTEMPTS =>
                {
                    allocator.collided(entry);
                    attempts += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Returns the client's certificate `id` with its data opened.
    pub async fn get(&self, client: &ApiClient, id: &str) -> Result<Certificate, ServiceError> {
        let record = self
            .store
            .certificate(&client.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.open(record)
    }

    /// Lists the client's certificates, without opening their data.
    pub async fn list(
        &self,
        client: &ApiClient,
        query: &ListQuery,
    ) -> Result<Vec<CertificateRecord>, ServiceError> {
        Ok(self.store.list_certificates(&client.id, query).await?)
    }

    /// Revokes the client's certificate `id`; revoking a revoked certificate changes nothing.
    pub async fn revoke(
        &self,
        client: &ApiClient,
        id: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<CertificateRecord, ServiceError> {
        self.change_status(client, id, StatusChange::Revoke { reason }, now)
            .await
    }

    /// Changes the status of the client's certificate `id`, and makes every form of it follow:
    /// the status lists, the holder's outstanding credential offers and access tokens (deleted
    /// on revocation), and the verify API. Repeating a change changes nothing. Suspending or
    /// reinstating a revoked certificate is a [`ServiceError::StatusConflict`].
    pub async fn change_status(
        &self,
        client: &ApiClient,
        id: &str,
        change: StatusChange<'_>,
        now: OffsetDateTime,
    ) -> Result<CertificateRecord, ServiceError> {
        let at = now.unix_timestamp();
        let (record, expected, action) = match change {
            StatusChange::Revoke { reason } => (
                self.store
                    .revoke_certificate(&client.id, id, reason, at, &client.id)
                    .await?,
                Status::Revoked,
                "revoked",
            ),
            StatusChange::Suspend => (
                self.store
                    .suspend_certificate(&client.id, id, at, &client.id)
                    .await?,
                Status::Suspended,
                "suspended",
            ),
            StatusChange::Reinstate => (
                self.store
                    .reinstate_certificate(&client.id, id, at, &client.id)
                    .await?,
                Status::Active,
                "reinstated",
            ),
        };
        let record = record.ok_or(ServiceError::NotFound)?;
        if record.status != expected {
            return Err(ServiceError::StatusConflict {
                status: record.status,
                action,
            });
        }
        self.status_lists.changed();
        // Every other form of the certificate follows its status from here: a channel that holds
        // a copy, such as a wallet pass, is updated in this method too.
        if record.status == Status::Revoked {
            // A revoked certificate can never be issued again, so its offers' codes are deleted.
            // Access tokens stay until they expire; the credential endpoint refuses them.
            let withdrawn = self
                .store
                .delete_secrets(PRE_AUTHORIZED_CODE, &record.id)
                .await?;
            tracing::info!(certificate_id = %record.id, withdrawn, "pre-authorized codes of a revoked certificate deleted");
        }
        tracing::info!(target: "audit", client_id = %client.id, certificate_id = %record.id, status = record.status.as_str(), "certificate {action}");
        self.changed(&record);
        Ok(record)
    }

    /// Issues a credential of a stored certificate for its e-service, with the certificate's
    /// status claim and its own validity period.
    pub fn issue_credential(
        &self,
        certificate: &Certificate,
        format: Format,
        holder_jwk: Option<&Map<String, Value>>,
    ) -> Result<String, ServiceError> {
        let record = &certificate.record;
        if record.status != Status::Active {
            return Err(ServiceError::StatusConflict {
                status: record.status,
                action: "issued",
            });
        }
        let data = certificate.data.as_ref().ok_or(ServiceError::DataDeleted)?;
        let holder_jwk =
            holder_jwk.or_else(|| data.holder.as_ref().and_then(|holder| holder.jwk.as_ref()));
        let status = record
            .status_entry
            .map(|entry| entry.claim(&self.issuer.issuer_id));
        // The credential carries the certificate's own validity period, as the PDF, the pass
        // and the wallet's credentials do, so it expires with the certificate to the second.
        let mut request = issue_request(record, data);
        request.format = format;
        request.holder_jwk = holder_jwk;
        request.status = status.as_ref();
        Ok(self.issuer.issue(&request)?)
    }

    /// Returns the Google Wallet save link when the certificate has the `google` channel, or
    /// why it cannot have one.
    fn google_link(
        &self,
        record: &CertificateRecord,
        data: &CertificateData,
    ) -> Result<Option<String>, String> {
        if !record.channels.iter().any(|channel| channel == "google") {
            return Ok(None);
        }
        self.issuer
            .google_save_link(&issue_request(record, data))
            .map(Some)
            .map_err(|error| error.to_string())
    }

    /// Tells every form of the certificate that it changed: devices holding its Apple Wallet pass
    /// get a push and download the new pass.
    fn changed(&self, record: &CertificateRecord) {
        if let Some(updates) = &self.pass_updates {
            if record.channels.iter().any(|channel| channel == "pass") {
                updates.certificate_changed(&record.id);
            }
        }
    }

    /// Creates the holder links of the certificate's channels: a credential offer for `wallet`,
    /// download links for `pdf` and `pass` (one download token opens both), and the Google
    /// Wallet save link for `google`. Only the hashes of their secrets are stored.
    async fn holder_links(
        &self,
        record: &CertificateRecord,
        google: Option<String>,
        offer_tx_code: bool,
        now: i64,
    ) -> Result<HolderLinks, ServiceError> {
        let random_failed =
            |error: openssl::error::ErrorStack| DataKeyError::Crypto(error.to_string());
        let has_channel = |name: &str| record.channels.iter().any(|channel| channel == name);
        let mut links = HolderLinks::default();
        if has_channel("wallet") {
            let issuer_id = &self.issuer.issuer_id;
            let offer = new_offer(
                issuer_id,
                &record.id,
                &record.type_id,
                offer_tx_code,
                self.authorization_code_offers,
                now,
            )
            .map_err(random_failed)?;
            self.store.create_offer(&offer.record).await?;
            if let Some(issuer_state) = &offer.issuer_state {
                self.store.put_secret(issuer_state).await?;
            }
            links.offer = Some(offer.link);
            links.offer_by_reference = Some(offer.reference_link);
            links.offer_qr_png = Some(format!("{}/qr.png", offer_uri(issuer_id, &offer.id)));
            links.offer_qr_svg = Some(format!("{}/qr.svg", offer_uri(issuer_id, &offer.id)));
            links.offer_tx_code = offer.tx_code;
        }
        if has_channel("pdf") || has_channel("pass") {
            let token = new_secret().map_err(random_failed)?;
            self.store
                .put_secret(&Secret {
                    kind: DOWNLOAD_TOKEN.into(),
                    hash: hash_secret(&token),
                    subject_id: record.id.clone(),
                    expires_at: record.valid_until,
                })
                .await?;
            let issuer = &self.issuer.issuer_id;
            if has_channel("pdf") {
                links.pdf = Some(format!(
                    "{issuer}/certificates/{}.pdf?token={token}",
                    record.id
                ));
            }
            if has_channel("pass") {
                links.pass = Some(format!(
                    "{issuer}/passes/{}.pkpass?token={token}",
                    record.id
                ));
            }
        }
        links.google = google;
        Ok(links)
    }

    /// Returns certificate `id` of any client with its data opened, for the wallet endpoints,
    /// which authorize with an access token instead of an API key.
    pub async fn get_by_id(&self, id: &str) -> Result<Certificate, ServiceError> {
        let record = self
            .store
            .certificate_by_id(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.open(record)
    }

    /// Approves the client's pending certificate `id`, so wallets may receive it. Approving an
    /// active certificate changes nothing; a revoked one cannot be approved.
    pub async fn approve(
        &self,
        client: &ApiClient,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<CertificateRecord, ServiceError> {
        let record = self
            .store
            .approve_certificate(&client.id, id, now.unix_timestamp(), &client.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if record.status == Status::Revoked {
            return Err(ServiceError::Revoked);
        }
        tracing::info!(target: "audit", client_id = %client.id, certificate_id = %record.id, "certificate approved");
        self.changed(&record);
        Ok(record)
    }

    /// Returns the certificate a download token opens, if the token is valid for `id`.
    pub async fn get_with_download_token(
        &self,
        id: &str,
        token: &str,
        now: i64,
    ) -> Result<Certificate, ServiceError> {
        let subject = self
            .store
            .find_secret(DOWNLOAD_TOKEN, &hash_secret(token), now)
            .await?;
        if subject.as_deref() != Some(id) {
            return Err(ServiceError::NotFound);
        }
        let record = self
            .store
            .certificate_by_id(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.open(record)
    }

    /// Opens the sealed data of a stored record; the data is `None` once its retention ended.
    pub fn open(&self, record: CertificateRecord) -> Result<Certificate, ServiceError> {
        let data = match &record.data {
            Some(sealed) => {
                let plaintext = self.data_keys.open(sealed, record.id.as_bytes())?;
                Some(
                    serde_json::from_slice(&plaintext)
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?,
                )
            }
            None => None,
        };
        Ok(Certificate {
            record,
            data,
            holder_links: HolderLinks::default(),
        })
    }
}

/// Returns the request that issues a stored certificate again in another form, with its stored
/// validity period.
pub fn issue_request<'a>(
    record: &'a CertificateRecord,
    data: &'a CertificateData,
) -> IssueRequest<'a> {
    IssueRequest {
        type_id: &record.type_id,
        format: crate::formats::Format::Hcert,
        claims: &data.claims,
        holder_jwk: None,
        certificate_id: &record.id,
        issued_at: OffsetDateTime::from_unix_timestamp(record.valid_from)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        validity_days: u32::try_from((record.valid_until - record.valid_from) / 86_400).ok(),
        status: None,
    }
}

fn check_holder(holder: &Holder, errors: &mut Vec<FieldError>) {
    if let Some(number) = &holder.personal_identity_number {
        let valid = number.len() == 12 && number.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            errors.push(FieldError {
                pointer: "/holder/personal_identity_number".into(),
                detail: "expected 12 digits, YYYYMMDDNNNC, with no separator".into(),
            });
        }
    }
    if let Some(jwk) = &holder.jwk {
        if let Err(error) = parse_holder_jwk(&Value::Object(jwk.clone())) {
            errors.push(FieldError {
                pointer: "/holder/jwk".into(),
                detail: error.to_string(),
            });
        }
    }
}

/// Hashes the parts of a create request that define the certificate, with object members sorted,
/// so the same request in another member order is still the same request.
fn request_hash(request: &NewCertificate) -> String {
    let mut canonical = serde_json::json!({
        "type": request.type_id,
        "claims": sorted(&request.claims),
        "holder": request.holder.as_ref().map(|holder| sorted(&serde_json::to_value(holder).unwrap_or(Value::Null))),
        "validity_days": request.validity_days,
        "channels": request.channels,
    });
    // Options that are off stay out, so requests from before they existed hash as they did.
    if request.offer_tx_code {
        canonical["offer_tx_code"] = Value::from(true);
    }
    if request.pending_approval {
        canonical["pending_approval"] = Value::from(true);
    }
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}
