//! SQLite statements run on the calling thread, behind the part of sqlx's query interface that
//! the shared store body uses (`query`, `bind`, `execute`, `fetch_*`, `begin`, `try_get`), so
//! SQLite and PostgreSQL keep one body of SQL.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement to it and
//! back. A statement takes microseconds, and the two thread switches around it cost more than
//! that: in the wallet flow benchmark they were about a fifth of the server's CPU time. Here a
//! statement runs where it is called, and the futures these functions return are ready at once.

use std::future::{ready, Ready};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::{FromSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{OpenFlags, ToSql};

/// Statements kept prepared per connection; the store runs about forty distinct ones.
const STATEMENT_CACHE: usize = 64;

/// How long a statement waits for a lock held by another connection before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection to the database file at `path` with the settings every connection of the
/// store uses. `extra_pragmas` are applied after them.
pub fn open(path: &Path, extra_pragmas: &str) -> rusqlite::Result<Connection> {
    let connection = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // NORMAL synchronous mode in WAL is durable against a process crash, because the WAL is
    // written before a transaction is reported committed. Only an operating system crash can
    // lose the last transactions.
    connection.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; {extra_pragmas}"
    ))?;
    Ok(Connection {
        inner: connection,
        savepoints: 0,
        broken: false,
    })
}

/// One SQLite connection. `begin` opens a savepoint, so it nests inside a transaction that is
/// already open, such as the writer's batch.
#[derive(Debug)]
pub struct Connection {
    inner: rusqlite::Connection,
    savepoints: usize,
    /// Whether a savepoint failed to end, so that the open transaction may contain changes of a
    /// job whose caller got an error. The transaction must then be rolled back and the connection
    /// closed.
    broken: bool,
}

impl Connection {
    /// Returns whether a savepoint failed to end, which leaves the open transaction unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Runs statements that take no parameters and return no rows.
    pub fn execute_batch(&mut self, sql: &str) -> rusqlite::Result<()> {
        self.inner.execute_batch(sql)
    }

    /// Opens a savepoint that [`Transaction::commit`] releases and that is rolled back unless
    /// it is committed.
    pub fn begin(&mut self) -> Ready<rusqlite::Result<Transaction<'_>>> {
        let name = format!("s{}", self.savepoints);
        ready(
            self.inner
                .execute_batch(&format!("SAVEPOINT {name}"))
                .map(|()| {
                    self.savepoints += 1;
                    Transaction {
                        connection: self,
                        name,
                        open: true,
                    }
                }),
        )
    }
}

/// A savepoint on a [`Connection`]; it dereferences to the connection for running statements.
#[derive(Debug)]
pub struct Transaction<'c> {
    connection: &'c mut Connection,
    name: String,
    open: bool,
}

impl Transaction<'_> {
    /// Releases the savepoint, keeping its changes in the enclosing transaction.
    pub fn commit(mut self) -> Ready<rusqlite::Result<()>> {
        ready(self.end(&format!("RELEASE {}", self.name)))
    }

    /// Undoes the changes made since the savepoint and releases it.
    pub fn rollback(mut self) -> Ready<rusqlite::Result<()>> {
        let name = &self.name;
        ready(self.end(&format!("ROLLBACK TO {name}; RELEASE {name}")))
    }

    fn end(&mut self, sql: &str) -> rusqlite::Result<()> {
        self.open = false;
        self.connection.savepoints -= 1;
        let ended = self.connection.inner.execute_batch(sql);
        if ended.is_err() {
            self.connection.broken = true;
        }
        ended
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            let name = self.name.clone();
            if let Err(error) = self.end(&format!("ROLLBACK TO {name}; RELEASE {name}")) {
                tracing::error!(%error, "rolling back an SQLite savepoint failed");
            }
        }
    }
}

impl Deref for Transaction<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.connection
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.connection
    }
}

/// Reading connections, opened when a statement needs one and none is free. A statement uses
/// its connection only while it runs, without waiting in between, so the pool grows no larger
/// than the number of threads that run statements at once.
#[derive(Debug)]
pub struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub fn new(path: &Path) -> Arc<Pool> {
        Arc::new(Pool {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        })
    }

    fn with<T>(
        &self,
        run: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        // A panic while the list was locked leaves the list itself intact.
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => open(&self.path, "")?,
        };
        let result = run(&mut connection);
        // A connection left inside a transaction would keep reading an old snapshot.
        if connection.inner.is_autocommit() && !connection.broken {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
        }
        result
    }
}

/// The connection a statement runs on: one from the pool, or a given one.
pub trait Executor {
    fn run<T>(
        self,
        run: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl Executor for &Arc<Pool> {
    fn run<T>(
        self,
        run: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.with(run)
    }
}

impl Executor for &mut Connection {
    fn run<T>(
        self,
        run: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        run(self)
    }
}

/// Starts a statement whose parameters [`Query::bind`] sets to `$1`, `$2`, ... in order.
pub fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        parameters: Vec::new(),
        unbindable: None,
    }
}

