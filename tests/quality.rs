//! Each answer-quality mechanism on its own, on small hand-written corpora, and a regression floor on
//! the project's own question set.

use crate::util::{Workspace, stdout};

const ARTICLE: &str = "---\ntitle: Barrier Basics\n---\n\n# Barrier Basics\n\nThe skin barrier keeps water in.\n\n\
## Soothing the Skin\n\nCeramide creams reduce inflammation within days.\n\n\
## Choosing a Moisturiser\n\nA moisturiser with glycerin suits dry skin.\n\n\
## Hyaluronic Acid\n\nHyaluronic acid is a humectant that holds water.\n\nIt pairs well with occlusives.\n\n\
## Key Takeaways\n\n- Protect the barrier first\n- Hydrate daily\n";

fn workspace(synonyms: &str) -> Workspace {
    let ws = Workspace::empty();
    ws.write("corpus/barrier.md", ARTICLE);
    ws.write("corpus/synonyms.txt", synonyms);
    ws
}

#[test]
fn a_synonym_maps_a_lay_word_to_the_article_word() {
    let with = workspace("redness, blotchy => inflammation\n");
    let a = with.open().0.answer("does it help with redness").unwrap();
    assert!(a.answered, "{a:?}");
    assert_eq!(a.excerpt.as_deref(), Some("Ceramide creams reduce inflammation within days."));
    assert!(a.matched.iter().any(|m| m.words == "redness" && format!("{:?}", m.via) == "Some(Synonym)"));

    let without = workspace("");
    let a = without.open().0.answer("does it help with redness").unwrap();
    assert!(!a.answered, "without the synonym the article does not say so: {a:?}");
}

#[test]
fn a_misspelling_is_corrected_against_the_corpus() {
    let ws = workspace("");
    let (r, _) = ws.open();
    for q in ["what is a humectnt", "does ceramid cream help", "hyaluronc acid?"] {
        let a = r.answer(q).unwrap();
        assert!(a.answered, "{q}: {a:?}");
    }
    let a = r.answer("what is a humectnt").unwrap();
    assert_eq!(a.excerpt.as_deref(), Some("Hyaluronic acid is a humectant that holds water."));
}

#[test]
fn british_and_american_spellings_meet() {
    let ws = workspace("");
    let a = ws.open().0.answer("which moisturizer suits dry skin").unwrap();
    assert!(a.answered);
    assert_eq!(a.excerpt.as_deref(), Some("A moisturiser with glycerin suits dry skin."));
}

#[test]
fn a_key_word_the_corpus_never_uses_declines() {
    let ws = workspace("");
    let (r, _) = ws.open();
    let a = r.answer("does the barrier cream work with tretinoin").unwrap();
    assert!(!a.answered, "{a:?}");
    assert!(a.decline_reason.unwrap().contains("tretinoin"));
    assert!(!a.alternatives.is_empty(), "the nearest sections are still offered");
    let a = r.answer("what is the capital of france").unwrap();
    assert!(!a.answered);
}

#[test]
fn a_question_restating_a_heading_is_answered_from_that_section() {
    let ws = workspace("");
    let a = ws.open().0.answer("Choosing a moisturiser?").unwrap();
    assert_eq!(a.section.last().map(String::as_str), Some("Choosing a Moisturiser"));
}

#[test]
fn summary_requests_use_the_summary_section() {
    let ws = workspace("");
    let (r, _) = ws.open();
    // The summary is a list, and the question asks for all of it.
    let takeaways = "- Protect the barrier first\n- Hydrate daily";
    for q in ["tl;dr?", "key takeaways", "summary pls"] {
        let a = r.answer(q).unwrap();
        assert!(a.answered, "{q}: {a:?}");
        assert_eq!(a.excerpt.as_deref(), Some(takeaways), "{q}");
    }
    let a = r.answer("barrier basics").unwrap();
    assert_eq!(
        a.section.last().map(String::as_str),
        Some("Key Takeaways"),
        "a title restatement gets the summary"
    );
}

