use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{Connection, PgPool, Row};

use super::{
    store_helpers, store_impl, AccessTokenRecord, ApiClient, AuditEvent, AuthorizationSession,
    CertificateRecord, CreateOutcome, DeferredCredential, Idempotency, ListQuery, OfferRecord,
    PassRegistration, Redemption, SealedData, Secret, Status, StatusEntry, Store, StoreError,
    WriteFuture,
};

/// The store for several nodes: PostgreSQL, shared by every `intyg serve` process.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and applies the migrations. Concurrent nodes may start together: sqlx
    /// serialises migrations with an advisory lock.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Runs `job` on a connection of the pool: PostgreSQL runs writers concurrently. A job of
    /// several statements wraps them in `connection.begin()`.
    async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> WriteFuture<'c, T> + Send + 'static,
    {
        let mut connection = self.pool.acquire().await?;
        job(&mut connection).await
    }
}

/// Returns the message of a unique constraint violation, which names the violated index, or
/// `None` for any other error.
fn unique_violation(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            Some(database.message())
        }
        _ => None,
    }
}

store_helpers!(sqlx, sqlx::postgres::PgRow, PgConnection);

store_impl!(PostgresStore, sqlx);