/// A statement and the parameters bound to it so far.
#[derive(Debug)]
pub struct Query<'q> {
    sql: &'q str,
    parameters: Vec<Value>,
    /// The first parameter that could not be turned into an SQLite value.
    unbindable: Option<rusqlite::Error>,
}

/// The outcome of a statement run with [`Query::execute`].
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

impl<'q> Query<'q> {
    pub fn bind<T: ToSql>(mut self, value: T) -> Self {
        let value = match value.to_sql() {
            Ok(ToSqlOutput::Borrowed(value)) => value.into(),
            Ok(ToSqlOutput::Owned(value)) => value,
            Ok(_) => {
                self.unbindable
                    .get_or_insert(rusqlite::Error::ToSqlConversionFailure(
                        format!(
                            "parameter ${} has no plain SQLite value",
                            self.parameters.len() + 1
                        )
                        .into(),
                    ));
                Value::Null
            }
            Err(error) => {
                self.unbindable.get_or_insert(error);
                Value::Null
            }
        };
        self.parameters.push(value);
        self
    }

    pub fn execute(self, executor: impl Executor) -> Ready<rusqlite::Result<Done>> {
        ready(self.run(executor, |statement, connection| {
            // Stepped to the end rather than `raw_execute`, which fails on a statement that
            // returns rows, such as `DELETE ... RETURNING` or a `PRAGMA`.
            let mut rows = statement.raw_query();
            while rows.next()?.is_some() {}
            Ok(Done {
                rows_affected: connection.changes(),
            })
        }))
    }

    pub fn fetch_optional(self, executor: impl Executor) -> Ready<rusqlite::Result<Option<Row>>> {
        ready(self.run(executor, |statement, _| {
            let names = column_names(statement);
            let mut rows = statement.raw_query();
            rows.next()?.map(|row| read_row(row, &names)).transpose()
        }))
    }

    pub fn fetch_one(self, executor: impl Executor) -> Ready<rusqlite::Result<Row>> {
        ready(
            self.fetch_optional(executor)
                .into_inner()
                .and_then(|row| row.ok_or(rusqlite::Error::QueryReturnedNoRows)),
        )
    }

    pub fn fetch_all(self, executor: impl Executor) -> Ready<rusqlite::Result<Vec<Row>>> {
        ready(self.run(executor, |statement, _| {
            let names = column_names(statement);
            let mut rows = statement.raw_query();
            let mut all = Vec::new();
            while let Some(row) = rows.next()? {
                all.push(read_row(row, &names)?);
            }
            Ok(all)
        }))
    }

    /// Prepares the statement (or takes it from the connection's cache), binds the parameters
    /// by name, and runs `step` on it.
    fn run<T>(
        self,
        executor: impl Executor,
        step: impl FnOnce(
            &mut rusqlite::CachedStatement<'_>,
            &rusqlite::Connection,
        ) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        if let Some(error) = self.unbindable {
            return Err(error);
        }
        executor.run(|connection| {
            let mut statement = connection.inner.prepare_cached(self.sql)?;
            for index in 1..=statement.parameter_count() {
                // By the number in its name, because a statement may use `$2` before `$1`.
                let name = statement.parameter_name(index).unwrap_or_default();
                let value = name
                    .strip_prefix('$')
                    .and_then(|number| number.parse::<usize>().ok())
                    .and_then(|number| self.parameters.get(number.checked_sub(1)?))
                    .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_owned()))?;
                statement.raw_bind_parameter(index, value)?;
            }
            step(&mut statement, &connection.inner)
        })
    }
}

fn column_names(statement: &rusqlite::Statement<'_>) -> Arc<[String]> {
    statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn read_row(row: &rusqlite::Row<'_>, names: &Arc<[String]>) -> rusqlite::Result<Row> {
    let values = (0..names.len())
        .map(|index| row.get::<_, Value>(index))
        .collect::<rusqlite::Result<_>>()?;
    Ok(Row {
        names: Arc::clone(names),
        values,
    })
}

/// A row read from a statement, with its columns by name.
#[derive(Debug, Clone)]
pub struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub fn try_get<T: FromSql>(&self, name: &str) -> rusqlite::Result<T> {
        let index = self
            .names
            .iter()
            .position(|column| column == name)
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_owned()))?;
        T::column_result(ValueRef::from(&self.values[index])).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                self.values[index].data_type(),
                format!("column {name}: {error}").into(),
            )
        })
    }
}

