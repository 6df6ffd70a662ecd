//! The channel database: one SQLite file, `channels.sqlite3` in the data directory.
//!
//! Opened with WAL (readers never wait for the writer, and a crash loses no committed upload),
//! `foreign_keys` on and a `busy_timeout` (another process holding the file waits rather than fails). The
//! schema is versioned by `PRAGMA user_version`: [`MIGRATIONS`]`[i]` takes version `i` to `i + 1`, and all
//! pending ones run in one transaction at startup; a file from a newer server is refused, never downgraded.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// The database file inside `--data`.
pub const DB_FILE: &str = "channels.sqlite3";

/// How long a statement waits for a lock held by another connection (another process on the same file)
/// before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, one step per version. Append only: a released step is never edited.
pub const MIGRATIONS: &[&str] = &[
    // 0 → 1: one row per creator. `address` is the 20 raw bytes; `sequence` ≤ 2^53 − 1 (the manifest's own
    // bound) fits SQLite's INTEGER; `manifest` is the canonical JSON served as is; `etag` is derived from it.
    "CREATE TABLE channels (
         address    BLOB    PRIMARY KEY CHECK (length(address) = 20),
         sequence   INTEGER NOT NULL CHECK (sequence >= 0),
         manifest   TEXT    NOT NULL,
         etag       TEXT    NOT NULL,
         updated_at INTEGER NOT NULL
     ) STRICT;",
];

/// Why the database cannot be opened or used; each reads as one line.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {error}")]
    CreateDir { path: String, error: std::io::Error },
    #[error("channel database {path}: {error}")]
    Open {
        path: String,
        error: rusqlite::Error,
    },
    #[error(
        "channel database {path} has schema version {found}, newer than this server knows ({known}); run a newer seedcast-signal or another --data directory"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("channel database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot start the channel database thread: {0}")]
    Thread(std::io::Error),
    #[error("the channel database thread stopped")]
    Stopped,
}

/// A stored channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sequence: u64,
    pub manifest: String,
    pub etag: String,
}

/// What a put did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; `created` when the address had no channel before.
    Stored { created: bool },
    /// The stored channel's sequence is this one, not lower: nothing was written.
    Stale { current: u64 },
}

/// One connection to the channel database. Not `Sync`: it lives on the database thread (see `super::db`).
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) `dir/channels.sqlite3` and migrates it.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir {
            path: dir.display().to_string(),
            error,
        })?;
        let path = dir.join(DB_FILE);
        let shown = path.display().to_string();
        let open_error = |error| StoreError::Open {
            path: shown.clone(),
            error,
        };
        let conn = Connection::open(&path).map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %shown, %mode, "the channel database could not switch to WAL");
        }
        Self::setup(conn, &shown)
    }

    /// A database in memory: nothing survives the process (for tests and a server run without `--data`).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Self::setup(Connection::open_in_memory()?, ":memory:")
    }

    fn setup(mut conn: Connection, shown: &str) -> Result<Store, StoreError> {
        // NORMAL is durable in WAL mode except for the last commits on a power cut (never corrupting).
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
        migrate(&mut conn, shown)?;
        Ok(Store { conn })
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    pub fn get(&self, address: &[u8; 20]) -> Result<Option<Stored>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT sequence, manifest, etag FROM channels WHERE address = ?1",
                params![&address[..]],
                |row| {
                    Ok(Stored {
                        sequence: row.get::<_, i64>(0)?.max(0) as u64,
                        manifest: row.get(1)?,
                        etag: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores `channel` for `address` if its sequence is higher than the stored one. The compare and the
    /// write are one IMMEDIATE transaction (the write lock is taken at BEGIN), so concurrent uploads, from
    /// this process or another on the same file, keep the highest sequence.
    pub fn put(
        &mut self,
        address: &[u8; 20],
        channel: &Stored,
        now_unix: i64,
    ) -> Result<PutOutcome, StoreError> {
        let sequence = i64::try_from(channel.sequence).unwrap_or(i64::MAX);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<i64> = tx
            .query_row(
                "SELECT sequence FROM channels WHERE address = ?1",
                params![&address[..]],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(current) = current
            && current >= sequence
        {
            return Ok(PutOutcome::Stale {
                current: current.max(0) as u64,
            });
        }
        tx.execute(
            "INSERT INTO channels (address, sequence, manifest, etag, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (address) DO UPDATE SET sequence = excluded.sequence, manifest = excluded.manifest,
                 etag = excluded.etag, updated_at = excluded.updated_at",
            params![
                &address[..],
                sequence,
                channel.manifest,
                channel.etag,
                now_unix
            ],
        )?;
        tx.commit()?;
        Ok(PutOutcome::Stored {
            created: current.is_none(),
        })
    }

    /// Channels stored.
    pub fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM channels", [], |row| row.get(0))?;
        Ok(n.max(0) as u64)
    }
}

/// Applies the pending [`MIGRATIONS`] in one transaction, or refuses a newer schema.
fn migrate(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > known {
        return Err(StoreError::TooNew {
            path: shown.to_owned(),
            found,
            known,
        });
    }
    for (version, step) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(step)?;
        tracing::info!(
            path = shown,
            to = version + 1,
            "migrated the channel database"
        );
    }
    // PRAGMA takes no bound parameters; `known` is our own constant.
    tx.execute_batch(&format!("PRAGMA user_version = {known}"))?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(sequence: u64) -> Stored {
        Stored {
            sequence,
            manifest: format!("{{\"sequence\":{sequence}}}"),
            etag: format!("\"{sequence}\""),
        }
    }

    #[test]
    fn keeps_only_higher_sequences() {
        let mut store = Store::open_in_memory().unwrap();
        let a = [1u8; 20];
        assert_eq!(store.get(&a).unwrap(), None);
        assert_eq!(
            store.put(&a, &channel(2), 0).unwrap(),
            PutOutcome::Stored { created: true }
        );
        assert_eq!(
            store.put(&a, &channel(2), 0).unwrap(),
            PutOutcome::Stale { current: 2 }
        );
        assert_eq!(
            store.put(&a, &channel(1), 0).unwrap(),
            PutOutcome::Stale { current: 2 }
        );
        assert_eq!(store.get(&a).unwrap(), Some(channel(2)));
        assert_eq!(
            store.put(&a, &channel(3), 0).unwrap(),
            PutOutcome::Stored { created: false }
        );
        assert_eq!(store.get(&a).unwrap(), Some(channel(3)));
        assert_eq!(store.count().unwrap(), 1);
    }
}
