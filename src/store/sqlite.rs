use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool};

use super::{
    store_helpers, store_impl, AccessTokenRecord, ApiClient, AuditEvent, AuthorizationSession,
    CertificateRecord, CreateOutcome, DeferredCredential, Idempotency, ListQuery, OfferRecord,
    PassRegistration, Redemption, SealedData, Secret, Status, StatusEntry, Store, StoreError,
};

/// The embedded default store: one SQLite file in write-ahead-log mode.
///
/// SQLite allows one writer at a time, and a second writer waits in SQLite's busy handler, which
/// sleeps in steps of milliseconds. Writes therefore go through a pool of one connection, where
/// they queue in order without sleeping, and reads use a pool of their own.
///
/// The writer never copies the log back into the database file itself: a background task does
/// that on a reading connection (see [`CHECKPOINT_INTERVAL`]), so no write waits for the disk
/// flushes a checkpoint makes.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the SQLite database at `url` and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        if let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::DataDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
        // NORMAL synchronous mode in WAL is durable against a process crash, because the WAL is
        // written before a transaction is reported committed. Only an operating system crash can
        // lose the last transactions.
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("wal_autocheckpoint", "0");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        tokio::spawn(checkpoint_regularly(pool.clone()));
        Ok(Self { pool, writer })
    }

    /// Starts a write transaction on the writer connection. `BEGIN IMMEDIATE` takes the write lock
    /// at once, so a transaction cannot fail halfway because its read lock could not be upgraded.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// How often the background task copies the write-ahead log into the database file. SQLite's own
/// default checkpoints after 1,000 pages, which a busy server writes in well under a second.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Copies committed pages from the write-ahead log into the database file until the pool closes.
/// A passive checkpoint takes no lock that a writer or reader waits for; once it has copied the
/// whole log, the next write starts the log from its beginning again, so the file stays small.
async fn checkpoint_regularly(pool: SqlitePool) {
    let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !pool.is_closed() {
        ticks.tick().await;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                break;
            }
            tracing::warn!(%error, "checkpointing the SQLite write-ahead log failed");
        }
    }
}

store_helpers!(Sqlite);

store_impl!(SqliteStore, Sqlite);
