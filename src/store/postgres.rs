use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Row};

use super::{
    store_helpers, store_impl, AccessTokenRecord, ApiClient, AuditEvent, AuthorizationSession,
    CertificateRecord, CreateOutcome, DeferredCredential, Idempotency, ListQuery, OfferRecord,
    PassRegistration, Redemption, SealedData, Secret, Status, StatusEntry, Store, StoreError,
};

/// The store for several nodes: PostgreSQL, shared by every `intyg serve` process.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The same pool as `pool`: PostgreSQL runs writers concurrently.
    writer: PgPool,
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
        Ok(Self {
            writer: pool.clone(),
            pool,
        })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

store_helpers!(Postgres);

store_impl!(PostgresStore, Postgres);
