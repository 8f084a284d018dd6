//! The SQLite file: schema, migrations, writes and pruning. Only this file knows SQL.
//!
//! The schema is versioned with `PRAGMA user_version`: [`MIGRATIONS`] lists every step from an
//! empty file, and opening a file applies the steps it lacks in one transaction, so an older file
//! upgrades in place and a crash mid-upgrade leaves it as it was. A file written by a newer citebot
//! is refused rather than guessed at.
//!
//! Times are whole seconds since the Unix epoch (UTC). Guild and channel ids are kept as text (a
//! Discord id does not always fit SQLite's signed integer); user ids are never here, only their
//! pseudonyms (see [`super::key`]).

use super::RecordsError;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The schema steps, in order: step `n` takes a file from version `n` to `n + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: declined questions and votes.
    "CREATE TABLE declines (
        id          INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        question    TEXT    NOT NULL,
        guild_id    TEXT,
        channel_id  TEXT,
        entry_point TEXT    NOT NULL,
        user_hash   TEXT
    );
    CREATE TABLE votes (
        id             INTEGER PRIMARY KEY,
        at             INTEGER NOT NULL,
        passage_id     TEXT    NOT NULL,
        corpus_version TEXT    NOT NULL,
        question       TEXT,
        helpful        INTEGER NOT NULL,
        user_hash      TEXT
    );",
    // 2: answers counted (no question text, no user), and indexes for pruning and the report.
    "CREATE TABLE answers (
        id             INTEGER PRIMARY KEY,
        at             INTEGER NOT NULL,
        entry_point    TEXT    NOT NULL,
        guild_id       TEXT,
        passage_id     TEXT,
        corpus_version TEXT
    );
    CREATE INDEX declines_at ON declines (at);
    CREATE INDEX votes_at ON votes (at);
    CREATE INDEX votes_passage ON votes (passage_id);
    CREATE INDEX answers_at ON answers (at);",
];

/// The schema version this citebot writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long a write waits for a reader (such as `citebot report`) to let go of the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One row to write, with its time. User ids are already pseudonyms here.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Seconds since the Unix epoch.
    pub at: i64,
    /// What happened.
    pub kind: RowKind,
}

/// What a row records.
#[derive(Debug, Clone, PartialEq)]
pub enum RowKind {
    /// A question the bot declined.
    Decline {
        /// The question as asked (bounded in length).
        question: String,
        /// The guild, if any.
        guild_id: Option<u64>,
        /// The channel, if any.
        channel_id: Option<u64>,
        /// Where it was asked (`slash`, `mention`, `dm`, `http`, …).
        entry_point: String,
        /// The asker's pseudonym.
        user_hash: Option<String>,
    },
    /// A 👍 or 👎 on a quoted passage.
    Vote {
        /// The passage judged.
        passage_id: String,
        /// The corpus version it was quoted from.
        corpus_version: String,
        /// The question it answered, when known.
        question: Option<String>,
        /// 👍 (true) or 👎 (false).
        helpful: bool,
        /// The voter's pseudonym.
        user_hash: Option<String>,
    },
    /// A question the bot answered (counted, not kept).
    Answer {
        /// Where it was asked.
        entry_point: String,
        /// The guild, if any.
        guild_id: Option<u64>,
        /// The passage quoted.
        passage_id: Option<String>,
        /// The corpus version quoted from.
        corpus_version: Option<String>,
    },
}

/// Where rows go: the database, or in tests a stand-in that fails or stalls on purpose.
/// Called from the one writer thread only.
pub trait Store: Send + 'static {
    /// Writes `rows`, all or none.
    fn insert(&mut self, rows: &[Row]) -> Result<(), RecordsError>;
    /// Deletes rows older than `before` (seconds since the epoch); returns how many went.
    fn prune(&mut self, before: i64) -> Result<usize, RecordsError>;
}

/// An open records database.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
}

impl Database {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Database, RecordsError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| RecordsError::Io {
                action: "could not create the data directory",
                path: parent.to_path_buf(),
                source: e,
            })?;
        }
        let conn = Connection::open(path).map_err(sql(path))?;
        let mut db = Database { conn, path: path.to_path_buf() };
        db.conn.busy_timeout(BUSY_TIMEOUT).map_err(sql(path))?;
        db.migrate()?;
        Ok(db)
    }

    /// Opens an existing database only (for `citebot report`, which must not create one).
    pub fn open_existing(path: &Path) -> Result<Database, RecordsError> {
        if !path.is_file() {
            return Err(RecordsError::NoRecords(path.to_path_buf()));
        }
        Self::open(path)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file.
    pub fn version(&self) -> Result<u32, RecordsError> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sql(&self.path))
    }

    fn migrate(&mut self) -> Result<(), RecordsError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sql(&path))?;
        let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sql(&path))?;
        let found = u32::try_from(found).unwrap_or(u32::MAX);
        if found > SCHEMA_VERSION {
            return Err(RecordsError::NewerSchema { path, found, known: SCHEMA_VERSION });
        }
        for (step, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(migration).map_err(sql(&path))?;
            tx.pragma_update(None, "user_version", step as i64 + 1).map_err(sql(&path))?;
        }
        tx.commit().map_err(sql(&path))?;
        if found < SCHEMA_VERSION {
            tracing::info!(path = %path.display(), from = found, to = SCHEMA_VERSION, "records database migrated");
        }
        Ok(())
    }

    /// Runs a read-only query and collects its rows (for the report).
    pub(crate) fn query<T>(
        &self,
        sql_text: &str,
        params: impl rusqlite::Params,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, RecordsError> {
        let mut stmt = self.conn.prepare(sql_text).map_err(sql(&self.path))?;
        let rows = stmt.query_map(params, map).map_err(sql(&self.path))?;
        rows.collect::<Result<Vec<T>, _>>().map_err(sql(&self.path))
    }

    /// The time of the oldest row, if any.
    pub fn oldest(&self) -> Result<Option<i64>, RecordsError> {
        self.conn
            .query_row(
                "SELECT min(at) FROM (SELECT min(at) AS at FROM declines UNION ALL SELECT min(at) FROM votes UNION ALL SELECT min(at) FROM answers)",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(sql(&self.path))
    }
}

impl Store for Database {
    fn insert(&mut self, rows: &[Row]) -> Result<(), RecordsError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sql(&path))?;
        for row in rows {
            let id = |v: Option<u64>| v.map(|v| v.to_string());
            let result = match &row.kind {
                RowKind::Decline { question, guild_id, channel_id, entry_point, user_hash } => tx.execute(
                    "INSERT INTO declines (at, question, guild_id, channel_id, entry_point, user_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![row.at, question, id(*guild_id), id(*channel_id), entry_point, user_hash],
                ),
                RowKind::Vote { passage_id, corpus_version, question, helpful, user_hash } => tx.execute(
                    "INSERT INTO votes (at, passage_id, corpus_version, question, helpful, user_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![row.at, passage_id, corpus_version, question, helpful, user_hash],
                ),
                RowKind::Answer { entry_point, guild_id, passage_id, corpus_version } => tx.execute(
                    "INSERT INTO answers (at, entry_point, guild_id, passage_id, corpus_version) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![row.at, entry_point, id(*guild_id), passage_id, corpus_version],
                ),
            };
            result.map_err(sql(&path))?;
        }
        tx.commit().map_err(sql(&path))
    }

    fn prune(&mut self, before: i64) -> Result<usize, RecordsError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sql(&path))?;
        let mut removed = 0;
        for table in ["declines", "votes", "answers"] {
            removed +=
                tx.execute(&format!("DELETE FROM {table} WHERE at < ?1"), [before]).map_err(sql(&path))?;
        }
        tx.commit().map_err(sql(&path))?;
        Ok(removed)
    }
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> RecordsError + use<> {
    let path = path.to_path_buf();
    move |source| RecordsError::Sql { path: path.clone(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decline(at: i64, q: &str) -> Row {
        Row {
            at,
            kind: RowKind::Decline {
                question: q.into(),
                guild_id: Some(u64::MAX),
                channel_id: None,
                entry_point: "slash".into(),
                user_hash: None,
            },
        }
    }

    #[test]
    fn prune_keeps_recent_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(&dir.path().join("r.db")).unwrap();
        db.insert(&[decline(100, "old"), decline(200, "new")]).unwrap();
        assert_eq!(db.prune(150).unwrap(), 1);
        assert_eq!(db.oldest().unwrap(), Some(200));
        let ids: Vec<String> = db.query("SELECT guild_id FROM declines", [], |r| r.get(0)).unwrap();
        assert_eq!(ids, vec![u64::MAX.to_string()]);
    }

    #[test]
    fn a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let e = Database::open(&path).unwrap_err();
        assert!(matches!(e, RecordsError::NewerSchema { found: 99, .. }), "{e}");
    }
}
