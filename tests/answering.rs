//! Answers on the shipped article: the right passage, verbatim, sourced; declines when not covered.

use crate::util::Workspace;
use citebot::question::Origin;
use citebot::retrieval::Retriever;
use std::sync::OnceLock;

fn shipped() -> &'static Retriever {
    static R: OnceLock<(Workspace, Retriever)> = OnceLock::new();
    &R.get_or_init(|| {
        let ws = Workspace::shipped();
        let (r, _) = ws.open();
        (ws, r)
    })
    .1
}

#[test]
fn microneedling_is_answered_from_the_post_procedure_section() {
    let a = shipped().answer("does it help after microneedling?").unwrap();
    assert!(a.answered, "{a:?}");
    assert_eq!(a.section.last().unwrap(), "Collagen Serums in Post-Procedure Skincare");
    assert!(a.excerpt.as_deref().unwrap().contains("post-microneedling"));
    let src = a.source.as_ref().unwrap();
    assert_eq!(src.path, "what-does-collagen-serum-do.md");
    assert_eq!(src.anchor, "collagen-serums-in-post-procedure-skincare");
}

#[test]
fn chit_chat_and_off_topic_questions_are_declined() {
    for q in
        ["hi", "lol", "thanks!", "what?", "??", "ok", "how do I bake bread", "who won the game last night"]
    {
        let a = shipped().answer(q).unwrap();
        assert!(!a.answered, "{q:?} was answered: {:?}", a.excerpt);
        assert!(a.excerpt.is_none());
        assert!(a.decline_reason.is_some());
    }
}

#[test]
fn a_decline_still_points_to_the_nearest_sections() {
    let a = shipped().answer("Can I use collagen serum with tretinoin at night?").unwrap();
    assert!(!a.answered);
    assert!(a.decline_reason.as_deref().unwrap().contains("tretinoin"), "{:?}", a.decline_reason);
    assert!(!a.alternatives.is_empty() && a.alternatives.len() <= 3);
    let sections: std::collections::HashSet<_> =
        a.alternatives.iter().map(|x| x.section_id.clone()).collect();
    assert_eq!(sections.len(), a.alternatives.len(), "distinct sections");
}

#[test]
fn excerpts_are_verbatim_with_highlight_offsets() {
    let article = std::fs::read_to_string(crate::util::shipped_article()).unwrap().replace("**", "");
    for q in [
        "is collagen a humectant",
        "what should post-procedure skincare prioritise",
        "who should use a collagen serum",
    ] {
        let a = shipped().answer(q).unwrap();
        let ex = a.excerpt.as_deref().unwrap_or_else(|| panic!("{q} declined"));
        assert!(ex.chars().count() <= 700);
        assert!(citebot::eval::is_verbatim(ex, &article), "{ex}");
        for &(s, e) in &a.highlights {
            assert!(ex.is_char_boundary(s) && ex.is_char_boundary(e) && s < e);
        }
        assert!((0.0..=1.0).contains(&a.confidence));
    }
    let a = shipped().answer("is collagen a humectant").unwrap();
    let ex = a.excerpt.unwrap();
    let marked: Vec<&str> = a.highlights.iter().map(|&(s, e)| &ex[s..e]).collect();
    assert!(marked.contains(&"humectant") && marked.contains(&"Collagen"), "{marked:?}");
}

#[test]
fn long_passages_are_cut_at_sentence_boundaries() {
    let ws = Workspace::empty();
    let sentence = "Collagen supports the skin barrier in several ways that researchers have studied.";
    let filler = "Other topics are discussed at length in this paragraph without the key word.";
    let mut para = Vec::new();
    for i in 0..20 {
        para.push(if i == 12 {
            "Humectants bind water in the outer layer of the skin."
        } else if i % 2 == 0 {
            sentence
        } else {
            filler
        });
    }
    ws.write("corpus/long.md", &format!("# Long\n\n## Part\n\n{}\n", para.join(" ")));
    let (r, _) = ws.open();
    let a = r.answer("do humectants bind water").unwrap();
    let ex = a.excerpt.unwrap();
    assert!(a.truncated);
    assert!(ex.chars().count() <= 700);
    assert!(ex.contains("Humectants bind water"), "{ex}");
    assert!(ex.ends_with('.') && para.join(" ").contains(&ex));
}

#[test]
fn word_families_and_thesaurus_synonyms_find_the_articles_words() {
    let ws = Workspace::empty();
    ws.write(
        "corpus/care.md",
        "# Skin care\n\n## Winter\n\nCold air and low humidity bring dryness and tightness.\n\n\
         ## Choosing a cleanser\n\nSelect a cleanser without fragrance.\n\n\
         ## Storage\n\nKeep the bottle closed and away from sunlight.\n",
    );
    let (r, _) = ws.open();
    // "dry" is not in the article; its family member "dryness" is.
    let a = r.answer("why does cold air make it dry").unwrap();
    assert!(a.answered, "{a:?}");
    assert!(a.excerpt.as_deref().unwrap().contains("dryness"));
    assert!(a.matched.iter().any(|m| m.words == "dry" && m.via == Some(Origin::Family)), "{:?}", a.matched);
    // "pick" is not in the article; WordNet's "select" is.
    let a = r.answer("how do i pick a cleanser").unwrap();
    assert!(a.answered, "{a:?}");
    assert_eq!(a.section.last().unwrap(), "Choosing a cleanser");
    assert!(
        a.matched.iter().any(|m| m.words == "pick" && m.via == Some(Origin::Thesaurus)),
        "{:?}",
        a.matched
    );
    // A word with neither still makes the question not covered.
    let a = r.answer("how do i pick a tretinoin cleanser").unwrap();
    assert!(!a.answered, "{a:?}");
}

#[test]
fn the_shipped_example_questions_load_cleanly() {
    let ws = Workspace::shipped();
    let (r, loaded) = ws.open();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(r.examples() > 500, "{}", r.examples());
    // The built-in copy is the same file.
    let lines = std::fs::read_to_string(crate::util::root().join("corpus/examples.jsonl")).unwrap();
    let questions = lines.lines().filter(|l| l.starts_with('{')).count();
    assert_eq!(citebot::app::embedded_examples().len(), questions);
    // `citebot index` reports them.
    let out = ws.citebot(&["index"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{} example questions, 0 warning(s)", r.examples())), "{text}");
}