/// Returns the message of a unique constraint violation, which names the table's columns, or
/// `None` for any other error.
pub fn unique_violation(error: &rusqlite::Error) -> Option<&str> {
    match error {
        rusqlite::Error::SqliteFailure(failure, message)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            Some(message.as_deref().unwrap_or_default())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut connection = open(&dir.path().join("test.db"), "").expect("database opens");
        connection
            .execute_batch("CREATE TABLE items (id TEXT PRIMARY KEY, size INTEGER, body BLOB)")
            .expect("table created");
        (dir, connection)
    }

    fn count(connection: &mut Connection) -> i64 {
        query("SELECT COUNT(*) AS n FROM items")
            .fetch_one(connection)
            .into_inner()
            .and_then(|row| row.try_get("n"))
            .expect("count")
    }

    #[test]
    fn parameters_bind_by_number() {
        let (_dir, mut connection) = database();
        let done = query("INSERT INTO items (size, id) VALUES ($2, $1)")
            .bind("a")
            .bind(7_i64)
            .execute(&mut connection)
            .into_inner()
            .expect("insert");
        assert_eq!(done.rows_affected(), 1);

        let row = query("SELECT id, size, body FROM items WHERE id = $1")
            .bind("a")
            .fetch_one(&mut connection)
            .into_inner()
            .expect("row");
        assert_eq!(row.try_get::<String>("id").expect("id"), "a");
        assert_eq!(row.try_get::<i64>("size").expect("size"), 7);
        assert_eq!(row.try_get::<Option<Vec<u8>>>("body").expect("body"), None);
        assert!(row.try_get::<i64>("missing").is_err());
        assert!(row.try_get::<i64>("id").is_err());
    }

    #[test]
    fn execute_counts_rows_of_returning_statement() {
        let (_dir, mut connection) = database();
        for id in ["a", "b"] {
            query("INSERT INTO items (id, size) VALUES ($1, 1)")
                .bind(id)
                .execute(&mut connection)
                .into_inner()
                .expect("insert");
        }
        let done = query("DELETE FROM items WHERE size = $1 RETURNING id")
            .bind(1_i64)
            .execute(&mut connection)
            .into_inner()
            .expect("delete");
        assert_eq!(done.rows_affected(), 2);
        assert_eq!(count(&mut connection), 0);
    }

    #[test]
    fn dropped_savepoint_rolls_back() {
        let (_dir, mut connection) = database();
        {
            let mut transaction = connection.begin().into_inner().expect("savepoint");
            query("INSERT INTO items (id) VALUES ('kept')")
                .execute(&mut *transaction)
                .into_inner()
                .expect("insert");
            let mut nested = transaction.begin().into_inner().expect("nested savepoint");
            query("INSERT INTO items (id) VALUES ('dropped')")
                .execute(&mut *nested)
                .into_inner()
                .expect("insert");
            drop(nested);
            transaction.commit().into_inner().expect("release");
        }
        assert_eq!(count(&mut connection), 1);

        {
            let mut transaction = connection.begin().into_inner().expect("savepoint");
            query("INSERT INTO items (id) VALUES ('dropped')")
                .execute(&mut *transaction)
                .into_inner()
                .expect("insert");
            transaction.rollback().into_inner().expect("rollback");
        }
        assert_eq!(count(&mut connection), 1);
    }

    #[test]
    fn duplicate_key_is_unique_violation() {
        let (_dir, mut connection) = database();
        let insert = |connection: &mut Connection| {
            query("INSERT INTO items (id) VALUES ('a')")
                .execute(connection)
                .into_inner()
        };
        insert(&mut connection).expect("first insert");
        let error = insert(&mut connection).expect_err("second insert fails");
        let message = unique_violation(&error).expect("a unique violation");
        assert!(message.contains("items.id"), "{message}");

        let other = query("INSERT INTO nowhere (id) VALUES ('a')")
            .execute(&mut connection)
            .into_inner()
            .expect_err("no such table");
        assert!(unique_violation(&other).is_none());
    }

    #[test]
    fn pool_reads_committed_writes() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("test.db");
        let mut writer = open(&path, "").expect("database opens");
        writer
            .execute_batch(
                "CREATE TABLE items (id TEXT PRIMARY KEY); INSERT INTO items VALUES ('a')",
            )
            .expect("table filled");
        let pool = Pool::new(&path);
        let ids = query("SELECT id FROM items")
            .fetch_all(&pool)
            .into_inner()
            .expect("read");
        assert_eq!(ids.len(), 1);

        writer
            .execute_batch("INSERT INTO items VALUES ('b')")
            .expect("insert");
        let ids = query("SELECT id FROM items ORDER BY id")
            .fetch_all(&pool)
            .into_inner()
            .expect("read");
        let ids: Vec<String> = ids
            .iter()
            .map(|row| row.try_get("id").expect("id"))
            .collect();
        assert_eq!(ids, ["a", "b"]);
    }
}