const LISTS: &str = "---\ntitle: Peel Care\n---\n\n# Peel Care\n\n## After a Peel\n\n\
Skin is raw for a week after a chemical peel.\n\nA gentle routine after a peel should include:\n\n\
- Bland cleansers\n- Thick occlusive balms\n- Daily sunscreen\n\n\
## Healing\n\nA peel does not heal overnight. It heals faster with:\n\n- Rest\n- Shade\n\n";

#[test]
fn a_question_about_a_list_as_a_whole_gets_the_whole_list() {
    let ws = Workspace::empty();
    ws.write("corpus/peel.md", LISTS);
    let (r, _) = ws.open();
    let whole = "A gentle routine after a peel should include:\n- Bland cleansers\n- Thick occlusive balms\n\
                 - Daily sunscreen";

    // The question's words are the lead-in's: the answer is the list, lead-in first, verbatim.
    let a = r.answer("what should a gentle routine include after a peel?").unwrap();
    assert!(a.answered, "{a:?}");
    assert_eq!(a.excerpt.as_deref(), Some(whole));
    assert_eq!(a.context, None, "the lead-in is part of the quote, not shown twice");
    assert!(citebot::eval::is_verbatim(whole, LISTS));
    assert!(a.alternatives.iter().all(|alt| !alt.excerpt.contains("sunscreen")), "no item twice");

    // The question names one item: that item alone, with its lead-in apart.
    let a = r.answer("are thick occlusive balms ok after a peel").unwrap();
    assert_eq!(a.excerpt.as_deref(), Some("Thick occlusive balms"));
    assert_eq!(a.context.as_deref(), Some("A gentle routine after a peel should include:"));

    // A question that two items answer alike does not tell them apart: the list.
    let a = r.answer("bland cleansers or thick balms after a peel?").unwrap();
    assert_eq!(a.excerpt.as_deref(), Some(whole));

    // A paragraph that ends by introducing a list is quoted with the list.
    let a = r.answer("does a peel heal overnight").unwrap();
    assert_eq!(
        a.excerpt.as_deref(),
        Some("A peel does not heal overnight. It heals faster with:\n- Rest\n- Shade")
    );

    // A list too long for an excerpt is not quoted whole: one item is, with its lead-in apart.
    let ws = Workspace::empty();
    let long = format!("Daily sunscreen{}", ", reapplied every two hours outdoors".repeat(25));
    ws.write("corpus/peel.md", &LISTS.replace("Daily sunscreen", &long));
    let a = ws.open().0.answer("what should a gentle routine include after a peel?").unwrap();
    assert!(a.answered, "{a:?}");
    assert!(!a.excerpt.unwrap().contains('\n'));
    assert_eq!(a.context.as_deref(), Some("A gentle routine after a peel should include:"));
}

const TABLE: &str = "---\ntitle: Actives\n---\n\n# Actives\n\n## Compared\n\n\
The table below compares three actives.\n\n| Active | Job |\n| --- | --- |\n\
| Niacinamide | Calms blotches |\n| Retinol | Speeds turnover |\n| Azelaic acid | Fades marks |\n";

#[test]
fn a_question_about_a_table_as_a_whole_gets_the_whole_table() {
    let ws = Workspace::empty();
    ws.write("corpus/actives.md", TABLE);
    let (r, _) = ws.open();
    let whole = "The table below compares three actives.\nActive: Niacinamide; Job: Calms blotches\n\
                 Active: Retinol; Job: Speeds turnover\nActive: Azelaic acid; Job: Fades marks";
    let a = r.answer("how do the three actives compare").unwrap();
    assert_eq!(a.excerpt.as_deref(), Some(whole));
    assert!(citebot::eval::is_verbatim(whole, &TABLE.replace('|', " ")));
    // One row named: that row.
    let a = r.answer("what does retinol do").unwrap();
    assert_eq!(a.excerpt.as_deref(), Some("Active: Retinol; Job: Speeds turnover"));
}

#[test]
fn definition_questions_prefer_the_defining_sentence() {
    let ws = workspace("");
    let a = ws.open().0.answer("what is hyaluronic acid").unwrap();
    assert_eq!(a.excerpt.as_deref(), Some("Hyaluronic acid is a humectant that holds water."));
}

