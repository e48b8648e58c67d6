//! Storage behind one trait, [`Store`], with SQLite (the default) and PostgreSQL implementations
//! that pass the same contract tests (`tests/store_contract.rs`).
//!
//! Every single-use secret is consumed by one atomic `DELETE ... RETURNING`, so two server nodes
//! sharing a database can never both accept it. Certificate data arrives encrypted by the caller
//! (see `crypto::DataKeys`). Its ciphertext is deleted when the retention period ends, and the
//! record and its status stay.

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
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
    #[error("{0} already exists")]
    Duplicate(String),
    /// The certificate's status list entry belongs to another certificate; draw another.
    #[error("status list {list} index {index} is already taken")]
    StatusEntryTaken { list: u32, index: u32 },
}

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
    Active,
    /// Revoked for good.
    Revoked,
    /// Not valid until it is reinstated.
    Suspended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Revoked => "revoked",
            Status::Suspended => "suspended",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
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

/// Generates the `Store` implementation for one sqlx database. The two backends run the
/// same SQL (`$n` parameters, `ON CONFLICT`, `RETURNING` are common to SQLite 3.35+ and PostgreSQL),
/// so one body keeps them from drifting apart.
macro_rules! store_impl {
    ($store:ty, $database:ty) => {
    #[async_trait::async_trait]
    impl Store for $store {
        async fn ping(&self) -> Result<(), StoreError> {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }

        async fn add_client(&self, client: &ApiClient) -> Result<(), StoreError> {
            let result = sqlx::query(
                "INSERT INTO api_clients (id, name, key_hash, types, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&client.id)
            .bind(&client.name)
            .bind(&client.key_hash)
            .bind(super::encode_list(&client.types)?)
            .bind(client.created_at)
            .execute(&self.writer)
            .await?;
            if result.rows_affected() == 0 {
                return Err(StoreError::Duplicate(format!("a client named {:?}", client.name)));
            }
            Ok(())
        }

        async fn client_by_key_hash(&self, key_hash: &str) -> Result<Option<ApiClient>, StoreError> {
            let row = sqlx::query("SELECT id, name, key_hash, types, created_at FROM api_clients WHERE key_hash = $1")
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
            // Without an idempotency key one INSERT is the whole operation, and it is atomic
            // with its audit event because a trigger writes that event.
            let Some(idempotency) = idempotency else {
                insert_certificate(&self.writer, certificate).await?;
                return Ok(CreateOutcome::Created(certificate.clone()));
            };
            let mut transaction = self.begin_write().await?;
            {
                let claimed = sqlx::query(
                    "INSERT INTO idempotency_keys (client_id, idempotency_key, request_hash, certificate_id, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(&certificate.client_id)
                .bind(&idempotency.key)
                .bind(&idempotency.request_hash)
                .bind(&certificate.id)
                .bind(certificate.created_at)
                .execute(&mut *transaction)
                .await?;
                if claimed.rows_affected() == 0 {
                    let row = sqlx::query(
                        "SELECT request_hash, certificate_id FROM idempotency_keys WHERE client_id = $1 AND idempotency_key = $2",
                    )
                    .bind(&certificate.client_id)
                    .bind(&idempotency.key)
                    .fetch_one(&mut *transaction)
                    .await?;
                    let request_hash: String = row.try_get("request_hash")?;
                    let certificate_id: String = row.try_get("certificate_id")?;
                    transaction.rollback().await?;
                    if request_hash != idempotency.request_hash {
                        return Ok(CreateOutcome::Conflict { certificate_id });
                    }
                    let existing = self.certificate(&certificate.client_id, &certificate_id).await?;
                    return existing
                        .map(CreateOutcome::Replayed)
                        .ok_or_else(|| StoreError::Corrupt(format!("idempotency key names the missing certificate {certificate_id}")));
                }
            }

            insert_certificate(&mut *transaction, certificate).await?;
            transaction.commit().await?;
            Ok(CreateOutcome::Created(certificate.clone()))
        }

        async fn certificate(&self, client_id: &str, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
            let row = sqlx::query(&format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE id = $1 AND client_id = $2"))
                .bind(id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
            row.map(|row| certificate_from_row(&row)).transpose()
        }

        async fn list_certificates(&self, client_id: &str, query: &ListQuery) -> Result<Vec<CertificateRecord>, StoreError> {
            let rows = sqlx::query(&format!(
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
            let mut transaction = self.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2, updated_at = $1
                 WHERE id = $3 AND client_id = $4 AND status <> 'revoked'",
            )
            .bind(at)
            .bind(reason)
            .bind(id)
            .bind(client_id)
            .execute(&mut *transaction)
            .await?;
            if changed.rows_affected() == 1 {
                insert_audit(&mut transaction, at, actor, "certificate.revoked", Some(id), None).await?;
            }
            transaction.commit().await?;
            self.certificate(client_id, id).await
        }

        async fn suspend_certificate(&self, client_id: &str, id: &str, at: i64, actor: &str) -> Result<Option<CertificateRecord>, StoreError> {
            let mut transaction = self.begin_write().await?;
            if change_status(&mut transaction, client_id, id, Status::Active, Status::Suspended, at).await? {
                insert_audit(&mut transaction, at, actor, "certificate.suspended", Some(id), None).await?;
            }
            transaction.commit().await?;
            self.certificate(client_id, id).await
        }

        async fn reinstate_certificate(&self, client_id: &str, id: &str, at: i64, actor: &str) -> Result<Option<CertificateRecord>, StoreError> {
            let mut transaction = self.begin_write().await?;
            if change_status(&mut transaction, client_id, id, Status::Suspended, Status::Active, at).await? {
                insert_audit(&mut transaction, at, actor, "certificate.reinstated", Some(id), None).await?;
            }
            transaction.commit().await?;
            self.certificate(client_id, id).await
        }

        async fn status_list_entries(&self, list: u32) -> Result<Vec<(u32, Status)>, StoreError> {
            let rows = sqlx::query("SELECT status_index, status FROM certificates WHERE status_list = $1 AND status <> 'active'")
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
            let row = sqlx::query(
                "SELECT status_list, COUNT(*) AS used FROM certificates WHERE status_list IS NOT NULL
                 GROUP BY status_list ORDER BY status_list DESC LIMIT 1",
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
            let result = sqlx::query("DELETE FROM secrets WHERE kind = $1 AND subject_id = $2")
                .bind(kind)
                .bind(subject_id)
                .execute(&self.writer)
                .await?;
            Ok(result.rows_affected())
        }

        async fn purge_expired_data(&self, now: i64) -> Result<u64, StoreError> {
            let result = sqlx::query(
                "UPDATE certificates SET data_key_id = NULL, data_nonce = NULL, data_ciphertext = NULL, data_deleted_at = $1
                 WHERE retain_until <= $1 AND data_ciphertext IS NOT NULL",
            )
            .bind(now)
            .execute(&self.writer)
            .await?;
            Ok(result.rows_affected())
        }

        async fn put_secret(&self, secret: &Secret) -> Result<(), StoreError> {
            sqlx::query("INSERT INTO secrets (kind, hash, subject_id, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(&secret.kind)
                .bind(&secret.hash)
                .bind(&secret.subject_id)
                .bind(secret.expires_at)
                .execute(&self.writer)
                .await?;
            Ok(())
        }

        async fn find_secret(&self, kind: &str, hash: &str, now: i64) -> Result<Option<String>, StoreError> {
            let row = sqlx::query("SELECT subject_id FROM secrets WHERE kind = $1 AND hash = $2 AND expires_at > $3")
                .bind(kind)
                .bind(hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(|row| row.try_get("subject_id")).transpose()?)
        }

        async fn certificate_by_id(&self, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
            let row = sqlx::query(&format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.map(|row| certificate_from_row(&row)).transpose()
        }

        async fn consume_secret(&self, kind: &str, hash: &str, now: i64) -> Result<Option<String>, StoreError> {
            let row = sqlx::query("DELETE FROM secrets WHERE kind = $1 AND hash = $2 AND expires_at > $3 RETURNING subject_id")
                .bind(kind)
                .bind(hash)
                .bind(now)
                .fetch_optional(&self.writer)
                .await?;
            Ok(row.map(|row| row.try_get("subject_id")).transpose()?)
        }

        async fn audit_events(&self, certificate_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
            let rows = sqlx::query("SELECT at, actor, action, certificate_id, detail FROM audit_log WHERE certificate_id = $1 ORDER BY id")
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
            let mut transaction = self.begin_write().await?;
            let inserted = sqlx::query(
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
                sqlx::query(
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
        }

        async fn unregister_pass(
            &self,
            device_library_id: &str,
            pass_type_id: &str,
            serial_number: &str,
        ) -> Result<bool, StoreError> {
            let result = sqlx::query(
                "DELETE FROM pass_registrations WHERE device_library_id = $1 AND pass_type_id = $2 AND serial_number = $3",
            )
            .bind(device_library_id)
            .bind(pass_type_id)
            .bind(serial_number)
            .execute(&self.writer)
            .await?;
            Ok(result.rows_affected() > 0)
        }

        async fn updated_passes(
            &self,
            device_library_id: &str,
            pass_type_id: &str,
            since: i64,
        ) -> Result<Vec<String>, StoreError> {
            let rows = sqlx::query(
                "SELECT r.serial_number FROM pass_registrations r JOIN certificates c ON c.id = r.serial_number
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
            let rows = sqlx::query(
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
            let result = sqlx::query("DELETE FROM pass_registrations WHERE push_token = $1")
                .bind(push_token)
                .execute(&self.writer)
                .await?;
            Ok(result.rows_affected())
        }
    }
    };
}

/// Generates the row helpers for one sqlx database.
macro_rules! store_helpers {
    ($database:ty) => {
        const CERTIFICATE_COLUMNS: &str = "id, client_id, type_id, status, created_at, updated_at, valid_from, valid_until, \
             retain_until, channels, data_key_id, data_nonce, data_ciphertext, data_deleted_at, revoked_at, revocation_reason, \
             status_list, status_index";

        fn certificate_from_row(row: &<$database as sqlx::Database>::Row) -> Result<CertificateRecord, StoreError> {
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

        async fn insert_certificate<'e>(
            executor: impl sqlx::Executor<'e, Database = $database>,
            certificate: &CertificateRecord,
        ) -> Result<(), StoreError> {
            let data = certificate.data.as_ref();
            sqlx::query(
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
            .execute(executor)
            .await
            .map_err(|error| match (&error, certificate.status_entry) {
                // SQLite names the columns in its message and PostgreSQL the index.
                (sqlx::Error::Database(database), Some(entry))
                    if database.is_unique_violation()
                        && (database.message().contains("status_index")
                            || database.message().contains("certificates_by_status_entry")) =>
                {
                    StoreError::StatusEntryTaken { list: entry.list, index: entry.index }
                }
                _ => StoreError::Database(error),
            })?;
            Ok(())
        }

        /// Moves the certificate from status `from` to `to`; returns whether it changed.
        async fn change_status(
            transaction: &mut sqlx::Transaction<'_, $database>,
            client_id: &str,
            id: &str,
            from: Status,
            to: Status,
            at: i64,
        ) -> Result<bool, StoreError> {
            let changed = sqlx::query(
                "UPDATE certificates SET status = $1, updated_at = $2 WHERE id = $3 AND client_id = $4 AND status = $5",
            )
            .bind(to.as_str())
            .bind(at)
            .bind(id)
            .bind(client_id)
            .bind(from.as_str())
            .execute(&mut **transaction)
            .await?;
            Ok(changed.rows_affected() == 1)
        }

        async fn insert_audit(
            transaction: &mut sqlx::Transaction<'_, $database>,
            at: i64,
            actor: &str,
            action: &str,
            certificate_id: Option<&str>,
            detail: Option<&str>,
        ) -> Result<(), StoreError> {
            sqlx::query("INSERT INTO audit_log (at, actor, action, certificate_id, detail) VALUES ($1, $2, $3, $4, $5)")
                .bind(at)
                .bind(actor)
                .bind(action)
                .bind(certificate_id)
                .bind(detail)
                .execute(&mut **transaction)
                .await?;
            Ok(())
        }
    };
}

pub(crate) use {store_helpers, store_impl};
