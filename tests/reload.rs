//! Hot reload: a new corpus goes into service only after it passes its smoke test, and the bot
//! keeps answering through every reload, good or bad.

use crate::util::Workspace;
use citebot::config::Config;
use citebot::live::Live;
use citebot::reload::{self, ChangeKind, ReloadConfig, ReloadError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Questions the shipped article must keep answering, and one it must keep declining.
const SMOKE: &str = r#"{"q": "Is collagen a humectant?", "expect": ["humectant"]}
{"q": "Can topical collagen reach the dermis?", "expect": ["too large to penetrate", "do not integrate into dermis"]}
{"q": "What is the capital of France?", "ood": "far"}
"#;

const NIACINAMIDE: &str = "\
---
title: What Does Niacinamide Do?
---

# What Does Niacinamide Do?

Niacinamide is a form of vitamin B3 that calms redness and evens skin tone.

## How To Use Niacinamide

Apply niacinamide morning and evening, every other day at first, because it can tingle.
";
const NEW_QUESTION: &str = "What is niacinamide used for?";

const SHIPPED_QUESTION: &str = "Is collagen a humectant?";

struct Setup {
    ws: Workspace,
    config: Config,
    settings: ReloadConfig,
    live: Arc<Live>,
}

fn setup() -> Setup {
    let ws = Workspace::shipped();
    ws.write("smoke.jsonl", SMOKE);
    let (retriever, _) = ws.open();
    let settings = ReloadConfig {
        smoke_file: Some(ws.path("smoke.jsonl")),
        min_accuracy: 1.0,
        debounce_ms: 100,
        ..ReloadConfig::default()
    };
    Setup { config: ws.config(), ws, settings, live: Arc::new(Live::new(retriever)) }
}

impl Setup {
    fn reload(&self) -> Result<reload::ReloadReport, ReloadError> {
        reload::reload(&self.config, &self.settings, &self.live)
    }

    fn assert_still_answering(&self) {
        let a = self.live.current().answer(SHIPPED_QUESTION).unwrap();
        assert!(a.answered && a.excerpt.unwrap().contains("humectant"));
    }

    /// The index directory's entries, for checking that a failed reload left nothing behind.
    fn index_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.ws.path("index"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

#[test]
fn a_good_corpus_goes_into_service_with_what_changed() {
    let s = setup();
    let before = s.live.current();
    assert!(!before.answer(NEW_QUESTION).unwrap().answered);

    s.ws.write("corpus/niacinamide.md", NIACINAMIDE);
    let report = s.reload().unwrap();
    assert_eq!((report.added, report.removed, report.changed), (2, 0, 0), "{report}");
    assert!(
        report
            .changes
            .iter()
            .all(|c| c.kind == ChangeKind::Added && c.section[0] == "What Does Niacinamide Do?")
    );
    assert_eq!(report.previous_version, before.corpus_version());
    assert_ne!(report.corpus_version, report.previous_version);
    let smoke = report.smoke.as_ref().unwrap();
    assert_eq!((smoke.figures.questions, smoke.figures.accuracy), (3, 1.0));
    assert!(report.to_string().contains("2 added, 0 removed, 0 changed"), "{report}");

    let a = s.live.current().answer(NEW_QUESTION).unwrap();
    assert!(a.answered && a.excerpt.unwrap().contains("vitamin B3"));
    s.assert_still_answering();
    // A question that took the old retriever before the swap finishes on it.
    assert!(before.answer(SHIPPED_QUESTION).unwrap().answered);
    drop(before);

    s.ws.write("corpus/niacinamide.md", &NIACINAMIDE.replace("every other day", "twice a week"));
    let report = s.reload().unwrap();
    assert_eq!((report.added, report.removed, report.changed), (0, 0, 1), "{report}");
    assert_eq!(report.changes[0].section, ["What Does Niacinamide Do?", "How To Use Niacinamide"]);

    std::fs::remove_file(s.ws.path("corpus/niacinamide.md")).unwrap();
    let report = s.reload().unwrap();
    assert_eq!((report.added, report.removed, report.changed), (0, 2, 0), "{report}");
    assert!(!s.live.current().answer(NEW_QUESTION).unwrap().answered);
}

#[test]
fn a_corpus_below_the_smoke_floor_is_refused() {
    let s = setup();
    let version = s.live.current().corpus_version().to_string();
    let on_disk = s.index_entries();
    // The shipped article replaced by one that no longer says what the smoke file asks.
    s.ws.write("corpus/what-does-collagen-serum-do.md", NIACINAMIDE);

    let e = s.reload().unwrap_err();
    let ReloadError::BelowFloor { smoke, .. } = &e else { panic!("{e}") };
    assert!(smoke.figures.accuracy < 1.0);
    assert!(smoke.wrong.iter().any(|q| q == "Is collagen a humectant?"), "{smoke}");
    let explained = e.explain();
    assert!(explained.contains("failed its smoke test: accuracy"), "{explained}");
    assert!(explained.contains("keeps serving") && explained.contains("wrong: Is collagen a humectant?"));
    assert!(e.is_user_error());

    assert_eq!(s.live.current().corpus_version(), version);
    s.assert_still_answering();
    assert_eq!(s.index_entries(), on_disk, "the refused build is gone and CURRENT is unchanged");
}

#[test]
fn a_broken_file_is_named_and_the_rest_still_reloads() {
    let s = setup();
    s.ws.write("corpus/niacinamide.md", NIACINAMIDE);
    s.ws.write_bytes("corpus/broken.md", b"# Broken\n\nNot UTF-8: \xff\xfe here.\n");
    let report = s.reload().unwrap();
    assert_eq!(report.added, 2);
    assert!(report.warnings.iter().any(|w| w.contains("broken.md") && w.contains("UTF-8")), "{report}");
    assert!(report.to_string().contains("warning:"), "{report}");
    s.assert_still_answering();
}

#[test]
fn a_corpus_left_with_only_broken_files_is_refused() {
    let s = setup();
    let version = s.live.current().corpus_version().to_string();
    s.ws.write_bytes("corpus/what-does-collagen-serum-do.md", b"\x00\x01binary junk");
    let e = s.reload().unwrap_err();
    assert!(matches!(e, ReloadError::EmptyCorpus { .. }), "{e}");
    assert!(
        e.warnings().iter().any(|w| w.contains("what-does-collagen-serum-do.md") && w.contains("binary"))
    );
    assert!(e.explain().contains("keeps serving"), "{}", e.explain());
    assert_eq!(s.live.current().corpus_version(), version);
    s.assert_still_answering();
}

#[test]
fn a_bad_smoke_file_is_refused_before_building() {
    let mut s = setup();
    s.ws.write("smoke.jsonl", "{\"q\": \"no expectations\"}\n");
    let e = s.reload().unwrap_err();
    assert!(matches!(e, ReloadError::SmokeFile { .. }) && e.to_string().contains("smoke.jsonl:1"), "{e}");
    s.settings.smoke_file = Some(s.ws.path("missing.jsonl"));
    assert!(matches!(s.reload().unwrap_err(), ReloadError::SmokeFile { .. }));
    // Without a smoke file a corpus that loads is enough.
    s.settings.smoke_file = None;
    let report = s.reload().unwrap();
    assert!(report.smoke.is_none());
    assert_eq!((report.added, report.removed, report.changed), (0, 0, 0));
    s.assert_still_answering();
}

#[test]
fn questions_asked_during_reloads_are_all_answered() {
    let s = setup();
    let stop = Arc::new(AtomicBool::new(false));
    let asked = Arc::new(AtomicUsize::new(0));
    let askers: Vec<_> = (0..4)
        .map(|_| {
            let (live, stop, asked) = (s.live.clone(), stop.clone(), asked.clone());
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match live.current().answer(SHIPPED_QUESTION) {
                        Ok(a) if a.answered => {}
                        Ok(a) => failures.push(format!("declined: {a:?}")),
                        Err(e) => failures.push(format!("error: {e}")),
                    }
                    asked.fetch_add(1, Ordering::Relaxed);
                }
                failures
            })
        })
        .collect();

    s.ws.write("corpus/niacinamide.md", NIACINAMIDE);
    let first = s.reload();
    s.ws.write("corpus/what-does-collagen-serum-do.md", "# Only bread\n\nBread is baked.\n");
    let refused = s.reload();
    std::fs::remove_file(s.ws.path("corpus/niacinamide.md")).unwrap();
    s.ws.write(
        "corpus/what-does-collagen-serum-do.md",
        &std::fs::read_to_string(crate::util::shipped_article()).unwrap(),
    );
    let last = s.reload();
    stop.store(true, Ordering::Relaxed);

    let failures: Vec<String> = askers.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(first.is_ok() && refused.is_err() && last.is_ok(), "{first:?} {refused:?} {last:?}");
    assert!(failures.is_empty(), "{} failures, first: {}", failures.len(), failures[0]);
    assert!(asked.load(Ordering::Relaxed) >= 4, "the askers ran");
    s.assert_still_answering();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_reloads_after_changes_and_on_sighup() {
    let s = setup();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher =
        reload::spawn_watcher(s.config.clone(), s.settings.clone(), s.live.clone(), move |result| {
            let _ = tx.send(result.as_ref().map(|r| r.added).map_err(|e| e.to_string()));
        })
        .unwrap();
    assert!(watcher.watches_files() && watcher.listens_for_sighup());

    s.ws.write("corpus/niacinamide.md", NIACINAMIDE);
    let added = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.unwrap().unwrap();
    assert_eq!(added, Ok(2));
    assert!(s.live.current().answer(NEW_QUESTION).unwrap().answered);

    // Let any late events of that write settle, then ask by signal.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while rx.try_recv().is_ok() {}
    let status =
        std::process::Command::new("kill").args(["-HUP", &std::process::id().to_string()]).status().unwrap();
    assert!(status.success());
    let added = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.unwrap().unwrap();
    assert_eq!(added, Ok(0), "nothing changed since the last reload");
    drop(watcher);
    s.assert_still_answering();
}

#[test]
fn the_watcher_needs_a_runtime() {
    let s = setup();
    let e = reload::spawn_watcher(s.config.clone(), s.settings.clone(), s.live.clone(), |_| {}).unwrap_err();
    assert!(e.to_string().contains("async runtime"));
}
