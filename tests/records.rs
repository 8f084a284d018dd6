//! Records: the schema and its migrations, pseudonyms instead of user ids, writes that never hold
//! up an answer, and the report.

use crate::util::Workspace;
use citebot::records::report::{ReportOptions, build_report};
use citebot::records::{
    Answered, Database, Decline, Record, Recorder, RecordsConfig, RecordsError, Row, SCHEMA_VERSION, Store,
    UserKey, Vote, run_report,
};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const USER: u64 = 987_654_321_987_654_321;
/// 2024-03-01T12:00:00Z.
const MARCH_1: i64 = 1_709_294_400;
const DAY: i64 = 24 * 60 * 60;

fn records_config(dir: &std::path::Path) -> RecordsConfig {
    RecordsConfig { dir: dir.to_path_buf(), queue_capacity: 64, ..RecordsConfig::default() }
}

fn decline(question: &str, user_id: Option<u64>) -> Decline {
    Decline {
        question: question.into(),
        entry_point: "slash".into(),
        guild_id: Some(42),
        channel_id: Some(43),
        user_id,
    }
}

fn vote(passage: &str, helpful: bool, user_id: Option<u64>, question: Option<&str>) -> Vote {
    Vote {
        passage_id: passage.into(),
        corpus_version: "abcd1234".into(),
        question: question.map(String::from),
        helpful,
        user_id,
    }
}

fn count(db: &std::path::Path, table: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_empty_file_gets_the_whole_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/citebot.db");
    let db = Database::open(&path).unwrap();
    assert_eq!(db.version().unwrap(), SCHEMA_VERSION);
    drop(db);
    for table in ["declines", "votes", "answers"] {
        assert_eq!(count(&path, table), 0, "{table}");
    }
    // Opening again changes nothing.
    assert_eq!(Database::open(&path).unwrap().version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn a_version_1_file_upgrades_in_place_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("citebot.db");
    // A file as the first schema left it: declines and votes, no answers table, user_version 1.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE declines (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, question TEXT NOT NULL,
             guild_id TEXT, channel_id TEXT, entry_point TEXT NOT NULL, user_hash TEXT);
         CREATE TABLE votes (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, passage_id TEXT NOT NULL,
             corpus_version TEXT NOT NULL, question TEXT, helpful INTEGER NOT NULL, user_hash TEXT);
         INSERT INTO declines (at, question, entry_point) VALUES (1709294400, 'what is retinol', 'slash');
         INSERT INTO votes (at, passage_id, corpus_version, helpful) VALUES (1709294400, 'p1', 'v1', 0);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);

    let mut db = Database::open(&path).unwrap();
    assert_eq!(db.version().unwrap(), SCHEMA_VERSION);
    let key = UserKey::new(b"k".to_vec());
    db.insert(&[Row::new(
        MARCH_1,
        Record::Answered(Answered { entry_point: "slash".into(), ..Default::default() }),
        &key,
    )])
    .unwrap();
    let report = build_report(&db, &ReportOptions::default(), MARCH_1).unwrap();
    assert_eq!(report.unanswered[0].question, "what is retinol");
    assert_eq!(report.disliked[0].passage_id, "p1");
    assert_eq!((report.totals.answered, report.totals.declined, report.totals.down), (1, 1, 1));
}

#[test]
fn user_ids_never_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = records_config(dir.path());
    // Through `start`, as the bot does: the key comes from CITEBOT_RECORDS_KEY or a key file.
    let recorder = Recorder::start(&config).unwrap();
    recorder.record_decline(decline("Is collagen vegan?", Some(USER)));
    recorder.record_vote(vote("p1", false, Some(USER), Some("Is collagen a humectant?")));
    recorder.record_answer(Answered {
        entry_point: "mention".into(),
        guild_id: Some(42),
        ..Default::default()
    });
    assert!(recorder.flush(Duration::from_secs(10)));
    assert_eq!((recorder.written(), recorder.dropped(), recorder.failed()), (3, 0, 0));
    drop(recorder);

    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        bytes.extend(std::fs::read(entry.path()).unwrap());
    }
    let haystack = String::from_utf8_lossy(&bytes);
    assert!(haystack.contains("Is collagen vegan?"), "the questions are in the file");
    assert!(!haystack.contains(&USER.to_string()), "the raw user id is in the data directory");
    let hashes: Vec<Option<String>> = rusqlite::Connection::open(config.database())
        .unwrap()
        .prepare("SELECT user_hash FROM declines UNION ALL SELECT user_hash FROM votes")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(hashes.len(), 2);
    assert!(hashes.iter().all(|h| h.as_ref().is_some_and(|h| h.len() == 64)), "{hashes:?}");
    assert_eq!(hashes[0], hashes[1], "one person, one pseudonym");
}

