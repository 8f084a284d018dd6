//! The command line as a user meets it: output, JSON shape, exit codes and error sentences.

use crate::util::{Workspace, citebot_in, stderr, stdout};
use serde_json::Value;

#[test]
fn ask_prints_excerpt_section_source_and_confidence() {
    let ws = Workspace::shipped();
    let out = ws.citebot(&["ask", "is collagen a humectant?"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("humectant"));
    assert!(text.contains("Section:") && text.contains("Key Dermatological Functions of Collagen Serums"));
    assert!(text.contains("what-does-collagen-serum-do.md#key-dermatological-functions-of-collagen-serums"));
    assert!(text.contains("Confidence:"));
}

fn check_schema(v: &Value) {
    let o = v.as_object().expect("an object");
    assert!(o["question"].is_string());
    assert!(o["answered"].is_boolean());
    let c = o["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&c));
    assert!(o["excerpt"].is_string() || o["excerpt"].is_null());
    assert!(o["section"].as_array().unwrap().iter().all(Value::is_string));
    match &o["source"] {
        Value::Null => {}
        Value::Object(s) => {
            assert!(s["title"].is_string() && s["path"].is_string() && s["anchor"].is_string());
            assert!(s["url"].is_string() || s["url"].is_null());
        }
        other => panic!("source: {other}"),
    }
    for alt in o["alternatives"].as_array().unwrap() {
        assert!(alt["excerpt"].is_string());
        assert!(alt["section"].as_array().unwrap().iter().all(Value::is_string));
        assert!(alt["confidence"].is_number());
    }
}

#[test]
fn ask_json_prints_exactly_one_object() {
    let ws = Workspace::shipped();
    let out = ws.citebot(&["ask", "--json", "does it help after microneedling?"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.trim().lines().count(), 1);
    let v: Value = serde_json::from_str(&text).unwrap();
    check_schema(&v);
    assert_eq!(v["answered"], true);
    assert!(v["section"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().contains("Post-Procedure")));

    let out = ws.citebot(&["ask", "--json", "how do I bake bread"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    check_schema(&v);
    assert_eq!(v["answered"], false);
    assert!(v["excerpt"].is_null());
}

#[test]
fn ask_json_reads_questions_from_stdin_in_order() {
    let ws = Workspace::shipped();
    let out = ws.citebot_stdin(
        &["ask", "--json", "-"],
        "is collagen a humectant\n\nhi\nwhat reduces collagen synthesis\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    let questions: Vec<&str> = lines.iter().map(|v| v["question"].as_str().unwrap()).collect();
    assert_eq!(questions, ["is collagen a humectant", "", "hi", "what reduces collagen synthesis"]);
    let answered: Vec<bool> = lines.iter().map(|v| v["answered"].as_bool().unwrap()).collect();
    assert_eq!(answered, [true, false, false, true]);
    lines.iter().for_each(check_schema);
}

#[test]
fn user_errors_are_one_sentence_and_exit_2() {
    let ws = Workspace::shipped();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["ask", "   "], "question is empty"),
        (vec!["eval", "/nonexistent/q.jsonl"], "could not read the question file"),
    ];
    for (args, needle) in cases {
        let out = ws.citebot(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"));
    }

    ws.write("config.toml", &format!("[corpus]\ndir = {:?}\n", ws.path("missing-corpus")));
    let out = ws.citebot(&["ask", "hello there"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    ws.write("config.toml", "[answer]\nmin_confidence = \"high\"\n");
    let out = ws.citebot(&["ask", "anything"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("min_confidence"), "{}", stderr(&out));

    let out = citebot_in(ws.dir.path(), &["--config", "/nonexistent.toml", "topics"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"));
}

#[test]
fn without_a_corpus_directory_the_built_in_article_answers() {
    let dir = tempfile::tempdir().unwrap();
    let out = citebot_in(dir.path(), &["ask", "--json", "is collagen a humectant"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["answered"], true);
    assert!(!dir.path().join("index").exists(), "nothing is written outside a project");
}

#[test]
fn topics_lists_articles_and_sections() {
    let ws = Workspace::shipped();
    let out = ws.citebot(&["topics"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with("What Does Collagen Serum Do?"));
    assert!(text.contains("Key Takeaways") && text.contains("Hydration-Related Benefits"));
}

#[test]
fn eval_scores_a_question_file() {
    let ws = Workspace::shipped();
    ws.write(
        "q.jsonl",
        "{\"q\":\"is collagen a humectant\",\"expect\":[\"humectant\"]}\n{\"q\":\"how do i bake bread\",\"ood\":\"far\"}\n{\"q\":\"hi\",\"expect\":[\"nothing\"]}\n",
    );
    let out = ws.citebot(&["eval", ws.path("q.jsonl").to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let r = &v["report"];
    assert_eq!(r["questions"], 3);
    assert_eq!(r["in_domain"], 2);
    assert_eq!(r["hit_at_1"], 0.5);
    assert_eq!(r["far_declined"], 1.0);
    assert_eq!(r["wrongful_declines"], 0.5);
    assert!((r["accuracy"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(r["non_verbatim"], 0);

    ws.write("bad.jsonl", "{\"q\":\"x\"}\n");
    let out = ws.citebot(&["eval", ws.path("bad.jsonl").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.jsonl:1"), "{}", stderr(&out));
}

#[test]
fn serve_with_a_bad_token_fails_with_one_clear_line() {
    let ws = Workspace::shipped();
    for (token, needle) in [("not-a-token", "malformed"), ("", "DISCORD_TOKEN")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_citebot"))
            .args(["--config", ws.path("config.toml").to_str().unwrap(), "serve"])
            .env("DISCORD_TOKEN", token)
            .env_remove("CITEBOT__DISCORD__TOKEN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{token:?}");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains("not-a-token"), "the token is never echoed");
    }
}
