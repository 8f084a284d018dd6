//! Hostile and odd input: questions and corpus files that must never crash or mislead, and an index
//! that disappears or is killed mid-build. Property tests run a few hundred cases by default; the
//! ignored `fuzz_*` tests run for `CITEBOT_FUZZ_SECONDS` (see scripts/fuzz.sh).

use crate::util::{Workspace, citebot_in, stderr};
use citebot::app;
use citebot::index::SearchIndex;
use citebot::retrieval::{Retriever, Settings};
use citebot::synonyms::Synonyms;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRng, TestRunner};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn shipped() -> &'static Retriever {
    static R: OnceLock<Retriever> = OnceLock::new();
    R.get_or_init(|| {
        let index = SearchIndex::build_in_ram(&app::embedded_corpus()).unwrap();
        Retriever::new(index, Synonyms::parse(app::EMBEDDED_SYNONYMS).0, Settings::default())
    })
}

/// Every passage's text and lead-in.
fn passages() -> &'static Vec<String> {
    static P: OnceLock<Vec<String>> = OnceLock::new();
    P.get_or_init(|| {
        app::embedded_corpus()
            .articles
            .iter()
            .flat_map(|a| {
                a.passages.iter().flat_map(|p| std::iter::once(p.text.clone()).chain(p.context.clone()))
            })
            .collect()
    })
}

/// Pieces people (and attackers) type: query syntax, mentions, control and invisible characters.
fn odd_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("title:x AND (".to_string()),
        Just("*".to_string()),
        Just("~2".to_string()),
        Just("\"unbalanced".to_string()),
        Just("collagen^5".to_string()),
        Just("@everyone".to_string()),
        Just("<@&123456789012345678>".to_string()),
        Just("<@42>".to_string()),
        Just("```rust\nfn x(){}\n```".to_string()),
        Just("||spoiler||".to_string()),
        Just("[click](http://example.test)".to_string()),
        Just("\u{202e}evil\u{202c}".to_string()),
        Just("a\u{200b}b\u{feff}".to_string()),
        Just("🧴💧✨".to_string()),
        Just("\u{0}\u{7}\u{1b}[31m".to_string()),
        Just("hydration".to_string()),
        Just("post-procedure".to_string()),
        "\\PC{0,20}".prop_map(|s| s),
        any::<String>(),
    ]
}

fn question() -> impl Strategy<Value = String> {
    prop::collection::vec(odd_piece(), 0..8).prop_map(|v| v.join(" "))
}

fn check_answer(q: &str) -> Result<(), TestCaseError> {
    let a = shipped().answer(q).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!((0.0..=1.0).contains(&a.confidence));
    if a.answered {
        let ex = a.excerpt.as_deref().unwrap_or_default();
        prop_assert!(!ex.is_empty() && ex.chars().count() <= 700);
        // A quoted list is its lead-in and its items, a line each after "- ".
        let verbatim =
            |line: &str| passages().iter().any(|p| p.contains(line.strip_prefix("- ").unwrap_or(line)));
        prop_assert!(ex.lines().all(verbatim), "excerpt not verbatim: {ex}");
        for &(s, e) in &a.highlights {
            prop_assert!(s < e && e <= ex.len() && ex.is_char_boundary(s) && ex.is_char_boundary(e));
        }
    } else {
        prop_assert!(a.excerpt.is_none());
    }
    Ok(())
}

proptest! {
    #![proptest_config(RunnerConfig { cases: 300, failure_persistence: None, ..RunnerConfig::default() })]

    #[test]
    fn any_question_gets_an_answer_or_a_decline(q in question()) {
        check_answer(&q)?;
    }

    #[test]
    fn any_bytes_as_an_article_never_crash_the_parser(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = citebot::corpus::parse_file(Path::new("fuzz.md"), "fuzz.md", &bytes);
    }

    #[test]
    fn markdown_shaped_text_parses_into_verbatim_passages(doc in markdown_doc()) {
        let (article, _) = citebot::corpus::parse_file(Path::new("doc.md"), "doc.md", doc.as_bytes());
        if let Some(article) = article {
            for p in &article.passages {
                prop_assert!(!p.text.is_empty());
                for word in p.text.split_whitespace().filter(|w| !w.contains(':') && !w.contains(';')) {
                    prop_assert!(doc.contains(word), "{word:?} is not in the source");
                }
            }
        }
    }
}

