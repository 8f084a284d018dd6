//! The index on disk: built on first use, rebuilt when the corpus changes, replaced atomically.

use crate::util::Workspace;
use citebot::app::{self, Rebuild};
use citebot::index::SearchIndex;

fn generations(ws: &Workspace) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(ws.path("index"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gen-"))
        .collect();
    v.sort();
    v
}

#[test]
fn built_on_first_use_then_reused() {
    let ws = Workspace::shipped();
    let (_, first) = ws.open();
    assert!(first.rebuilt);
    let (_, second) = ws.open();
    assert!(!second.rebuilt, "an unchanged corpus reuses the index");
    assert_eq!(generations(&ws).len(), 1);
}

#[test]
fn rebuilt_when_the_corpus_changes() {
    let ws = Workspace::shipped();
    let (r, _) = ws.open();
    assert!(!r.answer("what is niacinamide used for").unwrap().answered);
    ws.write(
        "corpus/niacinamide.md",
        "# Niacinamide\n\n## Uses\n\nNiacinamide calms redness and evens tone.\n",
    );
    let (r, loaded) = ws.open();
    assert!(loaded.rebuilt);
    assert_eq!(loaded.reason.as_deref(), Some("the corpus changed"));
    let a = r.answer("what is niacinamide used for").unwrap();
    assert!(a.answered, "{a:?}");
    assert_eq!(a.excerpt.as_deref(), Some("Niacinamide calms redness and evens tone."));
    assert_eq!(generations(&ws).len(), 1, "the old generation is removed");
}

#[test]
fn an_interrupted_build_leaves_the_previous_index_serving() {
    let ws = Workspace::shipped();
    let (_, _) = ws.open();
    let before = generations(&ws);
    // What a crash mid-build leaves behind: a half-written build directory and files that were never
    // switched to. CURRENT still names the old generation.
    std::fs::create_dir_all(ws.path("index/.build-1-1")).unwrap();
    std::fs::write(ws.path("index/.build-1-1/meta.json"), b"{ trunc").unwrap();
    std::fs::write(ws.path("index/.CURRENT.1-1"), b"gen-").unwrap();
    let (r, loaded) = ws.open();
    assert!(!loaded.rebuilt);
    assert_eq!(generations(&ws), before);
    assert!(r.answer("is collagen a humectant").unwrap().answered);
}

#[test]
fn a_damaged_or_missing_index_is_rebuilt() {
    let ws = Workspace::shipped();
    let (_, _) = ws.open();
    let generation = ws.path("index").join(&generations(&ws)[0]);
    // Truncate every segment file.
    for e in std::fs::read_dir(&generation).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".store") {
            std::fs::write(e.path(), b"").unwrap();
        }
    }
    let (r, loaded) = ws.open();
    assert!(loaded.rebuilt, "damaged segments are detected and rebuilt");
    assert!(r.answer("is collagen a humectant").unwrap().answered);

    std::fs::remove_dir_all(ws.path("index")).unwrap();
    let (r, loaded) = ws.open();
    assert!(loaded.rebuilt);
    assert!(r.answer("is collagen a humectant").unwrap().answered);
}

#[test]
fn an_index_from_another_version_is_rebuilt() {
    let ws = Workspace::shipped();
    let (_, _) = ws.open();
    let generation = ws.path("index").join(&generations(&ws)[0]);
    let meta_path = generation.join("citebot-meta.json");
    let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["schema_version"] = serde_json::json!(0);
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    assert!(SearchIndex::stored_fingerprint(&ws.path("index")).is_none());
    let (_, loaded) = ws.open();
    assert!(loaded.rebuilt);
}

#[test]
fn index_command_always_rebuilds() {
    let ws = Workspace::shipped();
    let (_, _) = ws.open();
    let (_, loaded) = app::open(&ws.config(), Rebuild::Always).unwrap();
    assert!(loaded.rebuilt);
    assert_eq!(generations(&ws).len(), 1);
}

#[test]
fn a_staged_index_serves_only_once_committed() {
    let ws = Workspace::shipped();
    let (_, _) = ws.open();
    let before = generations(&ws);
    ws.write("corpus/extra.md", "# Extra\n\n## Niacinamide\n\nNiacinamide evens skin tone.\n");
    let corpus = citebot::corpus::load_dir(&ws.path("corpus"), &[ws.path("corpus/synonyms.txt")]).unwrap();

    let staged = SearchIndex::build_staged(&corpus, &ws.path("index")).unwrap();
    assert_eq!(staged.index().meta().fingerprint, corpus.fingerprint);
    assert_eq!(generations(&ws), before, "not in service before commit");
    drop(staged);
    assert_eq!(generations(&ws), before, "a dropped stage leaves nothing behind");
    assert!(
        std::fs::read_dir(ws.path("index"))
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with(".build"))
    );

    let staged = SearchIndex::build_staged(&corpus, &ws.path("index")).unwrap();
    let live = staged.commit().unwrap();
    assert_eq!(live.meta().fingerprint, corpus.fingerprint);
    assert_eq!(
        SearchIndex::stored_fingerprint(&ws.path("index")).as_deref(),
        Some(corpus.fingerprint.as_str())
    );
    assert_ne!(generations(&ws), before);
}

#[test]
fn a_swap_leaves_questions_in_flight_on_the_old_index() {
    let ws = Workspace::shipped();
    let (r, _) = ws.open();
    let live = citebot::live::Live::new(r);
    let in_flight = live.current();
    ws.write("corpus/extra.md", "# Extra\n\n## Niacinamide\n\nNiacinamide evens skin tone.\n");
    let (r2, loaded) = ws.open();
    assert!(loaded.rebuilt);
    let old = live.replace(r2);
    assert!(std::sync::Arc::ptr_eq(&old, &in_flight));
    assert!(in_flight.answer("is collagen a humectant").unwrap().answered, "the old index still answers");
    assert!(live.current().answer("does niacinamide even skin tone").unwrap().answered);
}