#[test]
fn a_disabled_recorder_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = RecordsConfig { enabled: false, ..records_config(dir.path()) };
    let recorder = Recorder::start(&config).unwrap();
    assert!(!recorder.is_enabled());
    recorder.record_decline(decline("anything", Some(USER)));
    assert!(recorder.flush(Duration::from_millis(10)));
    assert_eq!((recorder.written(), recorder.dropped(), recorder.failed()), (0, 0, 0));
    assert!(!config.database().exists());
}

#[test]
fn a_failing_disk_loses_records_not_answers() {
    let ws = Workspace::shipped();
    let (retriever, _) = ws.open();
    let data = ws.path("data");
    let recorder = Recorder::start(&records_config(&data)).unwrap();
    recorder.record_decline(decline("before the disk failed", None));
    assert!(recorder.flush(Duration::from_secs(10)));
    assert_eq!(recorder.written(), 1);

    // The data directory vanishes under the open database: SQLite cannot write its journal.
    std::fs::remove_dir_all(&data).unwrap();
    for _ in 0..5 {
        let answer = retriever.answer("Is collagen a humectant?").unwrap();
        assert!(answer.answered);
        recorder.record_answer(Answered {
            entry_point: "slash".into(),
            passage_id: answer.passage_id.clone(),
            ..Default::default()
        });
        recorder.record_decline(decline("what is retinol", Some(USER)));
    }
    assert!(recorder.flush(Duration::from_secs(10)));
    assert_eq!(recorder.written(), 1);
    assert_eq!(recorder.failed(), 10, "every lost row is counted");
    assert_eq!(recorder.dropped(), 0);
}

/// A store that fails every write, as a full disk does.
struct FullDisk;

impl Store for FullDisk {
    fn insert(&mut self, _: &[Row]) -> Result<(), RecordsError> {
        Err(RecordsError::Io {
            action: "could not write",
            path: "citebot.db".into(),
            source: std::io::Error::other("no space left on device"),
        })
    }
    fn prune(&mut self, _: i64) -> Result<usize, RecordsError> {
        Ok(0)
    }
}

/// A store whose writes wait until the test opens the gate: a disk that hangs. It says when a
/// write has begun.
struct StalledDisk {
    entered: mpsc::Sender<()>,
    gate: mpsc::Receiver<()>,
}

impl Store for StalledDisk {
    fn insert(&mut self, _: &[Row]) -> Result<(), RecordsError> {
        let _ = self.entered.send(());
        let _ = self.gate.recv();
        Ok(())
    }
    fn prune(&mut self, _: i64) -> Result<usize, RecordsError> {
        Ok(0)
    }
}

#[test]
fn write_errors_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let recorder =
        Recorder::with_store(FullDisk, UserKey::new(b"k".to_vec()), &records_config(dir.path())).unwrap();
    for i in 0..20 {
        recorder.record_vote(vote(&format!("p{i}"), false, Some(USER), None));
    }
    assert!(recorder.flush(Duration::from_secs(10)));
    assert_eq!((recorder.written(), recorder.failed(), recorder.dropped()), (0, 20, 0));
}

#[test]
fn a_full_queue_drops_without_waiting() {
    let ws = Workspace::shipped();
    let (retriever, _) = ws.open();
    let (open_gate, gate) = mpsc::channel();
    let (entered_tx, entered) = mpsc::channel();
    let config = RecordsConfig { queue_capacity: 4, ..records_config(ws.path("data").as_path()) };
    let recorder =
        Recorder::with_store(StalledDisk { entered: entered_tx, gate }, UserKey::new(b"k".to_vec()), &config)
            .unwrap();
    // The gate opens when the test says so, or after 5 s in any case, so a recorder that blocked
    // would fail the timing below rather than hang the test.
    let (release, released) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let _ = released.recv_timeout(Duration::from_secs(5));
        for _ in 0..1000 {
            let _ = open_gate.send(());
        }
    });
    // The writer takes a first row and hangs on the disk.
    recorder.record_decline(decline("the first", None));
    entered.recv_timeout(Duration::from_secs(5)).unwrap();

    let mut recording = Duration::ZERO;
    let mut answered = 0;
    for _ in 0..100 {
        let started = Instant::now();
        recorder.record_decline(decline("what is retinol", Some(USER)));
        recording += started.elapsed();
        answered += usize::from(retriever.answer("Is collagen a humectant?").unwrap().answered);
    }
    assert!(recording < Duration::from_secs(3), "recording waited for the disk: {recording:?}");
    assert_eq!(answered, 100, "every question was answered");
    assert_eq!(recorder.dropped(), 96, "4 rows fit in the queue, the rest are dropped and counted");

    drop(release);
    assert!(recorder.flush(Duration::from_secs(10)));
    assert_eq!(recorder.written(), 5);
    assert_eq!(recorder.failed(), 0);
    watchdog.join().unwrap();
}

