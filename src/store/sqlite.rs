use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Duration;

use futures_util::FutureExt as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
use sqlx::Connection as _;
use tokio::sync::{mpsc, oneshot};

use super::lite::{self, unique_violation, Connection};
use super::{
    store_helpers, store_impl, AccessTokenRecord, ApiClient, AuditEvent, AuthorizationSession,
    CertificateRecord, CreateOutcome, DeferredCredential, Idempotency, ListQuery, OfferRecord,
    PassRegistration, Redemption, SealedData, Secret, Status, StatusEntry, Store, StoreError,
    WriteFuture,
};

/// The embedded default store: one SQLite file in write-ahead-log mode.
///
/// Statements run on the calling thread (see [`lite`]). SQLite allows one writer at a time, so
/// every write is a job for one writer thread, which owns the only writing connection and commits
/// the jobs queued at that moment together in one transaction (see [`Writer`]). Reads take a
/// connection of their own from a pool.
///
/// A background thread copies the log back into the database file (see
/// [`CHECKPOINT_INTERVAL`]), so writes seldom wait for the disk flushes a checkpoint makes.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Arc<lite::Pool>,
    writer: Writer,
    /// Ends the checkpoint thread when the last copy of the store is dropped.
    _checkpoints: std_mpsc::Sender<()>,
}

impl SqliteStore {
    /// Opens (creating if needed) the SQLite database at `url` and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = file_options(url)?;
        let path = options.get_filename().to_owned();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::DataDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
        migrate(&options).await?;
        let writer = Writer::start(open_writing(&path)?, path.clone())?;
        let checkpoints = start_checkpoints(lite::open(&path, "")?)?;
        Ok(Self {
            pool: lite::Pool::new(&path),
            writer,
            _checkpoints: checkpoints,
        })
    }

    /// Runs `job` on the writing connection, inside the transaction of the writer's current
    /// batch. A job of several statements wraps them in `connection.begin()`, which is a
    /// savepoint there. The result arrives once the batch is committed.
    async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection) -> WriteFuture<'c, T> + Send + 'static,
    {
        self.writer.run(job).await
    }
}

/// Reads the database file from a `sqlite://PATH` URL, with sqlx's parser, so the migrations and
/// the store's own connections open the same file. The store opens several connections and sets
/// their options itself, so an in-memory database or options in the URL's query are rejected.
fn file_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    if url.contains('?') || url.contains(":memory:") {
        return Err(StoreError::UnsupportedUrl(url.to_owned()));
    }
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal))
}

/// Applies the migrations, with sqlx's migrator and a connection of its own.
async fn migrate(options: &SqliteConnectOptions) -> Result<(), StoreError> {
    let mut connection = SqliteConnection::connect_with(options).await?;
    sqlx::migrate!("migrations/sqlite")
        .run(&mut connection)
        .await?;
    connection.close().await?;
    Ok(())
}

/// Opens the writer's connection, which checkpoints the log itself when it reaches
/// [`WRITER_CHECKPOINT_PAGES`].
fn open_writing(path: &std::path::Path) -> rusqlite::Result<Connection> {
    lite::open(
        path,
        &format!("PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES};"),
    )
}

/// Hands a job's result to its caller once the batch has ended: with `None` when the batch was
/// committed, and with the reason otherwise.
type Delivery = Box<dyn FnOnce(Option<&str>) + Send>;

/// A type-erased write job: runs on the connection, or learns why it cannot, and reports
/// whether it succeeded.
type Job = Box<dyn for<'c> FnOnce(Result<&'c mut Connection, String>) -> JobFuture<'c> + Send>;
type JobFuture<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (bool, Delivery)> + Send + 'c>>;

/// Maximum jobs in one batch, so that a long queue still gets frequent commits.
const MAX_BATCH: usize = 256;

/// Maximum jobs waiting for the writer; further callers wait until the queue has room.
const QUEUE_LENGTH: usize = 4096;

