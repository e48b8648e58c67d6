//! Storage behind one trait, [`Store`], with SQLite (the default) and PostgreSQL implementations
//! that pass the same contract tests (`tests/store_contract.rs`).
//!
//! Every single-use secret is consumed by one atomic `DELETE ... RETURNING`, so two server nodes
//! sharing a database can never both accept it. Certificate data arrives encrypted by the caller
//! (see `crypto::DataKeys`). Its ciphertext is deleted when the retention period ends, and the
//! record and its status stay.

mod lite;
mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use crate::crypto::SealedData;
pub use crate::status::StatusEntry;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Failure of a storage operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database URL {0:?} is not supported; use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
    #[error("{0} already exists")]
    Duplicate(String),
    /// The certificate's status list entry belongs to another certificate; draw another.
    #[error("status list {list} index {index} is already taken")]
    StatusEntryTaken { list: u32, index: u32 },
    /// The SQLite writer could not run or commit a write.
    #[error("database write failed: {0}")]
    Writer(String),
}

/// The future of a write job: the statements it runs on the writing connection.
type WriteFuture<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// An e-service client and the certificate types it may issue. Its API key is stored only as a
/// SHA-256 hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub types: Vec<String>,
    pub created_at: i64,
}

/// Lifecycle state of a certificate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, but waiting for a case officer's approval before a wallet may receive it.
    Pending,
    Active,
    /// Revoked for good.
    Revoked,
    /// Not valid until it is reinstated.
    Suspended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Revoked => "revoked",
            Status::Suspended => "suspended",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Status::Pending),
            "active" => Some(Status::Active),
            "revoked" => Some(Status::Revoked),
            "suspended" => Some(Status::Suspended),
            _ => None,
        }
    }
}

/// A stored certificate. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub id: String,
    pub client_id: String,
    pub type_id: String,
    pub status: Status,
    pub created_at: i64,
    pub updated_at: i64,
    pub valid_from: i64,
    pub valid_until: i64,
    /// When the personal data is deleted.
    pub retain_until: i64,
    pub channels: Vec<String>,
    /// `None` once the retention period has ended.
    pub data: Option<SealedData>,
    pub data_deleted_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
    /// The certificate's entry in a status list; `None` for certificates stored before status
    /// lists existed.
    pub status_entry: Option<StatusEntry>,
}

/// The idempotency key of a create request and the hash of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// The result of a create with an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created(CertificateRecord),
    /// The key was used before with the same body: the certificate created then.
    Replayed(CertificateRecord),
    /// The key was used before with another body.
    Conflict {
        certificate_id: String,
    },
}

/// Filters and position of a certificate listing, newest last (ids are UUID v7, ordered by time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub type_id: Option<String>,
    pub status: Option<Status>,
    /// Return certificates with ids after this one.
    pub after: Option<String>,
    pub limit: u32,
}

/// A single-use secret: a code, nonce or token, stored as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub kind: String,
    pub hash: String,
    /// Id of what the secret grants access to, such as a certificate id.
    pub subject_id: String,
    pub expires_at: i64,
}

/// A credential offer's stored state. Its pre-authorized code is a [`Secret`] of kind
/// `pre-authorized_code`; this record adds what a by-reference offer and the transaction code
/// check need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferRecord {
    /// Hash of the offer id, the last segment of the `credential_offer_uri`.
    pub id_hash: String,
    /// Hash of the pre-authorized code.
    pub code_hash: String,
    pub certificate_id: String,
    /// Hash of the pre-authorized code and the transaction code together.
    pub tx_code_hash: Option<String>,
    pub tx_code_length: Option<i64>,
    pub failed_attempts: i64,
    pub expires_at: i64,
}

/// The outcome of redeeming a pre-authorized code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The code was valid and is now consumed. The certificate's status comes with it, so the
    /// token endpoint needs no second read.
    Granted {
        certificate_id: String,
        status: Status,
    },
    /// The transaction code was missing or wrong; this many attempts remain.
    WrongTxCode { attempts_left: i64 },
    /// Right codes for a revoked or suspended certificate. The code stays unused, so it works
    /// again once a suspended certificate is reinstated.
    NotActive { status: Status },
    /// Too many wrong transaction codes: the code is withdrawn.
    Locked,
    /// The code is unknown, expired, withdrawn or already used.
    Invalid,
}

/// An access token of the token endpoint, stored by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub hash: String,
    pub certificate_id: String,
    /// The OAuth client the token was issued to; `None` for anonymous pre-authorized access.
    pub client_id: Option<String>,
    /// JWK thumbprint of the DPoP key the token is bound to; `None` for a bearer token.
    pub dpop_jkt: Option<String>,
    /// The credential identifiers the token grants, when it was requested with
    /// `authorization_details`; the credential request must then name one of them.
    pub credential_identifiers: Option<Vec<String>>,
    pub expires_at: i64,
}

/// A step of the authorization code flow kept between requests: a pushed authorization
/// request, a login at the upstream provider, or an authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationSession {
    /// `par`, `login` or `code`.
    pub kind: String,
    /// Hash of the secret that names the session: `request_uri`, upstream `state` or code.
    pub hash: String,
    pub certificate_id: String,
    /// The request parameters as JSON.
    pub data: String,
    pub expires_at: i64,
}

/// A credential request waiting for the certificate's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredCredential {
    pub transaction_hash: String,
    pub certificate_id: String,
    pub credential_configuration: String,
    /// The holder keys of the request's proofs, as a JSON array of JWKs.
    pub holder_jwks: String,
    pub expires_at: i64,
}

/// One entry of the audit trail: who did what to which certificate. Never personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub certificate_id: Option<String>,
    pub detail: Option<String>,
}