#[test]
fn generic_words_alone_do_not_make_an_answer() {
    let ws = workspace("");
    let (r, _) = ws.open();
    for q in ["is it good", "does it work", "how do i use it", "what should i do"] {
        assert!(!r.answer(q).unwrap().answered, "{q}");
    }
}

#[test]
fn own_question_set_stays_above_its_floor() {
    let ws = Workspace::shipped();
    let file = crate::util::root().join("tests/eval/own-questions.jsonl");
    let out = ws.citebot(&["eval", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let r = &v["report"];
    // A regression floor below the measured figures, not a target. The set's own questions are
    // among the shipped examples: eval leaves them out, so this measures unseen wording.
    assert!(r["examples_held_out"].as_u64().unwrap() > 0, "{r}");
    assert!(r["accuracy"].as_f64().unwrap() >= 0.85, "{r}");
    assert_eq!(r["far_declined"].as_f64().unwrap(), 1.0, "{r}");
    assert_eq!(r["non_verbatim"], 0, "{r}");
}

const EXAMPLES: &str =
    "{\"q\": \"will it stop my face feeling tight in winter\", \"expect\": [\"suits dry skin\"]}\n";

#[test]
fn an_example_question_leads_to_its_passage_when_the_words_do_not() {
    // Nothing in the article or the synonyms says "tight": only the example question does.
    let q = "does it stop skin feeling tight";
    let ws = workspace("");
    let a = ws.open().0.answer(q).unwrap();
    assert!(!a.answered, "without the example the article does not say so: {a:?}");

    ws.write("corpus/examples.jsonl", EXAMPLES);
    let a = ws.open().0.answer(q).unwrap();
    assert!(a.answered, "{a:?}");
    assert_eq!(a.excerpt.as_deref(), Some("A moisturiser with glycerin suits dry skin."));
    assert_eq!(a.like_question.as_deref(), Some("will it stop my face feeling tight in winter"));

    // A key word neither the article nor the example uses still declines.
    let a = ws.open().0.answer("does it stop hair feeling tight").unwrap();
    assert!(!a.answered, "{a:?}");
}

#[test]
fn eval_leaves_out_the_examples_that_are_its_own_questions() {
    let ws = workspace("");
    ws.write("corpus/examples.jsonl", EXAMPLES);
    ws.write(
        "questions.jsonl",
        "{\"q\": \"Will it stop my face feeling tight in winter?\", \"expect\": [\"suits dry skin\"]}\n",
    );
    let out = ws.citebot(&["eval", ws.path("questions.jsonl").to_str().unwrap(), "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["report"]["examples"], 0, "{v}");
    assert_eq!(v["report"]["examples_held_out"], 1, "{v}");
    assert_eq!(v["outcomes"][0]["answered"], false, "scored without its own example: {v}");
}

#[test]
fn bad_example_lines_are_warnings_and_the_rest_still_count() {
    let ws = workspace("");
    ws.write(
        "corpus/examples.jsonl",
        &format!("not json\n{{\"q\": \"where is it\", \"expect\": [\"no such phrase\"]}}\n{EXAMPLES}"),
    );
    let (r, loaded) = ws.open();
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("examples.jsonl:1"), "{:?}", loaded.warnings);
    assert!(loaded.warnings[1].contains("no passage contains"), "{:?}", loaded.warnings);
    assert_eq!(r.examples(), 1);
}

#[test]
fn a_question_like_a_known_uncovered_one_is_declined() {
    let q = "does glycerin make a moisturiser suit dry skin better than water";
    let ws = workspace("");
    let a = ws.open().0.answer(q).unwrap();
    assert!(a.answered, "its words all match the moisturiser passage: {a:?}");

    ws.write(
        "corpus/examples.jsonl",
        "{\"q\": \"is glycerin better than water in a moisturiser for dry skin\", \"ood\": \"near\"}\n",
    );
    let a = ws.open().0.answer(q).unwrap();
    assert!(!a.answered, "{a:?}");
    let reason = a.decline_reason.unwrap();
    assert!(
        reason.contains("known not to answer") && reason.contains("better than water in a moisturiser"),
        "{reason}"
    );
    assert!(!a.alternatives.is_empty(), "the nearest sections are still offered");
    // Other questions about the passage are still answered.
    assert!(ws.open().0.answer("which moisturiser suits dry skin").unwrap().answered);
}

#[test]
fn a_near_example_a_passage_answers_in_full_is_left_out_with_a_warning() {
    let ws = workspace("");
    // "%" is no word: what is left of this line is what the glycerin passage says.
    ws.write("corpus/examples.jsonl", "{\"q\": \"glycerin moisturiser dry skin %\", \"ood\": \"near\"}\n");
    let (r, loaded) = ws.open();
    assert!(
        loaded.warnings.iter().any(|w| w.contains("marked near") && w.contains("left out")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(r.examples(), 0);
    assert!(r.answer("does a glycerin moisturiser suit dry skin").unwrap().answered);
}

#[test]
fn a_question_asking_how_long_or_how_many_needs_a_passage_that_says() {
    let ws = Workspace::empty();
    ws.write(
        "corpus/care.md",
        "# Care\n\n## Moisturiser\n\nA moisturiser with glycerin suits dry skin.\n\n\
         ## Sunscreen\n\nReapply sunscreen every two hours outdoors.\n",
    );
    let (r, _) = ws.open();
    // The sunscreen passage states a time: it answers.
    let a = r.answer("how often should i reapply sunscreen").unwrap();
    assert!(a.answered, "{a:?}");
    assert!(a.excerpt.unwrap().contains("every two hours"));
    // The moisturiser passage matches every word but states no amount: not covered.
    let q = "how much glycerin should a moisturiser for dry skin have";
    let a = r.answer(q).unwrap();
    assert!(!a.answered, "{a:?}");
    assert!(a.decline_reason.as_deref().unwrap().contains("amount or a time"), "{:?}", a.decline_reason);
    assert!(
        r.answer("which moisturiser suits dry skin").unwrap().answered,
        "the same words, no amount asked"
    );
}

#[test]
fn analysed_example_questions_are_saved_beside_the_index_and_reused_only_when_current() {
    let q = "does it stop skin feeling tight";
    let ws = workspace("");
    ws.write("corpus/examples.jsonl", EXAMPLES);
    let a = ws.open().0.answer(q).unwrap();
    assert_eq!(a.like_question.as_deref(), Some("will it stop my face feeling tight in winter"));
    let saved = ws.path("index/analysed-examples.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();

    // A start with nothing changed reuses the saved analysis (here altered to show it).
    v["items"][0]["question"] = "saved copy".into();
    std::fs::write(&saved, v.to_string()).unwrap();
    assert_eq!(ws.open().0.answer(q).unwrap().like_question.as_deref(), Some("saved copy"));

    // A changed examples file is analysed again.
    ws.write(
        "corpus/examples.jsonl",
        &format!("{EXAMPLES}{{\"q\": \"is it sticky\", \"expect\": [\"holds water\"]}}\n"),
    );
    let a = ws.open().0.answer(q).unwrap();
    assert_eq!(a.like_question.as_deref(), Some("will it stop my face feeling tight in winter"));

    // A damaged file only costs the time to analyse again.
    std::fs::write(&saved, "{not json").unwrap();
    let (r, loaded) = ws.open();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(
        r.answer(q).unwrap().like_question.as_deref(),
        Some("will it stop my face feeling tight in winter")
    );
}

#[test]
fn examples_meant_for_another_corpus_make_one_summary_warning_not_a_flood() {
    let ws = workspace("");
    let lines: String = (0..40)
        .map(|i| format!("{{\"q\": \"question {i}\", \"expect\": [\"not in this corpus {i}\"]}}\n"))
        .collect();
    ws.write("corpus/examples.jsonl", &lines);
    let (r, loaded) = ws.open();
    assert_eq!(loaded.warnings.len(), 5, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[4].starts_with("36 more example questions point to no passage"),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(r.examples(), 0);
    assert!(r.answer("which moisturiser suits dry skin").unwrap().answered);
}