fn markdown_doc() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "# [A-Za-z ]{1,20}",
        "## [A-Za-z ]{1,20}",
        "### [A-Za-z ]{0,20}",
        "- [A-Za-z .]{0,30}",
        "1\\. [A-Za-z .]{0,30}",
        "\\| [a-z]{1,5} \\| [a-z]{0,5} \\|",
        "\\| --- \\| --- \\|",
        "[A-Za-z .,:]{0,60}",
        "> [a-z ]{0,20}",
        "```",
        "---",
        "\\*\\*[a-z]{1,8}\\*\\*: [a-z ]{0,20}",
        "",
    ];
    prop::collection::vec(line, 0..30).prop_map(|v| v.join("\n"))
}

#[test]
fn a_100k_character_question_is_cut_before_analysis() {
    let long = "does collagen help hydration ".repeat(4000);
    assert!(long.chars().count() > 100_000);
    let a = shipped().answer(&long).unwrap();
    assert!(a.answered || a.decline_reason.is_some());
    // Bounded work: only the first MAX_QUESTION_CHARS characters are analysed.
    assert_eq!(shipped().analyse(&long).text.chars().count(), citebot::question::MAX_QUESTION_CHARS);
}

#[test]
fn deleting_the_index_while_serving_does_not_stop_answers() {
    let ws = Workspace::shipped();
    let (r, _) = ws.open();
    assert!(r.answer("is collagen a humectant").unwrap().answered);
    std::fs::remove_dir_all(ws.path("index")).unwrap();
    for _ in 0..3 {
        assert!(r.answer("is collagen a humectant").unwrap().answered);
        assert!(r.answer("what reduces collagen synthesis").unwrap().answered);
    }
    let (_, loaded) = ws.open();
    assert!(loaded.rebuilt, "the next start rebuilds it");
}

#[test]
fn kill_9_during_index_leaves_a_working_start() {
    let ws = Workspace::shipped();
    // A corpus big enough that the build takes a moment.
    let para = std::fs::read_to_string(crate::util::shipped_article()).unwrap();
    for i in 0..40 {
        ws.write(
            &format!("corpus/copy-{i}.md"),
            &para.replace("# What Does", &format!("# Copy {i} of What Does")),
        );
    }
    let (_, _) = ws.open();
    ws.write("corpus/new.md", "# New\n\n## Part\n\nNiacinamide evens skin tone.\n");
    for delay_ms in [5u64, 40, 150] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_citebot"))
            .args(["--config", ws.path("config.toml").to_str().unwrap(), "index"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let out = citebot_in(
            ws.dir.path(),
            &["--config", ws.path("config.toml").to_str().unwrap(), "ask", "does niacinamide even skin tone"],
            None,
        );
        assert!(out.status.success(), "after a kill at {delay_ms} ms: {}", stderr(&out));
    }
}

/// Runs `check` on values from `strategy` until the time budget is spent.
fn fuzz_for<S: Strategy>(strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let seconds: u64 = std::env::var("CITEBOT_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let started = Instant::now();
    let mut round = 0u64;
    let mut cases = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        round += 1;
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&round.to_le_bytes());
        let config = RunnerConfig { cases: 500, failure_persistence: None, ..RunnerConfig::default() };
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(Default::default(), &seed));
        if let Err(e) = runner.run(&strategy, &check) {
            panic!("fuzz round {round} failed: {e}");
        }
        cases += 500;
    }
    eprintln!("{cases} cases in {:?} without a failure", started.elapsed());
}

#[test]
#[ignore = "long: run with scripts/fuzz.sh"]
fn fuzz_question_analysis() {
    fuzz_for(question(), |q| check_answer(&q));
}

#[test]
#[ignore = "long: run with scripts/fuzz.sh"]
fn fuzz_markdown_parser() {
    fuzz_for(
        prop_oneof![markdown_doc().prop_map(String::into_bytes), prop::collection::vec(any::<u8>(), 0..4000)],
        |bytes| {
            let _ = citebot::corpus::parse_file(Path::new("fuzz.md"), "fuzz.md", &bytes);
            Ok(())
        },
    );
}