/// Storage of certificates, clients, single-use secrets and the audit trail.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Runs a trivial query, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn add_client(&self, client: &ApiClient) -> Result<(), StoreError>;
    async fn client_by_key_hash(&self, key_hash: &str) -> Result<Option<ApiClient>, StoreError>;

    /// Inserts a certificate. A database trigger records the audit event, with the owning client
    /// as the actor, in the same statement. With an idempotency key, a repeated key returns the
    /// first certificate (same body) or a conflict (other body).
    async fn create_certificate(
        &self,
        certificate: &CertificateRecord,
        idempotency: Option<&Idempotency>,
    ) -> Result<CreateOutcome, StoreError>;

    /// Returns the certificate if it exists and belongs to `client_id`.
    async fn certificate(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<Option<CertificateRecord>, StoreError>;

    async fn list_certificates(
        &self,
        client_id: &str,
        query: &ListQuery,
    ) -> Result<Vec<CertificateRecord>, StoreError>;

    /// Marks the certificate revoked (once; a second call changes nothing) and records who did it.
    /// Returns `None` when it does not exist or belongs to another client.
    async fn revoke_certificate(
        &self,
        client_id: &str,
        id: &str,
        reason: &str,
        at: i64,
        actor: &str,
    ) -> Result<Option<CertificateRecord>, StoreError>;

    /// Suspends an active certificate and records who did it; a suspended or revoked certificate
    /// is returned unchanged. Returns `None` when it does not exist or belongs to another client.
    async fn suspend_certificate(
        &self,
        client_id: &str,
        id: &str,
        at: i64,
        actor: &str,
    ) -> Result<Option<CertificateRecord>, StoreError>;

    /// Makes a suspended certificate active again and records who did it; an active or revoked
    /// certificate is returned unchanged. Returns `None` when it does not exist or belongs to
    /// another client.
    async fn reinstate_certificate(
        &self,
        client_id: &str,
        id: &str,
        at: i64,
        actor: &str,
    ) -> Result<Option<CertificateRecord>, StoreError>;

    /// Returns the index and status of every entry of status list `list` that is not active.
    async fn status_list_entries(&self, list: u32) -> Result<Vec<(u32, Status)>, StoreError>;

    /// Returns the highest status list in use and how many certificates it has, or `None` when
    /// no certificate has a status list entry.
    async fn status_list_usage(&self) -> Result<Option<(u32, u32)>, StoreError>;

    /// Deletes the unconsumed secrets of `kind` for `subject_id`, such as a revoked
    /// certificate's pre-authorized codes, and returns how many were deleted.
    async fn delete_secrets(&self, kind: &str, subject_id: &str) -> Result<u64, StoreError>;

    /// Deletes the personal data of every certificate whose retention ended before `now`, and
    /// returns how many were purged.
    async fn purge_expired_data(&self, now: i64) -> Result<u64, StoreError>;

    async fn put_secret(&self, secret: &Secret) -> Result<(), StoreError>;

    /// Returns the subject of an unexpired secret without consuming it, for tokens that may be
    /// used more than once, such as download tokens.
    async fn find_secret(
        &self,
        kind: &str,
        hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError>;

    /// Returns the certificate `id` of any client, for holder-facing endpoints that authorize
    /// with a token instead of an API key.
    async fn certificate_by_id(&self, id: &str) -> Result<Option<CertificateRecord>, StoreError>;

    /// Deletes the unexpired secret and returns its subject, in one statement: of any number of
    /// concurrent calls for the same secret, exactly one gets `Some`.
    async fn consume_secret(
        &self,
        kind: &str,
        hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError>;

    async fn audit_events(&self, certificate_id: &str) -> Result<Vec<AuditEvent>, StoreError>;

    /// Appends an event to the audit trail.
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// Stores a secret unless one of the same kind and hash exists, and returns whether it was
    /// stored: of concurrent calls with the same value, exactly one gets `true`. Used to accept a
    /// DPoP proof's `jti` and a `c_nonce` once.
    async fn put_secret_once(&self, secret: &Secret) -> Result<bool, StoreError>;

    /// Deletes every secret that expired before `now` and returns how many.
    async fn purge_expired_secrets(&self, now: i64) -> Result<u64, StoreError>;

    /// Stores a credential offer in one statement, in which a trigger stores its pre-authorized
    /// code: a `pre-authorized_code` secret with the offer's code hash, certificate and expiry.
    async fn create_offer(&self, offer: &OfferRecord) -> Result<(), StoreError>;

    /// Returns the unexpired offer whose id hashes to `id_hash`.
    async fn offer(&self, id_hash: &str, now: i64) -> Result<Option<OfferRecord>, StoreError>;

    /// Consumes a pre-authorized code if its transaction code (when the offer has one) matches.
    /// A wrong or missing transaction code counts an attempt; the attempt that reaches
    /// `max_attempts` deletes the code. Each step is one atomic statement, and a code whose offer
    /// has reached `max_attempts` is never redeemed, so concurrent attempts on any number of
    /// nodes consume a code at most once and count at most `max_attempts` failures.
    async fn redeem_pre_authorized_code(
        &self,
        code_hash: &str,
        tx_code_hash: Option<&str>,
        max_attempts: i64,
        now: i64,
    ) -> Result<Redemption, StoreError>;

    async fn put_access_token(&self, token: &AccessTokenRecord) -> Result<(), StoreError>;

    /// Returns the unexpired access token with this hash.
    async fn access_token(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError>;

    /// Changes a pending certificate of `client_id` to active and records who approved it.
    /// Returns `None` when it does not exist or belongs to another client.
    async fn approve_certificate(
        &self,
        client_id: &str,
        id: &str,
        at: i64,
        actor: &str,
    ) -> Result<Option<CertificateRecord>, StoreError>;

    async fn put_deferred_credential(
        &self,
        deferred: &DeferredCredential,
    ) -> Result<(), StoreError>;

    async fn put_authorization_session(
        &self,
        session: &AuthorizationSession,
    ) -> Result<(), StoreError>;

    /// Deletes the unexpired session and returns it, in one statement, so it is used once.
    async fn take_authorization_session(
        &self,
        kind: &str,
        hash: &str,
        now: i64,
    ) -> Result<Option<AuthorizationSession>, StoreError>;

    /// Returns the unexpired deferred credential request with this transaction id hash.
    async fn deferred_credential(
        &self,
        transaction_hash: &str,
        now: i64,
    ) -> Result<Option<DeferredCredential>, StoreError>;

    /// Deletes the deferred credential request and returns it, in one statement, so it is
    /// issued once.
    async fn take_deferred_credential(
        &self,
        transaction_hash: &str,
        now: i64,
    ) -> Result<Option<DeferredCredential>, StoreError>;
    /// Registers a device for updates of a pass, or replaces its push token. Returns `true` when
    /// the registration is new.
    async fn register_pass(&self, registration: &PassRegistration) -> Result<bool, StoreError>;

    /// Removes a device's registration for a pass; returns whether there was one.
    async fn unregister_pass(
        &self,
        device_library_id: &str,
        pass_type_id: &str,
        serial_number: &str,
    ) -> Result<bool, StoreError>;

    /// Returns the serial numbers of the device's passes whose certificate changed at or after
    /// `since` (Unix seconds), in serial number order.
    async fn updated_passes(
        &self,
        device_library_id: &str,
        pass_type_id: &str,
        since: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Returns the push tokens of every device registered for the pass `serial_number`.
    async fn pass_push_tokens(&self, serial_number: &str) -> Result<Vec<String>, StoreError>;

    /// Removes every registration with `push_token`, after the push service reported it gone.
    async fn forget_push_token(&self, push_token: &str) -> Result<u64, StoreError>;
}

/// A device registered for updates of one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRegistration {
    pub device_library_id: String,
    pub pass_type_id: String,
    /// The pass's serial number: its certificate's id.
    pub serial_number: String,
    pub push_token: String,
    pub created_at: i64,
}

/// Opens the store at `url` (`sqlite://PATH` or `postgres://...`) and applies its migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

fn encode_list(items: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn decode_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::Corrupt(format!("list {text:?}: {error}")))
}

/// Generates the `Store` implementation for one database, whose statements `$sql::query` makes:
/// sqlx for PostgreSQL and [`lite`] for SQLite, which offers the same calls. The two backends run
/// the same SQL (`$n` parameters, `ON CONFLICT`, `RETURNING` are common to SQLite 3.35+ and
/// PostgreSQL), so one body keeps them from drifting apart.
macro_rules! store_impl {
    ($store:ty, $sql:ident) => {
    impl $store {
        /// Moves the certificate from status `from` to `to` and records `action` in the audit
        /// log when it changed.
        #[allow(clippy::too_many_arguments)]
        async fn move_status(
            &self,
            client_id: &str,
            id: &str,
            from: Status,
            to: Status,
            at: i64,
            actor: &str,
            action: &'static str,
        ) -> Result<(), StoreError> {
            let (owner, certificate_id, actor) = (client_id.to_owned(), id.to_owned(), actor.to_owned());
            self.write(move |connection| Box::pin(async move {
                let mut transaction = connection.begin().await?;
                let changed = $sql::query(
                    "UPDATE certificates SET status = $1, updated_at = $2 WHERE id = $3 AND client_id = $4 AND status = $5",
                )
                .bind(to.as_str())
                .bind(at)
                .bind(&certificate_id)
                .bind(&owner)
                .bind(from.as_str())
                .execute(&mut *transaction)
                .await?;
                if changed.rows_affected() == 1 {
                    insert_audit(&mut transaction, at, &actor, action, Some(&certificate_id), None).await?;
                }
                transaction.commit().await?;
                Ok(())
            })).await
        }
    }

    #[async_trait::async_trait]
    impl Store for $store {
        async fn ping(&self) -> Result<(), StoreError> {
            $sql::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }

        async fn add_client(&self, client: &ApiClient) -> Result<(), StoreError> {
            let client = client.clone();
            let types = super::encode_list(&client.types)?;
            self.write(move |connection| Box::pin(async move {
                let result = $sql::query(
                    "INSERT INTO api_clients (id, name, key_hash, types, created_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT DO NOTHING",
                )
                .bind(&client.id)
                .bind(&client.name)
                .bind(&client.key_hash)
                .bind(types)
                .bind(client.created_at)
                .execute(&mut *connection)
                .await?;
                if result.rows_affected() == 0 {
                    return Err(StoreError::Duplicate(format!("a client named {:?}", client.name)));
                }
                Ok(())
            })).await
        }

        async fn client_by_key_hash(&self, key_hash: &str) -> Result<Option<ApiClient>, StoreError> {
            let row = $sql::query("SELECT id, name, key_hash, types, created_at FROM api_clients WHERE key_hash = $1")
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?;
            row.map(|row| {
                let types: String = row.try_get("types")?;
                Ok(ApiClient {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    key_hash: row.try_get("key_hash")?,
                    types: super::decode_list(&types)?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .transpose()
        }

        async fn create_certificate(
            &self,
            certificate: &CertificateRecord,
            idempotency: Option<&Idempotency>,
        ) -> Result<CreateOutcome, StoreError> {
            let record = certificate.clone();
            // Without an idempotency key one INSERT is the whole operation, and it is atomic
            // with its audit event because a trigger writes that event.
            let Some(idempotency) = idempotency.cloned() else {
                self.write(move |connection| Box::pin(async move {
                    insert_certificate(&mut *connection, &record).await
                })).await?;
                return Ok(CreateOutcome::Created(certificate.clone()));
            };
            // `Some((same_request, certificate_id))` when an earlier request claimed the key.
            let earlier_claim = self.write(move |connection| Box::pin(async move {
                let mut transaction = connection.begin().await?;
                let claimed = $sql::query(
                    "INSERT INTO idempotency_keys (client_id, idempotency_key, request_hash, certificate_id, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(&record.client_id)
                .bind(&idempotency.key)
                .bind(&idempotency.request_hash)
                .bind(&record.id)
                .bind(record.created_at)
                .execute(&mut *transaction)
                .await?;
                if claimed.rows_affected() == 0 {
                    let row = $sql::query(
                        "SELECT request_hash, certificate_id FROM idempotency_keys WHERE client_id = $1 AND idempotency_key = $2",
                    )
                    .bind(&record.client_id)
                    .bind(&idempotency.key)
                    .fetch_one(&mut *transaction)
                    .await?;
                    let request_hash: String = row.try_get("request_hash")?;
                    let certificate_id: String = row.try_get("certificate_id")?;
                    transaction.rollback().await?;
                    return Ok(Some((request_hash == idempotency.request_hash, certificate_id)));
                }
                insert_certificate(&mut *transaction, &record).await?;
                transaction.commit().await?;
                Ok(None)
            })).await?;
            match earlier_claim {
                None => Ok(CreateOutcome::Created(certificate.clone())),
                Some((false, certificate_id)) => Ok(CreateOutcome::Conflict { certificate_id }),
                Some((true, certificate_id)) => {
                    let existing = self.certificate(&certificate.client_id, &certificate_id).await?;
                    existing
                        .map(CreateOutcome::Replayed)
                        .ok_or_else(|| StoreError::Corrupt(format!("idempotency key names the missing certificate {certificate_id}")))
                }
            }
        }

        async fn certificate(&self, client_id: &str, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
            let row = $sql::query(&format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE id = $1 AND client_id = $2"))
                .bind(id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
            row.map(|row| certificate_from_row(&row)).transpose()
        }

        async fn list_certificates(&self, client_id: &str, query: &ListQuery) -> Result<Vec<CertificateRecord>, StoreError> {
            let rows = $sql::query(&format!(
                "SELECT {CERTIFICATE_COLUMNS} FROM certificates
                 WHERE client_id = $1 AND ($2 IS NULL OR type_id = $2) AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR id > $4)
                 ORDER BY id LIMIT $5"
            ))
            .bind(client_id)
            .bind(query.type_id.as_deref())
            .bind(query.status.map(Status::as_str))
            .bind(query.after.as_deref())
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(certificate_from_row).collect()
        }

        async fn revoke_certificate(
            &self,
            client_id: &str,
            id: &str,
            reason: &str,
            at: i64,
            actor: &str,
        ) -> Result<Option<CertificateRecord>, StoreError> {
            let (owner, certificate_id, reason, actor) = (client_id.to_owned(), id.to_owned(), reason.to_owned(), actor.to_owned());
            self.write(move |connection| Box::pin(async move {
                let mut transaction = connection.begin().await?;
                let changed = $sql::query(
                    "UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2, updated_at = $1
                     WHERE id = $3 AND client_id = $4 AND status <> 'revoked'",
                )
                .bind(at)
                .bind(&reason)
                .bind(&certificate_id)
                .bind(&owner)
                .execute(&mut *transaction)
                .await?;
                if changed.rows_affected() == 1 {
                    insert_audit(&mut transaction, at, &actor, "certificate.revoked", Some(&certificate_id), None).await?;
                }
                transaction.commit().await?;
                Ok(())
            })).await?;
            self.certificate(client_id, id).await
        }

        async fn suspend_certificate(&self, client_id: &str, id: &str, at: i64, actor: &str) -> Result<Option<CertificateRecord>, StoreError> {
            self.move_status(client_id, id, Status::Active, Status::Suspended, at, actor, "certificate.suspended").await?;
            self.certificate(client_id, id).await
        }

        async fn reinstate_certificate(&self, client_id: &str, id: &str, at: i64, actor: &str) -> Result<Option<CertificateRecord>, StoreError> {
            self.move_status(client_id, id, Status::Suspended, Status::Active, at, actor, "certificate.reinstated").await?;
            self.certificate(client_id, id).await
        }

        async fn status_list_entries(&self, list: u32) -> Result<Vec<(u32, Status)>, StoreError> {
            let rows = $sql::query("SELECT status_index, status FROM certificates WHERE status_list = $1 AND status <> 'active'")
                .bind(i64::from(list))
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let index: i64 = row.try_get("status_index")?;
                    let status: String = row.try_get("status")?;
                    let index = u32::try_from(index).map_err(|_| StoreError::Corrupt(format!("status index {index}")))?;
                    let status = Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?;
                    Ok((index, status))
                })
                .collect()
        }

        async fn status_list_usage(&self) -> Result<Option<(u32, u32)>, StoreError> {
            let row = $sql::query(
                "SELECT status_list, COUNT(*) AS used FROM certificates
                 WHERE status_list = (SELECT MAX(status_list) FROM certificates) GROUP BY status_list",
            )
            .fetch_optional(&self.pool)
            .await?;
            row.map(|row| {
                let list: i64 = row.try_get("status_list")?;
                let used: i64 = row.try_get("used")?;
                let list = u32::try_from(list).map_err(|_| StoreError::Corrupt(format!("status list {list}")))?;
                Ok((list, u32::try_from(used).unwrap_or(u32::MAX)))
            })
            .transpose()
        }

        async fn delete_secrets(&self, kind: &str, subject_id: &str) -> Result<u64, StoreError> {
            let (kind, subject_id) = (kind.to_owned(), subject_id.to_owned());
            self.write(move |connection| Box::pin(async move {
                let result = $sql::query("DELETE FROM secrets WHERE kind = $1 AND subject_id = $2")
                    .bind(&kind)
                    .bind(&subject_id)
                    .execute(&mut *connection)
                    .await?;
                Ok(result.rows_affected())
            })).await
        }

        async fn purge_expired_data(&self, now: i64) -> Result<u64, StoreError> {
            self.write(move |connection| Box::pin(async move {
                let result = $sql::query(
                    "UPDATE certificates SET data_key_id = NULL, data_nonce = NULL, data_ciphertext = NULL, data_deleted_at = $1
                     WHERE retain_until <= $1 AND data_ciphertext IS NOT NULL",
                )
                .bind(now)
                .execute(&mut *connection)
                .await?;
                Ok(result.rows_affected())
            })).await
        }

        async fn put_secret(&self, secret: &Secret) -> Result<(), StoreError> {
            let secret = secret.clone();
            self.write(move |connection| Box::pin(async move {
                $sql::query("INSERT INTO secrets (kind, hash, subject_id, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(&secret.kind)
                    .bind(&secret.hash)
                    .bind(&secret.subject_id)
                    .bind(secret.expires_at)
                    .execute(&mut *connection)
                    .await?;
                Ok(())
            })).await
        }

        async fn find_secret(&self, kind: &str, hash: &str, now: i64) -> Result<Option<String>, StoreError> {
            let row = $sql::query("SELECT subject_id FROM secrets WHERE kind = $1 AND hash = $2 AND expires_at > $3")
                .bind(kind)
                .bind(hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(|row| row.try_get("subject_id")).transpose()?)
        }

        async fn certificate_by_id(&self, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
            let row = $sql::query(&format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.map(|row| certificate_from_row(&row)).transpose()
        }

        async fn consume_secret(&self, kind: &str, hash: &str, now: i64) -> Result<Option<String>, StoreError> {
            let (kind, hash) = (kind.to_owned(), hash.to_owned());
            self.write(move |connection| Box::pin(async move {
                let row = $sql::query("DELETE FROM secrets WHERE kind = $1 AND hash = $2 AND expires_at > $3 RETURNING subject_id")
                    .bind(&kind)
                    .bind(&hash)
                    .bind(now)
                    .fetch_optional(&mut *connection)
                    .await?;
                Ok(row.map(|row| row.try_get("subject_id")).transpose()?)
            })).await
        }

        async fn audit_events(&self, certificate_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
            let rows = $sql::query("SELECT at, actor, action, certificate_id, detail FROM audit_log WHERE certificate_id = $1 ORDER BY id")
                .bind(certificate_id)
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(AuditEvent {
                        at: row.try_get("at")?,
                        actor: row.try_get("actor")?,
                        action: row.try_get("action")?,
                        certificate_id: row.try_get("certificate_id")?,
                        detail: row.try_get("detail")?,
                    })
                })
                .collect()
        }

        async fn register_pass(&self, registration: &PassRegistration) -> Result<bool, StoreError> {
            let registration = registration.clone();
            self.write(move |connection| Box::pin(async move {
                let mut transaction = connection.begin().await?;
                let inserted = $sql::query(
                    "INSERT INTO pass_registrations (device_library_id, pass_type_id, serial_number, push_token, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(&registration.device_library_id)
                .bind(&registration.pass_type_id)
                .bind(&registration.serial_number)
                .bind(&registration.push_token)
                .bind(registration.created_at)
                .execute(&mut *transaction)
                .await?
                .rows_affected()
                    == 1;
                if !inserted {
                    $sql::query(
                        "UPDATE pass_registrations SET push_token = $1
                         WHERE device_library_id = $2 AND pass_type_id = $3 AND serial_number = $4",
                    )
                    .bind(&registration.push_token)
                    .bind(&registration.device_library_id)
                    .bind(&registration.pass_type_id)
                    .bind(&registration.serial_number)
                    .execute(&mut *transaction)
                    .await?;
                }
                transaction.commit().await?;
                Ok(inserted)
            })).await
        }

        async fn unregister_pass(
            &self,
            device_library_id: &str,
            pass_type_id: &str,
            serial_number: &str,
        ) -> Result<bool, StoreError> {
            let (device, pass_type, serial) = (device_library_id.to_owned(), pass_type_id.to_owned(), serial_number.to_owned());
            self.write(move |connection| Box::pin(async move {
                let result = $sql::query(
                    "DELETE FROM pass_registrations WHERE device_library_id = $1 AND pass_type_id = $2 AND serial_number = $3",
                )
                .bind(&device)
                .bind(&pass_type)
                .bind(&serial)
                .execute(&mut *connection)
                .await?;
                Ok(result.rows_affected() > 0)
            })).await
        }

        async fn updated_passes(
            &self,
            device_library_id: &str,
            pass_type_id: &str,
            since: i64,
        ) -> Result<Vec<String>, StoreError> {
            let rows = $sql::query(
                "SELECT r.serial_number AS serial_number FROM pass_registrations r JOIN certificates c ON c.id = r.serial_number
                 WHERE r.device_library_id = $1 AND r.pass_type_id = $2 AND c.updated_at >= $3
                 ORDER BY r.serial_number",
            )
            .bind(device_library_id)
            .bind(pass_type_id)
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| Ok(row.try_get("serial_number")?))
                .collect()
        }

        async fn pass_push_tokens(&self, serial_number: &str) -> Result<Vec<String>, StoreError> {
            let rows = $sql::query(
                "SELECT DISTINCT push_token FROM pass_registrations WHERE serial_number = $1 ORDER BY push_token",
            )
            .bind(serial_number)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| Ok(row.try_get("push_token")?))
                .collect()
        }

        async fn forget_push_token(&self, push_token: &str) -> Result<u64, StoreError> {
            let push_token = push_token.to_owned();
            self.write(move |connection| Box::pin(async move {
                let result = $sql::query("DELETE FROM pass_registrations WHERE push_token = $1")
                    .bind(&push_token)
                    .execute(&mut *connection)
                    .await?;
                Ok(result.rows_affected())
            })).await
        }

        async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
            let event = event.clone();
            self.write(move |connection| Box::pin(async move {
                $sql::query("INSERT INTO audit_log (at, actor, action, certificate_id, detail) VALUES ($1, $2, $3, $4, $5)")
                    .bind(event.at)
                    .bind(&event.actor)
                    .bind(&event.action)
                    .bind(event.certificate_id.as_deref())
                    .bind(event.detail.as_deref())
                    .execute(&mut *connection)
                    .await?;
                Ok(())
            })).await
        }

        async fn put_secret_once(&self, secret: &Secret) -> Result<bool, StoreError> {
            let secret = secret.clone();
            self.write(move |connection| Box::pin(async move {
                let result = $sql::query(
                    "INSERT INTO secrets (kind, hash, subject_id, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&secret.kind)
                .bind(&secret.hash)
                .bind(&secret.subject_id)
                .bind(secret.expires_at)
                .execute(&mut *connection)
                .await?;
                Ok(result.rows_affected() == 1)
            })).await
        }

        async fn purge_expired_secrets(&self, now: i64) -> Result<u64, StoreError> {
            self.write(move |connection| Box::pin(async move {
                let mut transaction = connection.begin().await?;
                let mut purged = 0;
                for table in ["secrets", "authorization_sessions", "access_tokens", "credential_offers", "deferred_credentials"] {
                    purged += $sql::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
                        .bind(now)
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected();
                }
                transaction.commit().await?;
                Ok(purged)
            })).await
        }

        async fn create_offer(&self, offer: &OfferRecord) -> Result<(), StoreError> {
            let offer = offer.clone();
            self.write(move |connection| Box::pin(async move {
                // A trigger stores the offer's pre-authorized code in the same statement.
                $sql::query(
                    "INSERT INTO credential_offers (id_hash, code_hash, certificate_id, tx_code_hash, tx_code_length, failed_attempts, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&offer.id_hash)
                .bind(&offer.code_hash)
                .bind(&offer.certificate_id)
                .bind(offer.tx_code_hash.as_deref())
                .bind(offer.tx_code_length)
                .bind(offer.failed_attempts)
                .bind(offer.expires_at)
                .execute(&mut *connection)
                .await?;
                Ok(())
            })).await
        }

        async fn offer(&self, id_hash: &str, now: i64) -> Result<Option<OfferRecord>, StoreError> {
            let row = $sql::query(
                "SELECT id_hash, code_hash, certificate_id, tx_code_hash, tx_code_length, failed_attempts, expires_at
                 FROM credential_offers WHERE id_hash = $1 AND expires_at > $2",
            )
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            row.map(|row| {
                Ok(OfferRecord {
                    id_hash: row.try_get("id_hash")?,
                    code_hash: row.try_get("code_hash")?,
                    certificate_id: row.try_get("certificate_id")?,
                    tx_code_hash: row.try_get("tx_code_hash")?,
                    tx_code_length: row.try_get("tx_code_length")?,
                    failed_attempts: row.try_get("failed_attempts")?,
                    expires_at: row.try_get("expires_at")?,
                })
            })
            .transpose()
        }

        async fn redeem_pre_authorized_code(
            &self,
            code_hash: &str,
            tx_code_hash: Option<&str>,
            max_attempts: i64,
            now: i64,
        ) -> Result<Redemption, StoreError> {
            let (code_hash, tx_code_hash) = (code_hash.to_owned(), tx_code_hash.map(str::to_owned));
            self.write(move |connection| Box::pin(async move {
                // A correct code is the common case, so it is tried first, and one statement grants it.
                let granted = $sql::query(
                    "DELETE FROM secrets WHERE kind = 'pre-authorized_code' AND hash = $1 AND expires_at > $2
                       AND NOT EXISTS (SELECT 1 FROM credential_offers WHERE code_hash = $1
                           AND (failed_attempts >= $3 OR (tx_code_hash IS NOT NULL AND tx_code_hash <> COALESCE($4, ''))))
                       AND (SELECT status FROM certificates WHERE id = subject_id) IN ('active', 'pending')
                     RETURNING subject_id, (SELECT status FROM certificates WHERE id = subject_id) AS status",
                )
                .bind(&code_hash)
                .bind(now)
                .bind(max_attempts)
                .bind(tx_code_hash.as_deref())
                .fetch_optional(&mut *connection)
                .await?;
                if let Some(row) = granted {
                    // A code whose certificate is gone grants nothing.
                    let status: Option<String> = row.try_get("status")?;
                    let Some(status) = status else {
                        return Ok(Redemption::Invalid);
                    };
                    return Ok(Redemption::Granted {
                        certificate_id: row.try_get("subject_id")?,
                        status: Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
                    });
                }

                // Otherwise a wrong or missing transaction code counts one attempt, atomically per
                // row, and the attempt that reaches the limit also withdraws the code.
                let mut transaction = connection.begin().await?;
                let failed = $sql::query(
                    "UPDATE credential_offers SET failed_attempts = failed_attempts + 1
                     WHERE code_hash = $1 AND tx_code_hash IS NOT NULL AND tx_code_hash <> COALESCE($2, '')
                       AND failed_attempts < $3 AND expires_at > $4
                     RETURNING failed_attempts",
                )
                .bind(&code_hash)
                .bind(tx_code_hash.as_deref())
                .bind(max_attempts)
                .bind(now)
                .fetch_optional(&mut *transaction)
                .await?;
                if let Some(row) = failed {
                    let attempts: i64 = row.try_get("failed_attempts")?;
                    if attempts >= max_attempts {
                        $sql::query("DELETE FROM secrets WHERE kind = 'pre-authorized_code' AND hash = $1")
                            .bind(&code_hash)
                            .execute(&mut *transaction)
                            .await?;
                        transaction.commit().await?;
                        return Ok(Redemption::Locked);
                    }
                    transaction.commit().await?;
                    return Ok(Redemption::WrongTxCode { attempts_left: max_attempts - attempts });
                }
                transaction.commit().await?;

                // Right codes for a revoked or suspended certificate grant nothing and stay unused.
                let inactive = $sql::query(
                    "SELECT c.status AS status FROM secrets s JOIN certificates c ON c.id = s.subject_id
                     WHERE s.kind = 'pre-authorized_code' AND s.hash = $1 AND s.expires_at > $2
                       AND c.status IN ('revoked', 'suspended')",
                )
                .bind(&code_hash)
                .bind(now)
                .fetch_optional(&mut *connection)
                .await?;
                if let Some(row) = inactive {
                    let status: String = row.try_get("status")?;
                    let status = Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?;
                    return Ok(Redemption::NotActive { status });
                }

                let locked = $sql::query("SELECT 1 AS locked FROM credential_offers WHERE code_hash = $1 AND failed_attempts >= $2")
                    .bind(&code_hash)
                    .bind(max_attempts)
                    .fetch_optional(&mut *connection)
                    .await?;
                Ok(if locked.is_some() { Redemption::Locked } else { Redemption::Invalid })
            })).await
        }

        async fn put_access_token(&self, token: &AccessTokenRecord) -> Result<(), StoreError> {
            let token = token.clone();
            let identifiers = token.credential_identifiers.as_deref().map(super::encode_list).transpose()?;
            self.write(move |connection| Box::pin(async move {
                $sql::query(
                    "INSERT INTO access_tokens (hash, certificate_id, client_id, dpop_jkt, credential_identifiers, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&token.hash)
                .bind(&token.certificate_id)
                .bind(token.client_id.as_deref())
                .bind(token.dpop_jkt.as_deref())
                .bind(identifiers)
                .bind(token.expires_at)
                .execute(&mut *connection)
                .await?;
                Ok(())
            })).await
        }

        async fn access_token(&self, hash: &str, now: i64) -> Result<Option<AccessTokenRecord>, StoreError> {
            let row = $sql::query(
                "SELECT hash, certificate_id, client_id, dpop_jkt, credential_identifiers, expires_at
                 FROM access_tokens WHERE hash = $1 AND expires_at > $2",
            )
            .bind(hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            row.map(|row| {
                let identifiers: Option<String> = row.try_get("credential_identifiers")?;
                Ok(AccessTokenRecord {
                    hash: row.try_get("hash")?,
                    certificate_id: row.try_get("certificate_id")?,
                    client_id: row.try_get("client_id")?,
                    dpop_jkt: row.try_get("dpop_jkt")?,
                    credential_identifiers: identifiers.as_deref().map(super::decode_list).transpose()?,
                    expires_at: row.try_get("expires_at")?,
                })
            })
            .transpose()
        }

        async fn approve_certificate(
            &self,
            client_id: &str,
            id: &str,
            at: i64,
            actor: &str,
        ) -> Result<Option<CertificateRecord>, StoreError> {
            self.move_status(client_id, id, Status::Pending, Status::Active, at, actor, "certificate.approved").await?;
            self.certificate(client_id, id).await
        }

        async fn put_authorization_session(&self, session: &AuthorizationSession) -> Result<(), StoreError> {
            let session = session.clone();
            self.write(move |connection| Box::pin(async move {
                $sql::query(
                    "INSERT INTO authorization_sessions (kind, hash, certificate_id, data, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&session.kind)
                .bind(&session.hash)
                .bind(&session.certificate_id)
                .bind(&session.data)
                .bind(session.expires_at)
                .execute(&mut *connection)
                .await?;
                Ok(())
            })).await
        }

        async fn take_authorization_session(&self, kind: &str, hash: &str, now: i64) -> Result<Option<AuthorizationSession>, StoreError> {
            let (kind, hash) = (kind.to_owned(), hash.to_owned());
            self.write(move |connection| Box::pin(async move {
                let row = $sql::query(
                    "DELETE FROM authorization_sessions WHERE kind = $1 AND hash = $2 AND expires_at > $3
                     RETURNING kind, hash, certificate_id, data, expires_at",
                )
                .bind(&kind)
                .bind(&hash)
                .bind(now)
                .fetch_optional(&mut *connection)
                .await?;
                row.map(|row| {
                    Ok(AuthorizationSession {
                        kind: row.try_get("kind")?,
                        hash: row.try_get("hash")?,
                        certificate_id: row.try_get("certificate_id")?,
                        data: row.try_get("data")?,
                        expires_at: row.try_get("expires_at")?,
                    })
                })
                .transpose()
            })).await
        }

        async fn put_deferred_credential(&self, deferred: &DeferredCredential) -> Result<(), StoreError> {
            let deferred = deferred.clone();
            self.write(move |connection| Box::pin(async move {
                $sql::query(
                    "INSERT INTO deferred_credentials (transaction_hash, certificate_id, credential_configuration, holder_jwks, expires_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&deferred.transaction_hash)
                .bind(&deferred.certificate_id)
                .bind(&deferred.credential_configuration)
                .bind(&deferred.holder_jwks)
                .bind(deferred.expires_at)
                .execute(&mut *connection)
                .await?;
                Ok(())
            })).await
        }

        async fn deferred_credential(&self, transaction_hash: &str, now: i64) -> Result<Option<DeferredCredential>, StoreError> {
            let row = $sql::query(
                "SELECT transaction_hash, certificate_id, credential_configuration, holder_jwks, expires_at
                 FROM deferred_credentials WHERE transaction_hash = $1 AND expires_at > $2",
            )
            .bind(transaction_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            row.map(|row| deferred_from_row(&row)).transpose()
        }

        async fn take_deferred_credential(&self, transaction_hash: &str, now: i64) -> Result<Option<DeferredCredential>, StoreError> {
            let transaction_hash = transaction_hash.to_owned();
            self.write(move |connection| Box::pin(async move {
                let row = $sql::query(
                    "DELETE FROM deferred_credentials WHERE transaction_hash = $1 AND expires_at > $2
                     RETURNING transaction_hash, certificate_id, credential_configuration, holder_jwks, expires_at",
                )
                .bind(&transaction_hash)
                .bind(now)
                .fetch_optional(&mut *connection)
                .await?;
                row.map(|row| deferred_from_row(&row)).transpose()
            })).await
        }
    }
    };
}

/// Generates the row helpers for one database: its rows are `$row`, its connections `$connection`.
macro_rules! store_helpers {
    ($sql:ident, $row:ty, $connection:ty) => {
        const CERTIFICATE_COLUMNS: &str = "id, client_id, type_id, status, created_at, updated_at, valid_from, valid_until, \
             retain_until, channels, data_key_id, data_nonce, data_ciphertext, data_deleted_at, revoked_at, revocation_reason, \
             status_list, status_index";

        fn certificate_from_row(row: &$row) -> Result<CertificateRecord, StoreError> {
            let status: String = row.try_get("status")?;
            let channels: String = row.try_get("channels")?;
            let key_id: Option<String> = row.try_get("data_key_id")?;
            let nonce: Option<Vec<u8>> = row.try_get("data_nonce")?;
            let ciphertext: Option<Vec<u8>> = row.try_get("data_ciphertext")?;
            let data = match (key_id, nonce, ciphertext) {
                (Some(key_id), Some(nonce), Some(ciphertext)) => Some(SealedData { key_id, nonce, ciphertext }),
                _ => None,
            };
            let status_list: Option<i64> = row.try_get("status_list")?;
            let status_index: Option<i64> = row.try_get("status_index")?;
            let status_entry = match (status_list, status_index) {
                (Some(list), Some(index)) => Some(StatusEntry {
                    list: u32::try_from(list).map_err(|_| StoreError::Corrupt(format!("status list {list}")))?,
                    index: u32::try_from(index).map_err(|_| StoreError::Corrupt(format!("status index {index}")))?,
                }),
                _ => None,
            };
            Ok(CertificateRecord {
                id: row.try_get("id")?,
                client_id: row.try_get("client_id")?,
                type_id: row.try_get("type_id")?,
                status: Status::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                valid_from: row.try_get("valid_from")?,
                valid_until: row.try_get("valid_until")?,
                retain_until: row.try_get("retain_until")?,
                channels: super::decode_list(&channels)?,
                data,
                data_deleted_at: row.try_get("data_deleted_at")?,
                revoked_at: row.try_get("revoked_at")?,
                revocation_reason: row.try_get("revocation_reason")?,
                status_entry,
            })
        }

        async fn insert_certificate(
            connection: &mut $connection,
            certificate: &CertificateRecord,
        ) -> Result<(), StoreError> {
            let data = certificate.data.as_ref();
            $sql::query(
                "INSERT INTO certificates (id, client_id, type_id, status, created_at, updated_at, valid_from, valid_until,
                     retain_until, channels, data_key_id, data_nonce, data_ciphertext, status_list, status_index)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(&certificate.id)
            .bind(&certificate.client_id)
            .bind(&certificate.type_id)
            .bind(certificate.status.as_str())
            .bind(certificate.created_at)
            .bind(certificate.updated_at)
            .bind(certificate.valid_from)
            .bind(certificate.valid_until)
            .bind(certificate.retain_until)
            .bind(super::encode_list(&certificate.channels)?)
            .bind(data.map(|d| d.key_id.clone()))
            .bind(data.map(|d| d.nonce.clone()))
            .bind(data.map(|d| d.ciphertext.clone()))
            .bind(certificate.status_entry.map(|entry| i64::from(entry.list)))
            .bind(certificate.status_entry.map(|entry| i64::from(entry.index)))
            .execute(connection)
            .await
            .map_err(|error| match (unique_violation(&error), certificate.status_entry) {
                // SQLite names the columns in its message and PostgreSQL the index.
                (Some(message), Some(entry))
                    if message.contains("status_index") || message.contains("certificates_by_status_entry") =>
                {
                    StoreError::StatusEntryTaken { list: entry.list, index: entry.index }
                }
                _ => StoreError::from(error),
            })?;
            Ok(())
        }

        fn deferred_from_row(row: &$row) -> Result<DeferredCredential, StoreError> {
            Ok(DeferredCredential {
                transaction_hash: row.try_get("transaction_hash")?,
                certificate_id: row.try_get("certificate_id")?,
                credential_configuration: row.try_get("credential_configuration")?,
                holder_jwks: row.try_get("holder_jwks")?,
                expires_at: row.try_get("expires_at")?,
            })
        }

        async fn insert_audit(
            connection: &mut $connection,
            at: i64,
            actor: &str,
            action: &str,
            certificate_id: Option<&str>,
            detail: Option<&str>,
        ) -> Result<(), StoreError> {
            $sql::query("INSERT INTO audit_log (at, actor, action, certificate_id, detail) VALUES ($1, $2, $3, $4, $5)")
                .bind(at)
                .bind(actor)
                .bind(action)
                .bind(certificate_id)
                .bind(detail)
                .execute(connection)
                .await?;
            Ok(())
        }
    };
}

pub(crate) use {store_helpers, store_impl};
