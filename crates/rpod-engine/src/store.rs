//! The state database: SQLite in WAL mode, shared by every rpod process. Every change is one
//! transaction: a single statement commits on its own; a change of several statements takes
//! the write lock up front (`BEGIN IMMEDIATE`), so that concurrent processes queue on the busy
//! timeout instead of failing on a lock upgrade.
//!
//! Durability: commits are not synced (`synchronous=NORMAL`, which WAL mode keeps consistent);
//! a store that wrote anything durable checkpoints the WAL into the database (syncing both)
//! when it is dropped, even while other processes have the database open. An exec session's
//! row is not durable (the session dies with its container, which a host crash stops): a
//! store that wrote only such rows leaves the WAL as it is for the next process, which spares
//! `rpod exec` the four syncs of a checkpoint and a new WAL, as long as the WAL stays small
//! (the next process to open the database reads all of it). Nor are the rows of a container
//! removed at its exit (`--rm`, not checkpointed): a host crash ends it, and the first rpod
//! process after the reboot removes what is left of such containers, and the directories
//! of containers whose record a crash took (`Engine::clear_previous_boot`). Nor are network
//! leases, which the first process after a reboot drops. So `run --rm` does not sync at all.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use crate::container::{ContainerConfig, ContainerRecord, ContainerState, ExecSession, Status};
use crate::image::ImageRecord;
use crate::{EngineError, Result};