/// The SQLite writer: a thread of its own that owns the writing connection and runs write jobs
/// in batches. It takes every job queued when a batch starts, runs them one after the other in
/// one `BEGIN IMMEDIATE` transaction, commits once, and then sends each caller its result. Under
/// load one commit serves many requests, and the connection does not wait for a request's task
/// to be scheduled. A job that fails ends its batch, which is committed without the failed job's
/// changes, so no job runs after an error in the same transaction.
#[derive(Debug, Clone)]
struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    fn start(connection: Connection, path: PathBuf) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(QUEUE_LENGTH);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| {
                StoreError::Writer(format!("failed to start the SQLite writer thread: {error}"))
            })?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || runtime.block_on(write_batches(connection, path, queue)))
            .map_err(|error| {
                StoreError::Writer(format!("failed to start the SQLite writer thread: {error}"))
            })?;
        Ok(Self { jobs })
    }

    async fn run<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection) -> WriteFuture<'c, T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |connection| {
            Box::pin(async move {
                let result = match connection {
                    Ok(connection) => job(connection).await,
                    Err(reason) => Err(StoreError::Writer(reason)),
                };
                let succeeded = result.is_ok();
                let delivery: Delivery = Box::new(move |batch_failure| {
                    let result = match (result, batch_failure) {
                        (Ok(_), Some(reason)) => Err(StoreError::Writer(format!(
                            "the write was not committed: {reason}"
                        ))),
                        (result, _) => result,
                    };
                    // The caller may have gone away, but the committed write is kept.
                    let _ = answer.send(result);
                });
                (succeeded, delivery)
            })
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Writer("the SQLite writer thread has stopped".into()))?;
        answered.await.map_err(|_| {
            StoreError::Writer("the SQLite writer thread stopped before returning a result".into())
        })?
    }
}

/// Runs batches of write jobs until every [`Writer`] handle is dropped.
async fn write_batches(connection: Connection, path: PathBuf, mut queue: mpsc::Receiver<Job>) {
    let mut connection = Some(connection);
    while let Some(first) = queue.recv().await {
        let writing = match connection.as_mut() {
            Some(writing) => writing,
            None => match open_writing(&path) {
                Ok(reopened) => connection.insert(reopened),
                Err(error) => {
                    tracing::error!(%error, "the SQLite writer failed to reopen the database");
                    reject(first, format!("failed to reopen the database: {error}")).await;
                    continue;
                }
            },
        };
        if !write_batch(writing, first, &mut queue).await {
            // The connection's transaction state is unknown; the next batch reopens it.
            connection = None;
        }
    }
}

/// Runs `first` and the jobs queued behind it in one transaction, and sends their results.
/// Returns whether the connection is fit for the next batch.
async fn write_batch(
    connection: &mut Connection,
    first: Job,
    queue: &mut mpsc::Receiver<Job>,
) -> bool {
    if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(%error, "the SQLite writer failed to begin a transaction");
        reject(first, format!("failed to begin a transaction: {error}")).await;
        return false;
    }
    let mut deliveries = Vec::new();
    let mut next = Some(first);
    while let Some(job) = next.take() {
        // A panic in a job must not end the writer thread, which every later write needs.
        let ran = AssertUnwindSafe(job(Ok(&mut *connection)))
            .catch_unwind()
            .await;
        let Ok((succeeded, delivery)) = ran else {
            // The panicking job's caller already gets an error, because its result channel was
            // dropped. Its statements may have run without a savepoint, so nothing of the batch
            // is committed: dropping the connection rolls the transaction back.
            tracing::error!("a SQLite write job panicked, so the writer rolled back its batch");
            let reason = "another write in the same transaction panicked";
            deliveries
                .into_iter()
                .for_each(|deliver: Delivery| deliver(Some(reason)));
            return false;
        };
        deliveries.push(delivery);
        if succeeded && deliveries.len() < MAX_BATCH {
            next = queue.try_recv().ok();
        }
    }
    if connection.is_broken() {
        // A job's savepoint could not be rolled back, so its changes would be committed with
        // the rest. The whole batch is rolled back instead, and every caller learns it failed.
        tracing::error!("the SQLite writer rolled back a batch after a savepoint failed to end");
        let reason = "a savepoint failed to end, so the batch was rolled back";
        deliveries
            .into_iter()
            .for_each(|deliver| deliver(Some(reason)));
        return false;
    }
    match connection.execute_batch("COMMIT") {
        Ok(()) => {
            deliveries.into_iter().for_each(|deliver| deliver(None));
            true
        }
        Err(error) => {
            tracing::error!(%error, "the SQLite writer failed to commit");
            let reason = error.to_string();
            deliveries
                .into_iter()
                .for_each(|deliver| deliver(Some(&reason)));
            false
        }
    }
}

