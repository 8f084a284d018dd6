//! Records of what the bot could not answer and what people thought of its answers, for the people
//! running it: declined questions, 👍/👎 votes and a count of answers, in an embedded SQLite file.
//!
//! Writing never slows an answer. A front end calls [`Recorder::record_decline`],
//! [`Recorder::record_vote`] or [`Recorder::record_answer`], which stamp the time, replace the user
//! id by its keyed pseudonym ([`key`]) and put the row on a bounded queue without waiting; one
//! writer thread owns the database and writes what is queued in batches. When the queue is full
//! the row is dropped, and when the disk write fails the batch is lost: either way the answer has
//! already gone out, the loss is counted ([`Recorder::dropped`], [`Recorder::failed`]) and logged
//! at most once a minute. Rows older than the retention period are pruned at start and daily.
//!
//! It is not an analytics system: [`report`] reads the file for `citebot report`, and nothing here
//! knows Discord (a front end passes plain ids).

pub mod key;
pub mod report;
pub mod store;

pub use crate::config::records::{DATABASE_FILE, RecordsConfig};
pub use key::{KEY_ENV, KEY_FILE, KeyOrigin, UserKey};
pub use report::{RecordsReport, ReportOptions, run_report};
pub use store::{Database, Row, RowKind, SCHEMA_VERSION, Store};

use crate::feedback::{Asked, Feedback, FeedbackSink};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest question kept, in characters (a longer one is cut).
pub const MAX_QUESTION_CHARS: usize = 1000;
/// Longest entry-point name kept, in characters.
const MAX_ENTRY_POINT_CHARS: usize = 32;
/// Rows written in one transaction at most.
const BATCH: usize = 256;
/// How often old rows are pruned while running.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// At most one log line a minute about lost rows.
const LOG_EVERY_SECS: u64 = 60;

/// Records failures. Only start-up and `report` see them; a running recorder counts and logs.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The database could not be read or written.
    #[error("the records database {path} could not be used: {source}")]
    Sql {
        /// The file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// Filesystem trouble around the database.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file was written by a newer citebot.
    #[error(
        "the records database {path} has schema version {found}, newer than this citebot knows ({known}); run the newer citebot, or move the file away to start afresh"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
    /// The pseudonym key file is unusable.
    #[error("the pseudonym key file {path} is unusable: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// No database exists yet (for `report`).
    #[error(
        "there are no records yet: {0} does not exist. The bot writes it while serving (records.enabled = true); check records.dir"
    )]
    NoRecords(PathBuf),
    /// The writer is gone (the thread could not be started).
    #[error("the records writer could not be started: {0}")]
    Writer(std::io::Error),
}

impl RecordsError {
    /// True when the person running citebot can fix it (as opposed to an internal fault).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            RecordsError::NewerSchema { .. } | RecordsError::Key { .. } | RecordsError::NoRecords(_)
        )
    }
}

/// A question the bot declined.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decline {
    /// The question as asked.
    pub question: String,
    /// Where it was asked: `slash`, `mention`, `dm`, `http`, `cli`, ….
    pub entry_point: String,
    /// The guild, outside direct messages.
    pub guild_id: Option<u64>,
    /// The channel.
    pub channel_id: Option<u64>,
    /// Who asked (never stored: only its pseudonym is).
    pub user_id: Option<u64>,
}

/// A 👍 or 👎 on a quoted passage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vote {
    /// The passage judged.
    pub passage_id: String,
    /// The corpus version it was quoted from ([`crate::retrieval::Retriever::corpus_version`]).
    pub corpus_version: String,
    /// The question it answered, when the front end still has it.
    pub question: Option<String>,
    /// 👍 (true) or 👎 (false).
    pub helpful: bool,
    /// Who voted (never stored: only its pseudonym is).
    pub user_id: Option<u64>,
}

/// A question the bot answered: counted per day, its text not kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answered {
    /// Where it was asked.
    pub entry_point: String,
    /// The guild, outside direct messages.
    pub guild_id: Option<u64>,
    /// The passage quoted.
    pub passage_id: Option<String>,
    /// The corpus version quoted from.
    pub corpus_version: Option<String>,
}

/// Any record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A declined question.
    Decline(Decline),
    /// A vote.
    Vote(Vote),
    /// An answered question.
    Answered(Answered),
}