/// Three days of activity, seeded with fixed times.
fn seeded(dir: &std::path::Path, helpful_passage: &str) -> Database {
    let mut db = Database::open(&dir.join("citebot.db")).unwrap();
    let key = UserKey::new(b"seed".to_vec());
    let at = |day: i64, minute: i64| MARCH_1 + day * DAY + minute * 60;
    let d = |q: &str, user: u64| Record::Decline(decline(q, Some(user)));
    let answered = || Record::Answered(Answered { entry_point: "slash".into(), ..Default::default() });
    let rows = vec![
        Row::new(at(0, 0), answered(), &key),
        Row::new(at(0, 1), answered(), &key),
        Row::new(at(0, 2), answered(), &key),
        Row::new(at(0, 3), d("What is retinol?", 1), &key),
        Row::new(at(0, 4), d("Is collagen vegan?", 1), &key),
        Row::new(at(1, 0), answered(), &key),
        Row::new(at(1, 1), d("what is retinol", 2), &key),
        Row::new(at(1, 2), d("WHAT IS RETINOL!!", 2), &key),
        Row::new(at(1, 7), d("what is retinol", 1), &key),
        Row::new(
            at(1, 3),
            Record::Vote(vote(helpful_passage, false, Some(1), Some("is collagen a humectant"))),
            &key,
        ),
        Row::new(
            at(1, 4),
            Record::Vote(vote(helpful_passage, false, Some(1), Some("is collagen a humectant"))),
            &key,
        ),
        Row::new(
            at(1, 5),
            Record::Vote(vote(helpful_passage, false, Some(2), Some("does collagen hydrate"))),
            &key,
        ),
        Row::new(at(1, 6), Record::Vote(vote(helpful_passage, true, Some(3), None)), &key),
        Row::new(at(2, 0), Record::Vote(vote("p-other", false, Some(1), Some("why"))), &key),
        Row::new(at(2, 1), Record::Vote(vote("p-other", true, Some(1), None)), &key),
        Row::new(at(2, 2), d("Does retinol help acne", 3), &key),
        Row::new(at(2, 3), d("retinol is what?", 3), &key),
    ];
    db.insert(&rows).unwrap();
    db
}

#[test]
fn the_report_groups_counts_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded(dir.path(), "p-humectant");
    let report = build_report(&db, &ReportOptions::default(), MARCH_1 + 3 * DAY).unwrap();
    let text = report.to_string().replace(&dir.path().display().to_string(), "DIR");
    let expected = "\
Records in DIR/citebot.db, all retained days
4 answered, 7 declined, 2 👍, 4 👎

Top unanswered questions
  (`citebot report --examples` prints them as example-question lines to label; README: Example questions)
     5×  what is retinol  (last 2024-03-03, 3 people)
         also: \u{201c}retinol is what?\u{201d}
     1×  Does retinol help acne  (last 2024-03-03, 1 person)
     1×  Is collagen vegan?  (last 2024-03-01, 1 person)

Passages with the most 👎
     2 down    1 up  p-humectant  (not in the current index)
         for: \u{201c}is collagen a humectant\u{201d}, \u{201c}does collagen hydrate\u{201d}

Per day (UTC)
  day         answered  declined     up   down
  2024-03-01         3         2      0      0
  2024-03-02         1         3      1      3
  2024-03-03         0         2      1      1