/// The recorded volume path (`Store::settle_volume_path`).
const READ_VOLUME_PATH: &str = "SELECT value FROM meta WHERE key = 'volume_path'";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS containers (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    config  TEXT NOT NULL,
    state   TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS exit_codes (
    id       TEXT PRIMARY KEY,
    code     INTEGER NOT NULL,
    recorded TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    id     TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS image_names (
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS exec_sessions (
    id           TEXT PRIMARY KEY,
    container_id TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS exec_sessions_by_container ON exec_sessions (container_id);
CREATE TABLE IF NOT EXISTS exec_exit_codes (
    id           TEXT PRIMARY KEY,
    container_id TEXT NOT NULL,
    code         INTEGER,
    recorded     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS volumes (
    name   TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS network_leases (
    network   TEXT NOT NULL,
    address   TEXT NOT NULL,
    container TEXT NOT NULL,
    PRIMARY KEY (network, address)
);
CREATE INDEX IF NOT EXISTS network_leases_by_container ON network_leases (container);
CREATE TABLE IF NOT EXISTS pods (
    id     TEXT PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS manifest_lists (
    name   TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS build_cache (
    key      TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS build_cache_by_image ON build_cache (image_id);
";

/// Bumped whenever SCHEMA changes; the schema is (re)applied when the database is older.
const SCHEMA_VERSION: i64 = 8;

/// How long a process waits for another one's write transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// How many idle connections the pool keeps.
const POOL_IDLE: usize = 8;

/// How long the exit code of a container that is gone stays known (to `wait`, which may
/// come after a `--rm` container's removal); podman keeps them as long.
const EXIT_CODES_KEPT: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Whether a write must survive a host crash (see the module's notes on durability).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Synced before the process ends (the store checkpoints when dropped).
    Durable,
    /// Left in the WAL for a later checkpoint: lost in a host crash, which nothing minds.
    Ephemeral,
}

impl Durability {
    /// A container removed at its exit (`--rm`) has nothing a host crash should keep, as
    /// the crash ends it; unless it is checkpointed, which waits for its restore.
    pub fn of(record: &ContainerRecord) -> Self {
        if record.config.auto_remove && !record.state.checkpointed {
            Durability::Ephemeral
        } else {
            Durability::Durable
        }
    }
}

/// Up to this size a store without durable writes leaves the WAL unchanged at its close;
/// the next process to open the database reads the whole WAL (about 125 pages here).
const UNCHECKPOINTED_WAL_LIMIT: u64 = 512 * 1024;

/// The state database. Every method takes `&self`: each call borrows a connection from a
/// small pool (opening another when all are busy), so many threads can use one store, and
/// SQLite's own locking (WAL, busy timeout) orders their writes.
pub struct Store {
    pool: Mutex<Vec<Connection>>,
    path: PathBuf,
    read_only: bool,
    /// Set by every write except an exec session's: the store checkpoints when dropped.
    durable_writes: AtomicBool,
}

/// A connection borrowed from the pool, given back when dropped.
struct Pooled<'a> {
    store: &'a Store,
    conn: Option<Connection>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a pooled connection is present until dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("a pooled connection is present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.store.pool.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < POOL_IDLE {
                idle.push(conn);
            }
        }
    }
}

fn connect(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    if read_only {
        let uri = format!("file:{}?immutable=1", path.display());
        return Connection::open_with_flags(
            uri,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_URI
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        );
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        let db_err = |source| EngineError::Db {
            path: path.to_path_buf(),
            source,
        };
        let conn = connect(path, false).map_err(db_err)?;
        // Switching to WAL needs a moment of exclusive access; the busy timeout covers
        // concurrent first openings. The mode is stored in the file, so later connections
        // get it too.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(db_err)?;
        let schema_applied = version < SCHEMA_VERSION;
        if schema_applied {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(db_err)?;
        }
        Ok(Store {
            pool: Mutex::new(vec![conn]),
            path: path.to_path_buf(),
            read_only: false,
            durable_writes: AtomicBool::new(schema_applied),
        })
    }

    /// Open a store on a read-only file system: no schema change, no WAL (which needs
    /// files next to the database), no locking (nothing can change it).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let conn = connect(path, true).map_err(|source| EngineError::Db {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Store {
            pool: Mutex::new(vec![conn]),
            path: path.to_path_buf(),
            read_only: true,
            durable_writes: AtomicBool::new(false),
        })
    }

    /// A connection for one operation.
    fn conn(&self) -> Result<Pooled<'_>> {
        let idle = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect(&self.path, self.read_only).map_err(|e| self.err(e))?,
        };
        Ok(Pooled {
            store: self,
            conn: Some(conn),
        })
    }

    fn err(&self, source: rusqlite::Error) -> EngineError {
        EngineError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// One statement, committed on its own (SQLite's autocommit takes the write lock for
    /// exactly that statement, queuing on the busy timeout).
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        self.execute_with(Durability::Durable, sql, params)
    }

    /// `execute`, durable or not.
    fn execute_with(
        &self,
        durability: Durability,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<usize> {
        if durability == Durability::Durable {
            self.durable_writes.store(true, Ordering::Relaxed);
        }
        self.conn()?
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(|e| self.err(e))
    }

    /// The first column of every row, as text.
    fn strings(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<String>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, |row| row.get::<_, String>(0))
            .map_err(|e| self.err(e))?
            .collect::<std::result::Result<Vec<String>, _>>()
            .map_err(|e| self.err(e));
        rows
    }

    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        self.write_with(Durability::Durable, f)
    }

    /// `write`, durable or not.
    fn write_with<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let db_err = |source| EngineError::Db {
            path: path.clone(),
            source,
        };
        if durability == Durability::Durable {
            self.durable_writes.store(true, Ordering::Relaxed);
        }
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let value = f(&tx)?;
        tx.commit().map_err(db_err)?;
        Ok(value)
    }

    // ----- containers -----

    pub fn insert_container(&self, record: &ContainerRecord) -> Result<()> {
        let config = to_json(&record.config)?;
        let state = to_json(&record.state)?;
        let created = record.config.created.to_rfc3339();
        let path = self.path.clone();
        self.write_with(Durability::of(record), |tx| {
            name_free(tx, &path, &record.config.name, record.id())?;
            tx.execute(
                "INSERT INTO containers (id, name, config, state, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![record.config.id, record.config.name, config, state, created],
            )
            .map_err(|source| match source.sqlite_error_code() {
                Some(ErrorCode::ConstraintViolation) => EngineError::NameInUse {
                    name: record.config.name.clone(),
                    id: String::new(),
                },
                _ => EngineError::Db {
                    path: path.clone(),
                    source,
                },
            })?;
            Ok(())
        })
    }

    fn row_to_record(config: String, state: String) -> Result<ContainerRecord> {
        Ok(ContainerRecord {
            config: from_json::<ContainerConfig>(&config)?,
            state: from_json::<ContainerState>(&state)?,
        })
    }

    pub fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        let row = self
            .conn()?
            .prepare_cached("SELECT config, state FROM containers WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([id], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
            })
            .optional()
            .map_err(|e| self.err(e))?;
        row.map(|(c, s)| Self::row_to_record(c, s)).transpose()
    }

    /// Find a container by full id, name, or unique id prefix.
    pub fn lookup_container(&self, name_or_id: &str) -> Result<ContainerRecord> {
        let not_found = || EngineError::NoSuchContainer(name_or_id.to_string());
        if name_or_id.is_empty() {
            return Err(not_found());
        }
        let exact: Option<(String, String)> = self
            .conn()?
            .prepare_cached(
                "SELECT config, state FROM containers WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([name_or_id], |row| Ok((row.get(0)?, row.get(1)?)))
            })
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some((c, s)) = exact {
            return Self::row_to_record(c, s);
        }
        if !name_or_id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT config, state FROM containers WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2",
            )
            .map_err(|e| self.err(e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([name_or_id.to_ascii_lowercase()], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(|e| self.err(e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))?;
        match rows.len() {
            0 => Err(not_found()),
            1 => {
                let (c, s) = rows.into_iter().next().ok_or_else(not_found)?;
                Self::row_to_record(c, s)
            }
            _ => Err(EngineError::InvalidArg(format!(
                "more than one result for container ID {name_or_id}: ambiguous ID"
            ))),
        }
    }

    /// Every container's ID.
    pub fn container_ids(&self) -> Result<std::collections::HashSet<String>> {
        self.strings("SELECT id FROM containers", [])
            .map(|ids| ids.into_iter().collect())
    }

    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT config, state FROM containers ORDER BY created")
            .map_err(|e| self.err(e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(c, s)| Self::row_to_record(c, s))
            .collect()
    }

    /// The containers with a Docker link to the container `id`. SQLite picks the rows
    /// whose configuration has links and names `id` (a text search, so no row is parsed
    /// for nothing); the links themselves are checked after.
    pub fn containers_linking_to(&self, id: &str) -> Result<Vec<ContainerRecord>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT config, state FROM containers \
                 WHERE instr(config, '\"links\"') > 0 AND instr(config, ?1) > 0",
            )
            .map_err(|e| self.err(e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let mut linking = Vec::new();
        for (config, state) in rows {
            let record = Self::row_to_record(config, state)?;
            if record.id() != id && record.config.net.links.iter().any(|l| l.container == id) {
                linking.push(record);
            }
        }
        Ok(linking)
    }

    /// Save a container's state. Returns false when the container no longer exists.
    pub fn save_state(&self, record: &ContainerRecord) -> Result<bool> {
        let json = to_json(&record.state)?;
        let changed = self.execute_with(
            Durability::of(record),
            "UPDATE containers SET state = ?2 WHERE id = ?1",
            params![record.id(), json],
        )?;
        Ok(changed > 0)
    }

    /// Give a container another name (its configuration holds the name too).
    pub fn rename_container(&self, config: &crate::container::ContainerConfig) -> Result<()> {
        let json = to_json(config)?;
        let path = self.path.clone();
        self.write(|tx| {
            name_free(tx, &path, &config.name, &config.id)?;
            tx.execute(
                "UPDATE containers SET name = ?2, config = ?3 WHERE id = ?1",
                params![config.id, config.name, json],
            )
            .map_err(|source| EngineError::Db {
                path: path.clone(),
                source,
            })?;
            Ok(())
        })
    }

    /// Replace a container's configuration (networks connected or disconnected later).
    pub fn save_config(&self, config: &crate::container::ContainerConfig) -> Result<bool> {
        let json = to_json(config)?;
        let changed = self.execute(
            "UPDATE containers SET config = ?2 WHERE id = ?1",
            params![config.id, json],
        )?;
        Ok(changed > 0)
    }

    /// Record a container's exit code (kept after the container is removed, for `wait`).
    pub fn save_exit_code(&self, record: &ContainerRecord, code: i32) -> Result<()> {
        let now = chrono::Utc::now().to_rfc3339();
        self.execute_with(
            Durability::of(record),
            "INSERT OR REPLACE INTO exit_codes (id, code, recorded) VALUES (?1, ?2, ?3)",
            params![record.id(), code, now],
        )
        .map(drop)
    }

    pub fn exit_code(&self, id: &str) -> Result<Option<i32>> {
        self.conn()?
            .prepare_cached("SELECT code FROM exit_codes WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row([id], |row| row.get(0)))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Remove a container's record. Its addresses are released by its network teardown,
    /// which may finish later. Exit codes of containers gone for a while are forgotten
    /// here too (no daemon does it): each exit records one, and they would pile up.
    pub fn remove_container(&self, record: &ContainerRecord) -> Result<()> {
        let id = record.id();
        let forget_before = (chrono::Utc::now() - EXIT_CODES_KEPT).to_rfc3339();
        self.write_with(Durability::of(record), |tx| {
            tx.prepare_cached("DELETE FROM containers WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute([id]))
                .map_err(|e| self.err(e))?;
            // Its sessions' codes go with it: an exec is known only while its container is.
            tx.prepare_cached("DELETE FROM exec_exit_codes WHERE container_id = ?1")
                .and_then(|mut stmt| stmt.execute([id]))
                .map_err(|e| self.err(e))?;
            // `recorded` is RFC 3339 in UTC, whose text sorts as its time does.
            tx.prepare_cached(
                "DELETE FROM exit_codes WHERE recorded < ?1 \
                 AND id NOT IN (SELECT id FROM containers)",
            )
            .and_then(|mut stmt| stmt.execute([forget_before]))
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    /// After a reboot nothing of the old containers runs: mark every container that was
    /// active as exited (never-started ones go back to configured). Done once per boot: the
    /// recorded boot id is checked and replaced in the same transaction. Returns the
    /// containers that were reset, or `None` when the boot is the recorded one, another
    /// process reconciled it, or no boot was recorded yet.
    pub fn reconcile_boot(&self, boot_id: &str) -> Result<Option<Vec<ContainerRecord>>> {
        // Nearly always the boot is the recorded one: check that without taking the write
        // lock, which every rpod process would otherwise queue on.
        let recorded: Option<String> = self
            .conn()?
            .query_row("SELECT value FROM meta WHERE key = 'boot_id'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        if recorded.as_deref() == Some(boot_id) {
            return Ok(None);
        }
        let path = self.path.clone();
        let db = |source| EngineError::Db {
            path: path.clone(),
            source,
        };
        self.write(|tx| {
            let recorded: Option<String> = tx
                .query_row("SELECT value FROM meta WHERE key = 'boot_id'", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db)?;
            if recorded.as_deref() == Some(boot_id) {
                return Ok(None);
            }
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('boot_id', ?1)",
                [boot_id],
            )
            .map_err(db)?;
            if recorded.is_none() {
                // A new store: no previous boot to clear.
                return Ok(None);
            }
            // No network namespace survives a reboot, so neither does any address lease.
            tx.execute("DELETE FROM network_leases", []).map_err(db)?;
            let rows: Vec<(String, String, String)> = {
                let mut stmt = tx
                    .prepare("SELECT id, config, state FROM containers")
                    .map_err(db)?;
                let rows = stmt
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .map_err(db)?
                    .collect::<std::result::Result<_, _>>()
                    .map_err(db)?;
                rows
            };
            let mut reset = Vec::new();
            for (id, config_json, state_json) in rows {
                let mut state: ContainerState = from_json(&state_json)?;
                let was = state.status;
                state.status = match was {
                    Status::Created => Status::Configured,
                    Status::Running | Status::Paused | Status::Stopping | Status::Stopped => {
                        Status::Exited
                    }
                    other => other,
                };
                state.mounted = false;
                if state.status == was && state.pid == 0 && state.conmon_pid == 0 {
                    continue;
                }
                if was.is_active() && was != Status::Created {
                    state.exit_code = Some(state.exit_code.unwrap_or(-1));
                    state.finished_at = Some(chrono::Utc::now());
                    state.error = "the system rebooted while the container was running".into();
                }
                state.pid = 0;
                state.conmon_pid = 0;
                tx.execute(
                    "UPDATE containers SET state = ?2 WHERE id = ?1",
                    params![id, to_json(&state)?],
                )
                .map_err(db)?;
                reset.push(ContainerRecord {
                    config: from_json(&config_json)?,
                    state,
                });
            }
            Ok(Some(reset))
        })
    }

    // ----- exec sessions -----

    pub fn save_exec_session(&self, session: &ExecSession) -> Result<()> {
        let json = to_json(session)?;
        self.execute_with(
            Durability::Ephemeral,
            "INSERT OR REPLACE INTO exec_sessions (id, container_id, record) VALUES (?1, ?2, ?3)",
            params![session.id, session.container_id, json],
        )
        .map(drop)
    }

    pub fn exec_session(&self, id: &str) -> Result<Option<ExecSession>> {
        let json: Option<String> = self
            .conn()?
            .query_row(
                "SELECT record FROM exec_sessions WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        json.map(|j| from_json(&j)).transpose()
    }

    pub fn exec_sessions_of(&self, container_id: &str) -> Result<Vec<ExecSession>> {
        self.strings(
            "SELECT record FROM exec_sessions WHERE container_id = ?1 ORDER BY rowid",
            [container_id],
        )?
        .iter()
        .map(|j| from_json(j))
        .collect()
    }

    /// The end of session `id`: its row removed and its exit code (none when its monitor
    /// recorded none) kept for a while, as a container's (the REST service's exec inspect
    /// reports it after the session is gone, as Docker's and podman's do); whether the
    /// session was still there (its end is recorded once). Codes older than that are
    /// forgotten here.
    pub fn end_exec_session(
        &self,
        id: &str,
        container_id: &str,
        code: Option<i32>,
    ) -> Result<bool> {
        let now = chrono::Utc::now();
        let forget_before = (now - EXIT_CODES_KEPT).to_rfc3339();
        self.write_with(Durability::Ephemeral, |tx| {
            let ended = tx
                .prepare_cached("DELETE FROM exec_sessions WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute([id]))
                .map_err(|e| self.err(e))?
                > 0;
            if ended {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO exec_exit_codes (id, container_id, code, recorded) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![id, container_id, code, now.to_rfc3339()])
                })
                .map_err(|e| self.err(e))?;
            }
            tx.prepare_cached("DELETE FROM exec_exit_codes WHERE recorded < ?1")
                .and_then(|mut stmt| stmt.execute([forget_before]))
                .map_err(|e| self.err(e))?;
            Ok(ended)
        })
    }

    /// The exit code kept for ended session `id`: `None` when none is kept, `Some(None)`
    /// when it ended without one.
    pub fn exec_exit_code(&self, id: &str) -> Result<Option<Option<i32>>> {
        self.conn()?
            .prepare_cached("SELECT code FROM exec_exit_codes WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row([id], |row| row.get(0)))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Remove one session, or every session of a container with `container_id`; how many
    /// there were.
    pub fn remove_exec_sessions(&self, id: Option<&str>, container_id: &str) -> Result<usize> {
        match id {
            Some(id) => self.execute_with(
                Durability::Ephemeral,
                "DELETE FROM exec_sessions WHERE id = ?1",
                [id],
            ),
            None => self.execute_with(
                Durability::Ephemeral,
                "DELETE FROM exec_sessions WHERE container_id = ?1",
                [container_id],
            ),
        }
    }

    // ----- volumes -----

    /// Record a new volume; `false` when one of that name exists.
    pub fn insert_volume(&self, volume: &crate::volumes::VolumeRecord) -> Result<bool> {
        let json = to_json(volume)?;
        self.execute(
            "INSERT OR IGNORE INTO volumes (name, record) VALUES (?1, ?2)",
            params![volume.name, json],
        )
        .map(|n| n == 1)
    }

    /// Replace a volume's record (its copy-up done).
    pub fn save_volume(&self, volume: &crate::volumes::VolumeRecord) -> Result<()> {
        let json = to_json(volume)?;
        self.execute(
            "UPDATE volumes SET record = ?2 WHERE name = ?1",
            params![volume.name, json],
        )
        .map(drop)
    }

    // ----- manifest lists -----

    /// Record a manifest list, new or changed.
    pub fn save_manifest_list(
        &self,
        list: &crate::image::manifest_list::ManifestList,
    ) -> Result<()> {
        let json = to_json(list)?;
        self.execute(
            "INSERT OR REPLACE INTO manifest_lists (name, record) VALUES (?1, ?2)",
            params![list.name, json],
        )
        .map(drop)
    }

    pub fn manifest_list(
        &self,
        name: &str,
    ) -> Result<Option<crate::image::manifest_list::ManifestList>> {
        let json: Option<String> = self
            .conn()?
            .query_row(
                "SELECT record FROM manifest_lists WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        json.map(|j| from_json(&j)).transpose()
    }

    pub fn manifest_lists(&self) -> Result<Vec<crate::image::manifest_list::ManifestList>> {
        self.strings("SELECT record FROM manifest_lists ORDER BY name", [])?
            .iter()
            .map(|j| from_json(j))
            .collect()
    }

    pub fn remove_manifest_list(&self, name: &str) -> Result<()> {
        self.execute("DELETE FROM manifest_lists WHERE name = ?1", [name])
            .map(drop)
    }

    // ----- pods -----

    /// Record a new pod; its name must be free among pods.
    pub fn insert_pod(&self, pod: &crate::pods::PodRecord) -> Result<()> {
        let json = to_json(pod)?;
        let path = self.path.clone();
        self.write_with(Durability::Durable, |tx| {
            let holder: Option<String> = tx
                .query_row("SELECT id FROM pods WHERE name = ?1", [&pod.name], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|source| EngineError::Db {
                    path: path.clone(),
                    source,
                })?;
            if let Some(id) = holder {
                return Err(EngineError::PodNameInUse {
                    name: pod.name.clone(),
                    id,
                });
            }
            tx.execute(
                "INSERT INTO pods (id, name, record) VALUES (?1, ?2, ?3)",
                params![pod.id, pod.name, json],
            )
            .map_err(|source| EngineError::Db {
                path: path.clone(),
                source,
            })?;
            Ok(())
        })
    }

    /// Replace a pod's record (its infra container made).
    pub fn save_pod(&self, pod: &crate::pods::PodRecord) -> Result<()> {
        let json = to_json(pod)?;
        self.execute(
            "UPDATE pods SET record = ?2 WHERE id = ?1",
            params![pod.id, json],
        )
        .map(drop)
    }

    pub fn pods(&self) -> Result<Vec<crate::pods::PodRecord>> {
        let mut pods: Vec<crate::pods::PodRecord> = self
            .strings("SELECT record FROM pods", [])?
            .iter()
            .map(|j| from_json(j))
            .collect::<Result<_>>()?;
        pods.sort_by_key(|p| p.created);
        Ok(pods)
    }

    /// A pod by full ID, name, or unique ID prefix.
    pub fn lookup_pod(&self, name_or_id: &str) -> Result<crate::pods::PodRecord> {
        let not_found = || EngineError::NoSuchPod(name_or_id.to_string());
        // A full ID or a name (what containers record, and what users mostly give) is one
        // indexed row; only an ID prefix reads every pod.
        let exact: Option<String> = self
            .conn()?
            .prepare_cached(
                "SELECT record FROM pods WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1",
            )
            .and_then(|mut stmt| stmt.query_row([name_or_id], |row| row.get(0)))
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some(json) = exact {
            return from_json(&json);
        }
        if name_or_id.is_empty() || !name_or_id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let prefix = name_or_id.to_ascii_lowercase();
        let mut matching = self
            .pods()?
            .into_iter()
            .filter(|p| p.id.starts_with(&prefix));
        match (matching.next(), matching.next()) {
            (Some(pod), None) => Ok(pod),
            (None, _) => Err(not_found()),
            (Some(_), Some(_)) => Err(EngineError::InvalidArg(format!(
                "more than one result for pod ID {name_or_id}: ambiguous ID"
            ))),
        }
    }

    pub fn remove_pod(&self, id: &str) -> Result<()> {
        self.execute("DELETE FROM pods WHERE id = ?1", [id])
            .map(drop)
    }

    pub fn volume(&self, name: &str) -> Result<Option<crate::volumes::VolumeRecord>> {
        let json: Option<String> = self
            .conn()?
            .query_row("SELECT record FROM volumes WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        json.map(|j| from_json(&j)).transpose()
    }

    pub fn volumes(&self) -> Result<Vec<crate::volumes::VolumeRecord>> {
        self.strings("SELECT record FROM volumes ORDER BY name", [])?
            .iter()
            .map(|j| from_json(j))
            .collect()
    }

    /// The directory the store's local volumes live in, as recorded (`--volumepath`; podman
    /// records it in its database too), if it was.
    pub fn recorded_volume_path(&self) -> Result<Option<PathBuf>> {
        let recorded: Option<String> = self
            .conn()?
            .query_row(READ_VOLUME_PATH, [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(recorded.map(PathBuf::from))
    }

    /// Settle where the store's local volumes live and return it: volumes made there are
    /// only found there, so a store that holds volumes keeps the recorded path (the
    /// `default` when none was recorded: they were made before rpod recorded it); one
    /// without volumes takes `asked` (the default when nothing is asked or recorded).
    pub fn settle_volume_path(&self, asked: Option<&Path>, default: &Path) -> Result<PathBuf> {
        let recorded = self.recorded_volume_path()?;
        if let Some(recorded) = &recorded {
            if asked.is_none_or(|asked| asked == recorded) {
                return Ok(recorded.clone());
            }
        }
        self.write(|tx| {
            let recorded: Option<String> = tx
                .query_row(READ_VOLUME_PATH, [], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            let volumes: i64 = tx
                .query_row("SELECT count(*) FROM volumes", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            let settled = match (recorded, asked) {
                (_, Some(asked)) if volumes == 0 => asked.to_path_buf(),
                (Some(recorded), _) => return Ok(PathBuf::from(recorded)),
                (None, _) if volumes > 0 => default.to_path_buf(),
                (None, asked) => asked.unwrap_or(default).to_path_buf(),
            };
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('volume_path', ?1)",
                [settled.to_string_lossy()],
            )
            .map_err(|e| self.err(e))?;
            Ok(settled)
        })
    }

    pub fn remove_volume(&self, name: &str) -> Result<()> {
        self.execute("DELETE FROM volumes WHERE name = ?1", [name])
            .map(drop)
    }

    // ----- network address leases -----

    /// Lease a container one address in each of `network`'s subnets (`ipam::choose`):
    /// those in `asked` (refused when another container holds one), else those it holds
    /// already, else the lowest free ones. The addresses in the subnets' order.
    pub fn lease_addresses(
        &self,
        network: &crate::network::Network,
        container: &str,
        asked: &[std::net::IpAddr],
    ) -> Result<Vec<std::net::IpAddr>> {
        let path = self.path.clone();
        let db = |source| EngineError::Db {
            path: path.clone(),
            source,
        };
        if !network.gives_addresses() {
            return match asked.first() {
                Some(address) => Err(EngineError::InvalidArg(format!(
                    "network {} gives no addresses (--ipam-driver none): {address} cannot be had",
                    network.name
                ))),
                None => Ok(Vec::new()),
            };
        }
        if network.subnets.is_empty() {
            return Err(EngineError::InvalidArg(format!(
                "network {} has no subnet",
                network.name
            )));
        }
        // A lease is never synced: the first process after a reboot drops them all.
        self.write_with(Durability::Ephemeral, |tx| {
            let rows: Vec<(String, String)> = {
                let mut stmt = tx
                    .prepare("SELECT address, container FROM network_leases WHERE network = ?1")
                    .map_err(db)?;
                let rows = stmt
                    .query_map([&network.name], |row| Ok((row.get(0)?, row.get(1)?)))
                    .map_err(db)?
                    .collect::<std::result::Result<_, _>>()
                    .map_err(db)?;
                rows
            };
            let leases: Vec<(std::net::IpAddr, String)> = rows
                .into_iter()
                .filter_map(|(address, holder)| Some((address.parse().ok()?, holder)))
                .collect();
            let chosen = crate::network::ipam::choose(network, container, asked, &leases)?;
            // What the container held on this network and is not given again goes back.
            for (address, holder) in &leases {
                if holder == container && !chosen.contains(address) {
                    tx.execute(
                        "DELETE FROM network_leases WHERE network = ?1 AND address = ?2",
                        params![network.name, address.to_string()],
                    )
                    .map_err(db)?;
                }
            }
            for address in &chosen {
                tx.execute(
                    "INSERT OR IGNORE INTO network_leases (network, address, container) VALUES (?1, ?2, ?3)",
                    params![network.name, address.to_string(), container],
                )
                .map_err(db)?;
            }
            Ok(chosen)
        })
    }

    /// Whether another container than `container` holds `address` on `network`.
    pub fn address_taken(
        &self,
        network: &str,
        address: std::net::IpAddr,
        container: &str,
    ) -> Result<bool> {
        let holder: Option<String> = self
            .conn()?
            .query_row(
                "SELECT container FROM network_leases WHERE network = ?1 AND address = ?2",
                params![network, address.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(holder.is_some_and(|h| h != container))
    }

    /// Give back a container's addresses, on one network or on all.
    pub fn release_addresses(&self, container: &str, network: Option<&str>) -> Result<()> {
        // Not synced, as a lease is not.
        match network {
            Some(network) => self.execute_with(
                Durability::Ephemeral,
                "DELETE FROM network_leases WHERE container = ?1 AND network = ?2",
                [container, network],
            ),
            None => self.execute_with(
                Durability::Ephemeral,
                "DELETE FROM network_leases WHERE container = ?1",
                [container],
            ),
        }
        .map(drop)
    }

    // ----- images -----

    /// Add an image and give it `names`, taking each name away from any other image.
    pub fn insert_image(&self, image: &ImageRecord, names: &[String]) -> Result<()> {
        let json = to_json(image)?;
        let path = self.path.clone();
        self.write(|tx| {
            let db = |source| EngineError::Db {
                path: path.clone(),
                source,
            };
            tx.execute(
                "INSERT OR IGNORE INTO images (id, record) VALUES (?1, ?2)",
                params![image.id, json],
            )
            .map_err(db)?;
            for name in names {
                refuse_list_name(tx, name).map_err(db)??;
                tx.execute(
                    "INSERT OR REPLACE INTO image_names (name, image_id) VALUES (?1, ?2)",
                    params![name, image.id],
                )
                .map_err(db)?;
            }
            Ok(())
        })
    }

    /// Note that the image was pulled by the manifest `digest` (kept once, in order).
    pub fn add_image_digest(&self, image_id: &str, digest: &str) -> Result<()> {
        self.update_image(image_id, |record| {
            if record.digests.iter().any(|d| d == digest) {
                return false;
            }
            record.digests.push(digest.to_string());
            true
        })
    }

    /// Add `annotations` to the image's (a key it has already takes the new value).
    pub fn add_image_annotations(
        &self,
        image_id: &str,
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        if annotations.is_empty() {
            return Ok(());
        }
        self.update_image(image_id, |record| {
            let before = record.annotations.clone();
            record.annotations.extend(annotations.clone());
            record.annotations != before
        })
    }

    /// Change an image's record in one transaction: `change` says whether it changed
    /// anything (else nothing is written). An image not here is left alone.
    fn update_image(
        &self,
        image_id: &str,
        change: impl FnOnce(&mut ImageRecord) -> bool,
    ) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let db = |source| EngineError::Db {
                path: path.clone(),
                source,
            };
            let json: Option<String> = tx
                .query_row(
                    "SELECT record FROM images WHERE id = ?1",
                    [image_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db)?;
            let Some(json) = json else {
                return Ok(());
            };
            let mut record: ImageRecord = from_json(&json)?;
            if !change(&mut record) {
                return Ok(());
            }
            tx.execute(
                "UPDATE images SET record = ?2 WHERE id = ?1",
                params![image_id, to_json(&record)?],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    /// Give an existing image `names` (all or none), taking each from any other image.
    pub fn add_image_names(&self, image_id: &str, names: &[String]) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let db = |source| EngineError::Db {
                path: path.clone(),
                source,
            };
            for name in names {
                refuse_list_name(tx, name).map_err(db)??;
                tx.execute(
                    "INSERT OR REPLACE INTO image_names (name, image_id) VALUES (?1, ?2)",
                    params![name, image_id],
                )
                .map_err(db)?;
            }
            Ok(())
        })
    }

    pub fn remove_image_name(&self, name: &str) -> Result<()> {
        self.execute("DELETE FROM image_names WHERE name = ?1", [name])
            .map(drop)
    }

    pub fn remove_image(&self, id: &str) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let db = |source| EngineError::Db {
                path: path.clone(),
                source,
            };
            tx.execute("DELETE FROM image_names WHERE image_id = ?1", [id])
                .map_err(db)?;
            tx.execute("DELETE FROM images WHERE id = ?1", [id])
                .map_err(db)?;
            Ok(())
        })
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>> {
        let json: Option<String> = self
            .conn()?
            .query_row("SELECT record FROM images WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        json.map(|j| from_json(&j)).transpose()
    }

    /// Whether another image was committed on image `id` (its record's `parent`), asked of
    /// the records' JSON in SQLite rather than by reading every record.
    pub fn image_has_children(&self, id: &str) -> Result<bool> {
        self.conn()?
            .query_row(
                "SELECT 1 FROM images WHERE json_extract(record, '$.parent') = ?1 LIMIT 1",
                [id],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.err(e))
    }

    pub fn image_id_by_name(&self, name: &str) -> Result<Option<String>> {
        self.conn()?
            .query_row(
                "SELECT image_id FROM image_names WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Image ids starting with `prefix` (at most two, enough to tell "ambiguous").
    pub fn image_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        self.strings(
            "SELECT id FROM images WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2",
            [prefix],
        )
    }

    pub fn image_names(&self, image_id: &str) -> Result<Vec<String>> {
        self.strings(
            "SELECT name FROM image_names WHERE image_id = ?1 ORDER BY rowid",
            [image_id],
        )
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        self.strings("SELECT record FROM images ORDER BY rowid", [])?
            .iter()
            .map(|j| from_json(j))
            .collect()
    }

    /// The image a build step with this cache key made before (`build --layers`).
    pub fn build_cache_image(&self, key: &str) -> Result<Option<String>> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT image_id FROM build_cache WHERE key = ?1",
            params![key],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| self.err(e))
    }

    /// Note the image a build step with this key made; it goes with the image.
    pub fn set_build_cache_image(&self, key: &str, image_id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO build_cache (key, image_id) VALUES (?1, ?2)",
                params![key, image_id],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    /// Every layer referenced by any image.
    pub fn referenced_layers(&self) -> Result<std::collections::HashSet<String>> {
        Ok(self
            .images()?
            .into_iter()
            .flat_map(|i| i.layers.into_iter())
            .collect())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.read_only {
            return;
        }
        let pool = self.pool.get_mut().unwrap_or_else(|p| p.into_inner());
        if self.durable_writes.load(Ordering::Relaxed) {
            // SQLite checkpoints only when the last connection to the database closes; this
            // process's commits must not wait for another one's close. A checkpoint that a
            // reader holds back in part is finished by a later one; a failure leaves the WAL,
            // which is consistent, for them.
            if let Some(conn) = pool.first() {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(path = %self.path.display(), %e, "checkpoint at close");
                }
            }
        } else if wal_size(&self.path) <= UNCHECKPOINTED_WAL_LIMIT {
            for conn in pool.iter() {
                // Not skipping the checkpoint costs time, never data.
                let _ = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
            }
        }
    }
}

/// The size of the database's WAL file (0 when there is none).
fn wal_size(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| EngineError::InvalidArg(format!("serializing a record: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| EngineError::InvalidArg(format!("reading a stored record: {e}")))
}

/// Fail with `NameInUse` when a container other than `id` holds `name`.
fn name_free(
    tx: &rusqlite::Transaction<'_>,
    path: &std::path::Path,
    name: &str,
    id: &str,
) -> Result<()> {
    let holder = tx
        .query_row(
            "SELECT id FROM containers WHERE name = ?1 AND id != ?2",
            params![name, id],
            |row| row.get::<_, String>(0),
        )
        .optional()
        .map_err(|source| EngineError::Db {
            path: path.to_path_buf(),
            source,
        })?;
    match holder {
        Some(id) => Err(EngineError::NameInUse {
            name: name.to_string(),
            id,
        }),
        None => Ok(()),
    }
}

/// A name is one thing's: an image cannot take the name of a manifest list (the list keeps
/// it; podman would move it to the image and leave the list without a name). Checked where
/// every image name is given (tag, commit, import, load, pull, build), in the transaction
/// that gives it. The outer result is the database's, the inner one the refusal.
fn refuse_list_name(tx: &rusqlite::Transaction, name: &str) -> rusqlite::Result<Result<()>> {
    let listed = tx
        .query_row(
            "SELECT 1 FROM manifest_lists WHERE name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    Ok(if listed {
        Err(EngineError::InvalidArg(format!(
            "{name} is the name of a manifest list: remove the list (manifest rm) or give the image another name"
        )))
    } else {
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn record(name: &str) -> ContainerRecord {
        let config: ContainerConfig = serde_json::from_value(serde_json::json!({
            "id": crate::names::random_id(),
            "name": name,
            "image_id": "", "image_name": "", "rootfs": null, "entrypoint": null,
            "cmd": [], "args": ["true"], "env": [], "workdir": "/", "user": "",
            "hostname": "h", "labels": {}, "stop_signal": 15, "stop_timeout": 10,
            "memory": null, "cpus": null, "pids_limit": null, "read_only": false,
            "network": "none", "runtime": "runc", "auto_remove": false,
            "log_to_file": true, "terminal": false, "stdin": false,
            "created": "2026-01-01T00:00:00Z"
        }))
        .expect("a record written by an older rpod, without the newer fields, still reads");
        ContainerRecord {
            config,
            state: ContainerState::new(),
        }
    }

    fn exec_session(container_id: &str, cmd_bytes: usize) -> ExecSession {
        ExecSession {
            id: crate::names::random_id(),
            container_id: container_id.to_string(),
            cmd: vec!["x".repeat(cmd_bytes)],
            terminal: false,
            pid: 0,
            waited_for: true,
            client_pid: 0,
            client_start: 0,
            created: chrono::Utc::now(),
        }
    }

    /// The volume path is recorded the first time (the one asked for, or the default when
    /// the store already holds volumes made before it was recorded); a store without
    /// volumes takes another, one with volumes keeps it.
    #[test]
    fn the_volume_path_stays_where_the_volumes_are() {
        let default = Path::new("/root/volumes");
        let first = Path::new("/srv/volumes");
        let dir = tempfile::tempdir().unwrap();
        let volume = crate::volumes::VolumeRecord {
            name: "v".into(),
            driver: "local".into(),
            labels: Default::default(),
            options: Default::default(),
            created: chrono::Utc::now(),
            anonymous: false,
            needs_copy_up: false,
            needs_chown: false,
            uid: 0,
            gid: 0,
        };

        let store = Store::open(&dir.path().join("new.db")).unwrap();
        assert_eq!(store.recorded_volume_path().unwrap(), None);
        assert_eq!(store.settle_volume_path(None, default).unwrap(), default);
        assert_eq!(
            store.settle_volume_path(Some(first), default).unwrap(),
            first
        );
        assert!(store.insert_volume(&volume).unwrap());
        for asked in [None, Some(Path::new("/elsewhere"))] {
            assert_eq!(store.settle_volume_path(asked, default).unwrap(), first);
        }
        assert_eq!(
            store.recorded_volume_path().unwrap().as_deref(),
            Some(first)
        );

        let old = Store::open(&dir.path().join("old.db")).unwrap();
        assert!(old.insert_volume(&volume).unwrap());
        assert_eq!(
            old.settle_volume_path(Some(first), default).unwrap(),
            default
        );
    }

    /// Every way an image gets a name (a new image's names, a tag of an existing one) is
    /// refused a manifest list's name, and a refusal gives no name at all: a new image is
    /// not added, a tag of several names adds none.
    #[test]
    fn an_image_never_takes_a_manifest_lists_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("rpod.db")).unwrap();
        let list = crate::image::manifest_list::ManifestList::new(
            crate::names::random_id(),
            "localhost/list:latest".into(),
        )
        .unwrap();
        store.save_manifest_list(&list).unwrap();
        let image = |id: &str| ImageRecord::bare(id.repeat(64));
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        let refused = store
            .insert_image(
                &image("a"),
                &names(&["localhost/a:1", "localhost/list:latest"]),
            )
            .unwrap_err();
        assert!(refused.to_string().contains("manifest list"), "{refused}");
        assert!(store.image_id_by_name("localhost/a:1").unwrap().is_none());
        assert!(store.image(&"a".repeat(64)).unwrap().is_none());

        store
            .insert_image(&image("b"), &names(&["localhost/b:1"]))
            .unwrap();
        store
            .add_image_names(
                &"b".repeat(64),
                &names(&["localhost/b:2", "localhost/list:latest"]),
            )
            .unwrap_err();
        assert_eq!(
            store.image_names(&"b".repeat(64)).unwrap(),
            ["localhost/b:1"]
        );
        assert!(store
            .manifest_list("localhost/list:latest")
            .unwrap()
            .is_some());

        // (The same records: whether an image has a child is read from their JSON.)
        assert!(!store.image_has_children(&"b".repeat(64)).unwrap());
        let child = ImageRecord {
            parent: Some("b".repeat(64)),
            ..image("c")
        };
        store.insert_image(&child, &[]).unwrap();
        assert!(store.image_has_children(&"b".repeat(64)).unwrap());
        assert!(!store.image_has_children(&"c".repeat(64)).unwrap());
    }

    /// An ended session's exit code is kept, once, and goes with its container; codes of
    /// sessions that ended more than five minutes ago are forgotten.
    #[test]
    fn ended_exec_sessions_keep_their_exit_codes_for_a_while() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("rpod.db")).unwrap();
        let container = record("c");
        store.insert_container(&container).unwrap();
        let mut session = exec_session(container.id(), 1);
        session.id = "ended".into();
        store.save_exec_session(&session).unwrap();
        assert_eq!(store.exec_exit_code("ended").unwrap(), None);
        assert!(store
            .end_exec_session("ended", container.id(), Some(5))
            .unwrap());
        assert!(store.exec_session("ended").unwrap().is_none());
        // A second end (an exit command after the client collected it) changes nothing.
        assert!(!store
            .end_exec_session("ended", container.id(), None)
            .unwrap());
        assert_eq!(store.exec_exit_code("ended").unwrap(), Some(Some(5)));
        session.id = "no-code".into();
        store.save_exec_session(&session).unwrap();
        store
            .end_exec_session("no-code", container.id(), None)
            .unwrap();
        assert_eq!(store.exec_exit_code("no-code").unwrap(), Some(None));
        let long_ago = (chrono::Utc::now() - chrono::TimeDelta::minutes(6)).to_rfc3339();
        store
            .execute(
                "INSERT INTO exec_exit_codes (id, container_id, code, recorded) VALUES ('old', 'x', 1, ?1)",
                [long_ago],
            )
            .unwrap();
        session.id = "later".into();
        store.save_exec_session(&session).unwrap();
        store
            .end_exec_session("later", container.id(), Some(0))
            .unwrap();
        assert_eq!(store.exec_exit_code("old").unwrap(), None);
        store.remove_container(&container).unwrap();
        assert_eq!(store.exec_exit_code("ended").unwrap(), None);
        assert_eq!(store.exec_exit_code("later").unwrap(), None);
    }

    /// A removal forgets the exit codes of containers gone for more than five minutes, and
    /// keeps newer ones and those of containers still there.
    #[test]
    fn old_exit_codes_of_gone_containers_are_forgotten_at_a_removal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("rpod.db")).unwrap();
        let (kept, removed) = (record("kept"), record("removed"));
        store.insert_container(&kept).unwrap();
        store.insert_container(&removed).unwrap();
        let long_ago = (chrono::Utc::now() - chrono::TimeDelta::minutes(6)).to_rfc3339();
        for (id, recorded) in [
            ("gone-long-ago", long_ago.as_str()),
            (kept.id(), long_ago.as_str()),
        ] {
            store
                .execute(
                    "INSERT INTO exit_codes (id, code, recorded) VALUES (?1, 1, ?2)",
                    params![id, recorded],
                )
                .unwrap();
        }
        let mut gone_just_now = record("gone-just-now");
        gone_just_now.config.id = "gone-just-now".into();
        store.save_exit_code(&gone_just_now, 2).unwrap();
        store.save_exit_code(&removed, 3).unwrap();
        store.remove_container(&removed).unwrap();
        assert!(store.container(removed.id()).unwrap().is_none());
        assert_eq!(store.exit_code("gone-long-ago").unwrap(), None);
        assert_eq!(store.exit_code(kept.id()).unwrap(), Some(1));
        assert_eq!(store.exit_code("gone-just-now").unwrap(), Some(2));
        assert_eq!(store.exit_code(removed.id()).unwrap(), Some(3));
    }

    #[test]
    fn a_store_that_wrote_only_exec_sessions_leaves_the_wal_to_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpod.db");
        let container = record("c");
        let store = Store::open(&path).unwrap();
        store.insert_container(&container).unwrap();
        drop(store);
        assert_eq!(
            wal_size(&path),
            0,
            "a durable write is checkpointed at the close"
        );

        let session = exec_session(container.id(), 10);
        let store = Store::open(&path).unwrap();
        store.save_exec_session(&session).unwrap();
        drop(store);
        assert!(
            wal_size(&path) > 0,
            "an exec session alone is not checkpointed"
        );

        // The next process reads the WAL it finds.
        let store = Store::open(&path).unwrap();
        let found = store.exec_session(&session.id).unwrap();
        assert_eq!(found.map(|s| s.cmd), Some(session.cmd));
        assert!(store.container(container.id()).unwrap().is_some());
    }

    /// A `--rm` container's rows are left in the WAL (a host crash ends the container, and
    /// the reboot's clean-up removes what is left); once it is checkpointed, they are synced.
    #[test]
    fn a_container_removed_at_its_exit_is_not_synced_unless_checkpointed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpod.db");
        drop(Store::open(&path).unwrap());
        assert_eq!(wal_size(&path), 0);
        let mut container = record("rm");
        container.config.auto_remove = true;
        let store = Store::open(&path).unwrap();
        store.insert_container(&container).unwrap();
        container.state.status = Status::Running;
        assert!(store.save_state(&container).unwrap());
        store.save_exit_code(&container, 0).unwrap();
        store.remove_container(&container).unwrap();
        drop(store);
        assert!(
            wal_size(&path) > 0,
            "a --rm container's rows are not synced"
        );
        let store = Store::open(&path).unwrap();
        assert_eq!(store.exit_code(container.id()).unwrap(), Some(0));

        let mut checkpointed = record("rm-checkpointed");
        checkpointed.config.auto_remove = true;
        store.insert_container(&checkpointed).unwrap();
        checkpointed.state.checkpointed = true;
        assert!(store.save_state(&checkpointed).unwrap());
        drop(store);
        assert_eq!(
            wal_size(&path),
            0,
            "a checkpointed --rm container waits for its restore: synced"
        );
        assert_eq!(
            Durability::of(&record("plain")),
            Durability::Durable,
            "any other container is synced"
        );
    }

    /// A lease and its release are not synced: the first process after a reboot drops
    /// every lease.
    #[test]
    fn network_leases_are_not_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpod.db");
        drop(Store::open(&path).unwrap());
        assert_eq!(wal_size(&path), 0);
        let network: crate::network::Network = serde_json::from_value(serde_json::json!({
            "name": "lab", "id": "0".repeat(64), "driver": "bridge",
            "network_interface": "rpod1",
            "subnets": [{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]
        }))
        .unwrap();
        let store = Store::open(&path).unwrap();
        let addresses = store.lease_addresses(&network, "c", &[]).unwrap();
        assert!(store.address_taken("lab", addresses[0], "other").unwrap());
        store.release_addresses("c", Some("lab")).unwrap();
        store.lease_addresses(&network, "c", &[]).unwrap();
        store.release_addresses("c", None).unwrap();
        drop(store);
        assert!(wal_size(&path) > 0, "leases are not synced");
    }

    /// A dual-stack network leases an address of each family; an address asked for in
    /// place of one held gives the held one back.
    #[test]
    fn leases_on_a_dual_stack_network() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("rpod.db")).unwrap();
        let network: crate::network::Network = serde_json::from_value(serde_json::json!({
            "name": "dual", "id": "0".repeat(64), "driver": "bridge",
            "network_interface": "rpod1", "ipv6_enabled": true,
            "subnets": [{"subnet": "10.77.0.0/24", "gateway": "10.77.0.1"},
                        {"subnet": "fd77::/64", "gateway": "fd77::1"}]
        }))
        .unwrap();
        let ip = |t: &str| t.parse::<std::net::IpAddr>().unwrap();
        let first = store.lease_addresses(&network, "a", &[]).unwrap();
        assert_eq!(first, [ip("10.77.0.2"), ip("fd77::2")]);
        // Asked again (a restart): the same.
        assert_eq!(store.lease_addresses(&network, "a", &[]).unwrap(), first);
        let second = store
            .lease_addresses(&network, "b", &[ip("fd77::9")])
            .unwrap();
        assert_eq!(second, [ip("10.77.0.3"), ip("fd77::9")]);
        let error = store
            .lease_addresses(&network, "c", &[ip("fd77::9")])
            .unwrap_err();
        assert!(error.to_string().contains("already allocated"), "{error}");
        // b asks for another IPv6 address: fd77::9 is free again.
        store
            .lease_addresses(&network, "b", &[ip("fd77::a")])
            .unwrap();
        assert!(!store.address_taken("dual", ip("fd77::9"), "c").unwrap());
        assert!(store.address_taken("dual", ip("fd77::a"), "c").unwrap());
        store.release_addresses("b", None).unwrap();
        assert!(!store.address_taken("dual", ip("10.77.0.3"), "c").unwrap());
    }

    /// A network without address management leases nothing, and refuses an address.
    #[test]
    fn no_leases_without_address_management() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("rpod.db")).unwrap();
        let network: crate::network::Network = serde_json::from_value(serde_json::json!({
            "name": "bare", "id": "0".repeat(64), "driver": "bridge",
            "network_interface": "rpod1", "ipam_options": {"driver": "none"}
        }))
        .unwrap();
        assert!(store
            .lease_addresses(&network, "a", &[])
            .unwrap()
            .is_empty());
        let asked = ["10.0.0.5".parse().unwrap()];
        let error = store.lease_addresses(&network, "a", &asked).unwrap_err();
        assert!(error.to_string().contains("gives no addresses"), "{error}");
    }

    #[test]
    fn a_durable_write_reaches_the_database_file_while_another_store_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpod.db");
        let other_process = Store::open(&path).unwrap();
        let container = record("c");
        let writer = Store::open(&path).unwrap();
        writer.insert_container(&container).unwrap();
        drop(writer);

        // What a crash that loses the WAL would leave: the database file alone.
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(&path, copy.path().join("rpod.db")).unwrap();
        let survivor = Store::open(&copy.path().join("rpod.db")).unwrap();
        assert!(survivor.container(container.id()).unwrap().is_some());
        drop(other_process);
    }

    #[test]
    fn a_large_wal_is_checkpointed_even_without_durable_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpod.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let per_row = 16 * 1024;
        for _ in 0..=(UNCHECKPOINTED_WAL_LIMIT as usize / per_row) {
            store
                .save_exec_session(&exec_session("c", per_row))
                .unwrap();
        }
        assert!(wal_size(&path) > UNCHECKPOINTED_WAL_LIMIT);
        drop(store);
        assert_eq!(wal_size(&path), 0);
    }

    #[test]
    fn concurrent_writers_share_one_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("rpod.db")).unwrap());
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let mut r = record(&format!("c{t}-{i}"));
                        store.insert_container(&r).unwrap();
                        r.state.status = Status::Running;
                        r.state.pid = 1000 + i;
                        assert!(store.save_state(&r).unwrap());
                        let back = store.container(r.id()).unwrap().unwrap();
                        assert_eq!(back.state.status, Status::Running);
                        store.lookup_container(&format!("c{t}-{i}")).unwrap();
                        if i % 2 == 0 {
                            store.remove_container(&r).unwrap();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(store.containers().unwrap().len(), 16 * 12);
        // A name is taken once, whoever asks.
        let taken = record("c0-1");
        assert!(matches!(
            store.insert_container(&taken),
            Err(EngineError::NameInUse { .. })
        ));
        // Another process's view (a second store on the same file) agrees.
        let other = Store::open(&dir.path().join("rpod.db")).unwrap();
        assert_eq!(other.containers().unwrap().len(), 16 * 12);
    }
}