impl Row {
    /// The row for `record` at `at` (seconds since the epoch), with user ids replaced by their
    /// pseudonyms under `key` and text bounded in length.
    pub fn new(at: i64, record: Record, key: &UserKey) -> Row {
        let kind = match record {
            Record::Decline(d) => RowKind::Decline {
                question: bounded(&d.question, MAX_QUESTION_CHARS),
                guild_id: d.guild_id,
                channel_id: d.channel_id,
                entry_point: bounded(&d.entry_point, MAX_ENTRY_POINT_CHARS),
                user_hash: d.user_id.map(|u| key.pseudonym(u)),
            },
            Record::Vote(v) => RowKind::Vote {
                passage_id: bounded(&v.passage_id, MAX_QUESTION_CHARS),
                corpus_version: bounded(&v.corpus_version, MAX_QUESTION_CHARS),
                question: v.question.map(|q| bounded(&q, MAX_QUESTION_CHARS)),
                helpful: v.helpful,
                user_hash: v.user_id.map(|u| key.pseudonym(u)),
            },
            Record::Answered(a) => RowKind::Answer {
                entry_point: bounded(&a.entry_point, MAX_ENTRY_POINT_CHARS),
                guild_id: a.guild_id,
                passage_id: a.passage_id.map(|p| bounded(&p, MAX_QUESTION_CHARS)),
                corpus_version: a.corpus_version.map(|c| bounded(&c, MAX_QUESTION_CHARS)),
            },
        };
        Row { at, kind }
    }
}

fn bounded(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Lost-row counters, shared by the recorder handles and the writer.
#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    drop_log: RateLimit,
}

/// Logs at most once per [`LOG_EVERY_SECS`], counting what it held back.
#[derive(Debug, Default)]
struct RateLimit {
    /// Seconds since `epoch` of the last line, plus one (0: never).
    last: AtomicU64,
    held_back: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
}

impl RateLimit {
    /// `Some(lines held back since the last one)` when a line may be logged now.
    fn allow(&self) -> Option<u64> {
        let now = self.epoch.get_or_init(Instant::now).elapsed().as_secs() + 1;
        let last = self.last.load(Ordering::Relaxed);
        if (last == 0 || now >= last + LOG_EVERY_SECS)
            && self.last.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            return Some(self.held_back.swap(0, Ordering::Relaxed));
        }
        self.held_back.fetch_add(1, Ordering::Relaxed);
        None
    }
}

enum Message {
    Row(Row),
    /// Answered once everything queued before it is written (or lost).
    Flush(mpsc::Sender<()>),
}

struct Shared {
    queue: SyncSender<Message>,
    key: UserKey,
    counters: Arc<Counters>,
}

/// The handle front ends record through. Cheap to clone, `Send + Sync`; every `record_*` call
/// returns at once. A disabled recorder ([`Recorder::disabled`]) does nothing.
#[derive(Clone)]
pub struct Recorder {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("enabled", &self.is_enabled())
            .field("dropped", &self.dropped())
            .field("failed", &self.failed())
            .finish()
    }
}

impl Recorder {
    /// A recorder that records nothing.
    pub fn disabled() -> Recorder {
        Recorder { shared: None }
    }

    /// Opens (creating and migrating) the database under `config.dir`, loads the pseudonym key
    /// from [`KEY_ENV`] or the key file, and starts the writer, which first prunes rows older than
    /// the retention period. Disabled in the configuration: a [`Recorder::disabled`].
    pub fn start(config: &RecordsConfig) -> Result<Recorder, RecordsError> {
        if !config.enabled {
            return Ok(Recorder::disabled());
        }
        let db = Database::open(&config.database())?;
        let env_key = std::env::var(KEY_ENV).ok();
        let (key, _) = UserKey::load(env_key.as_deref(), &config.dir)?;
        Self::with_store(db, key, config)
    }

    /// Like [`Recorder::start`], but a failure is logged and a disabled recorder returned: the bot
    /// answers without records rather than not at all.
    pub fn start_or_disabled(config: &RecordsConfig) -> Recorder {
        Self::start(config).unwrap_or_else(|e| {
            tracing::error!("records are off for this run: {e}");
            Recorder::disabled()
        })
    }

    /// Starts a writer thread over any [`Store`] (the database, or a stand-in in tests).
    pub fn with_store(
        store: impl Store,
        key: UserKey,
        config: &RecordsConfig,
    ) -> Result<Recorder, RecordsError> {
        let (queue, rx) = mpsc::sync_channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let retention = i64::from(config.retention_days.max(1)) * 24 * 60 * 60;
        let writer_counters = counters.clone();
        std::thread::Builder::new()
            .name("citebot-records".into())
            .spawn(move || write_loop(store, rx, writer_counters, retention))
            .map_err(RecordsError::Writer)?;
        Ok(Recorder { shared: Some(Arc::new(Shared { queue, key, counters })) })
    }