";
    assert_eq!(text, expected, "\n{text}");

    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["unanswered"][0]["count"], 5);
    assert_eq!(json["unanswered"][0]["askers"], 3);
    assert_eq!(json["disliked"][0]["passage_id"], "p-humectant");
    assert_eq!(json["disliked"][0]["down"], 2, "one person's two 👎 count once");
    assert_eq!(json["disliked"].as_array().unwrap().len(), 1, "a 👎 taken back is not listed");
    assert_eq!(json["per_day"][1]["down"], 3);
    assert_eq!(json["totals"]["answered"], 4);

    let last_day =
        build_report(&db, &ReportOptions { days: Some(1), ..Default::default() }, MARCH_1 + 2 * DAY + 600)
            .unwrap();
    assert_eq!(last_day.since.as_deref(), Some("2024-03-02"));
    assert_eq!(last_day.per_day.iter().map(|d| d.day.as_str()).collect::<Vec<_>>(), ["2024-03-03"]);
    let top1 = build_report(&db, &ReportOptions { top: 1, ..Default::default() }, MARCH_1).unwrap();
    assert_eq!(top1.unanswered.len(), 1);
}

#[test]
fn run_report_names_sections_and_speaks_json() {
    let ws = Workspace::shipped();
    let (retriever, _) = ws.open();
    let passage = retriever.answer("Is collagen a humectant?").unwrap().passage_id.unwrap();
    let section = retriever.passage(&passage).unwrap().unwrap().0.heading_path.join(" > ");
    drop(seeded(&ws.path("data"), &passage));
    let config = records_config(&ws.path("data"));

    let text = run_report(&config, &ws.path("index"), &ReportOptions::default()).unwrap();
    assert!(text.contains(&format!("{passage}  {section}")), "{text}");
    let json =
        run_report(&config, &ws.path("index"), &ReportOptions { json: true, ..Default::default() }).unwrap();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["disliked"][0]["section"].as_array().unwrap().len(), section.split(" > ").count());

    let missing = records_config(&ws.path("nowhere"));
    let e = run_report(&missing, &ws.path("index"), &ReportOptions::default()).unwrap_err();
    assert!(e.is_user_error() && e.to_string().contains("no records yet"), "{e}");
    assert!(!ws.path("nowhere/citebot.db").exists(), "report never creates a database");
}

#[test]
fn old_rows_are_pruned_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = records_config(dir.path());
    {
        let mut db = Database::open(&config.database()).unwrap();
        let key = UserKey::new(b"k".to_vec());
        let now = citebot::records::now();
        db.insert(&[
            Row::new(now - 91 * DAY, Record::Decline(decline("too old", None)), &key),
            Row::new(now - 89 * DAY, Record::Decline(decline("kept", None)), &key),
        ])
        .unwrap();
    }
    let recorder = Recorder::start(&config).unwrap();
    assert!(recorder.flush(Duration::from_secs(10)));
    drop(recorder);
    let kept: Vec<String> = rusqlite::Connection::open(config.database())
        .unwrap()
        .prepare("SELECT question FROM declines")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept, ["kept"]);
}

#[test]
fn recorders_are_cheap_to_share_across_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(&records_config(dir.path())).unwrap();
    shareable(&recorder);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let r = recorder.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    r.record_decline(decline(&format!("question {t} {i}"), Some(t)));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(recorder.flush(Duration::from_secs(10)));
    assert_eq!(recorder.written() + recorder.dropped(), 40);
    assert_eq!(count(&config_db(dir.path()), "declines") as u64, recorder.written());
}

fn config_db(dir: &std::path::Path) -> std::path::PathBuf {
    records_config(dir).database()
}

#[test]
fn the_report_turns_declined_and_voted_down_questions_into_example_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded(dir.path(), "p-humectant");
    let report = build_report(&db, &ReportOptions::default(), MARCH_1 + 3 * DAY).unwrap();
    let text = report.as_examples();
    // Every line is a comment or an example line citebot reads.
    let lines: String = text.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    let cases = citebot::eval::parse_cases("report", &lines).unwrap();
    let questions: Vec<&str> = cases.iter().map(|c| c.q.as_str()).collect();
    assert_eq!(
        questions,
        [
            "what is retinol",
            "retinol is what?",
            "Does retinol help acne",
            "Is collagen vegan?",
            "is collagen a humectant",
            "does collagen hydrate"
        ],
        "{text}"
    );
    assert!(cases.iter().all(|c| c.ood.as_deref() == Some("near")));
    assert!(text.starts_with("# From `citebot report --examples`"), "{text}");
}