/// Fails a job that cannot run, with the reason.
async fn reject(job: Job, reason: String) {
    let (_, delivery) = job(Err(reason)).await;
    delivery(None);
}

/// How often the background thread copies the write-ahead log into the database file. SQLite's own
/// default checkpoints after 1,000 pages, which a busy server writes in well under a second.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Log size, in pages (64 MiB at SQLite's default 4 KiB), at which the writer checkpoints itself.
/// Under continuous writes the background checkpoint never reaches the end of the log, and only a
/// checkpoint that does lets the next write start the log from its beginning again. Without this
/// the log grew by 2 GB in 30 s of the wallet flow benchmark. The background thread has copied most
/// pages by then, so the writer's checkpoint has little left to copy.
const WRITER_CHECKPOINT_PAGES: u32 = 16_384;

/// Starts the thread that copies committed pages from the write-ahead log into the database file
/// on `connection`, every [`CHECKPOINT_INTERVAL`] until the returned sender is dropped. A passive
/// checkpoint takes no lock that a writer or reader waits for, and on a thread of its own it
/// takes no time from requests.
fn start_checkpoints(mut connection: Connection) -> Result<std_mpsc::Sender<()>, StoreError> {
    let (stop, stopped) = std_mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(std_mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(CHECKPOINT_INTERVAL)
            {
                if let Err(error) = connection.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::warn!(%error, "checkpointing the SQLite write-ahead log failed");
                }
            }
        })
        .map_err(|error| {
            StoreError::Writer(format!(
                "failed to start the SQLite checkpoint thread: {error}"
            ))
        })?;
    Ok(stop)
}

store_helpers!(lite, lite::Row, Connection);

store_impl!(SqliteStore, lite);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_without_file_rejected() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://data/intyg.db?mode=rwc",
        ] {
            assert!(
                matches!(file_options(url), Err(StoreError::UnsupportedUrl(_))),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn panicking_write_leaves_writer_running() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/intyg.db", dir.path().display());
        let store = SqliteStore::open(&url).await.expect("store opens");
        let secret = Secret {
            kind: "download_token".into(),
            hash: "h".into(),
            subject_id: "certificate".into(),
            expires_at: i64::MAX,
        };

        let panicked = store
            .write(|_| -> WriteFuture<'_, ()> { Box::pin(async { panic!("a job failed") }) })
            .await;
        assert!(
            matches!(panicked, Err(StoreError::Writer(_))),
            "{panicked:?}"
        );

        store.put_secret(&secret).await.expect("a later write");
        let found = store
            .find_secret("download_token", "h", 0)
            .await
            .expect("read");
        assert_eq!(found.as_deref(), Some("certificate"));
    }

    #[tokio::test]
    async fn migrations_and_store_share_encoded_path() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/with%20space/intyg.db", dir.path().display());
        let store = SqliteStore::open(&url).await.expect("store opens");
        store
            .put_secret(&Secret {
                kind: "download_token".into(),
                hash: "h".into(),
                subject_id: "certificate".into(),
                expires_at: i64::MAX,
            })
            .await
            .expect("write on the migrated database");
        assert!(dir.path().join("with space/intyg.db").exists());
        assert!(!dir.path().join("with%20space").exists());
    }
}