    /// True unless disabled.
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// Records a declined question. Never blocks.
    pub fn record_decline(&self, decline: Decline) {
        self.submit(Record::Decline(decline));
    }

    /// Records a vote. Never blocks.
    pub fn record_vote(&self, vote: Vote) {
        self.submit(Record::Vote(vote));
    }

    /// Counts an answered question. Never blocks.
    pub fn record_answer(&self, answered: Answered) {
        self.submit(Record::Answered(answered));
    }

    /// Records anything, stamped now. Never blocks: when the queue is full the row is dropped,
    /// counted and (rate-limited) logged.
    pub fn submit(&self, record: Record) {
        let Some(shared) = &self.shared else { return };
        let row = Row::new(now(), record, &shared.key);
        match shared.queue.try_send(Message::Row(row)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let total = shared.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(held_back) = shared.counters.drop_log.allow() {
                    tracing::warn!(
                        dropped_total = total,
                        since_last_line = held_back + 1,
                        "the records queue is full: a record was dropped (the answer was not affected)"
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                let total = shared.counters.failed.fetch_add(1, Ordering::Relaxed) + 1;
                if shared.counters.drop_log.allow().is_some() {
                    tracing::error!(
                        failed_total = total,
                        "the records writer has stopped: a record was lost"
                    );
                }
            }
        }
    }

    /// Rows dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.as_ref().map_or(0, |s| s.counters.dropped.load(Ordering::Relaxed))
    }

    /// Rows lost because the write failed.
    pub fn failed(&self) -> u64 {
        self.shared.as_ref().map_or(0, |s| s.counters.failed.load(Ordering::Relaxed))
    }

    /// Rows written.
    pub fn written(&self) -> u64 {
        self.shared.as_ref().map_or(0, |s| s.counters.written.load(Ordering::Relaxed))
    }

    /// Waits up to `timeout` until every row queued so far is written (or counted as lost). For
    /// shutdown and tests, not for the answer path. False when the time ran out.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(shared) = &self.shared else { return true };
        let deadline = Instant::now() + timeout;
        let (done, wait) = mpsc::channel();
        let mut message = Message::Flush(done);
        loop {
            match shared.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    message = m;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return false,
            }
        }
        wait.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok()
    }
}

/// A front end's reports become rows: votes as votes, a question as an answer or a decline.
impl FeedbackSink for Recorder {
    fn record(&self, f: Feedback) {
        self.record_vote(Vote {
            passage_id: f.passage_id,
            corpus_version: f.corpus_version,
            question: None,
            helpful: f.helpful,
            user_id: Some(f.user_id),
        });
    }

    fn outcome(&self, asked: &Asked, answer: &crate::answer::Answer, corpus_version: &str) {
        if answer.answered {
            self.record_answer(Answered {
                entry_point: asked.entry_point.into(),
                guild_id: asked.guild_id,
                passage_id: answer.passage_id.clone(),
                corpus_version: Some(corpus_version.into()),
            });
        } else {
            self.record_decline(Decline {
                question: asked.question.clone(),
                entry_point: asked.entry_point.into(),
                guild_id: asked.guild_id,
                channel_id: Some(asked.channel_id),
                user_id: Some(asked.user_id),
            });
        }
    }
}

/// The writer thread: prune, then write batches until every handle is gone, pruning daily.
fn write_loop(mut store: impl Store, rx: Receiver<Message>, counters: Arc<Counters>, retention: i64) {
    let fail_log = RateLimit::default();
    let prune = |store: &mut dyn Store| match store.prune(now() - retention) {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "pruned records past their retention"),
        Err(e) => tracing::warn!("could not prune old records: {e}"),
    };
    prune(&mut store);
    let mut next_prune = Instant::now() + PRUNE_EVERY;
    loop {
        let first = match rx.recv_timeout(next_prune.saturating_duration_since(Instant::now())) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                prune(&mut store);
                next_prune = Instant::now() + PRUNE_EVERY;
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut rows = Vec::with_capacity(batch.len());
        let mut flushes = Vec::new();
        for m in batch {
            match m {
                Message::Row(r) => rows.push(r),
                Message::Flush(done) => flushes.push(done),
            }
        }
        if !rows.is_empty() {
            match store.insert(&rows) {
                Ok(()) => {
                    counters.written.fetch_add(rows.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    let total =
                        counters.failed.fetch_add(rows.len() as u64, Ordering::Relaxed) + rows.len() as u64;
                    if let Some(held_back) = fail_log.allow() {
                        tracing::error!(
                            lost = rows.len(),
                            failed_total = total,
                            failures_since_last_line = held_back + 1,
                            "could not write records (answers were not affected): {e}"
                        );
                    }
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
