//! Parsing the shipped article and broken inputs.

use crate::util::{Workspace, shipped_article};
use citebot::corpus::{self, PassageKind};
use std::path::Path;

fn shipped() -> corpus::Article {
    let bytes = std::fs::read(shipped_article()).unwrap();
    let (article, warnings) =
        corpus::parse_file(&shipped_article(), "what-does-collagen-serum-do.md", &bytes);
    assert!(warnings.is_empty(), "{warnings:?}");
    article.expect("the shipped article parses")
}

#[test]
fn shipped_article_has_its_sections() {
    let a = shipped();
    assert_eq!(a.meta.title, "What Does Collagen Serum Do? Benefits for Skin Firmness, Hydration & Repair");
    // The introduction, 12 sections and 3 sub-sections.
    assert_eq!(a.sections.len(), 16);
    let subs: Vec<&str> =
        a.sections.iter().filter(|s| s.heading_path.len() == 3).map(|s| s.heading_path[2].as_str()).collect();
    assert_eq!(
        subs,
        [
            "Key Dermatological Functions of Collagen Serums",
            "Firmness Benefits Explained",
            "Hydration-Related Benefits"
        ]
    );
    let firmness =
        a.sections.iter().find(|s| s.heading_path.last().unwrap() == "Firmness Benefits Explained").unwrap();
    assert_eq!(firmness.heading_path[1], "What Does Collagen Serum Do for Skin Firmness?");
    assert_eq!(firmness.anchor, "firmness-benefits-explained");
}

#[test]
fn tables_become_rows_with_their_headers() {
    let a = shipped();
    let rows: Vec<&str> =
        a.passages.iter().filter(|p| p.kind == PassageKind::TableRow).map(|p| p.text.as_str()).collect();
    assert_eq!(rows.len(), 9, "4 actives and 5 claims");
    assert_eq!(
        rows[1],
        "Ingredient: Hyaluronic Acid; Primary Function: Water binding; Penetration Target: Epidermis; Best Use Case: Dehydration, plumping"
    );
    assert_eq!(
        rows[6],
        "Claim: Replaces lost collagen; Evidence-Based?: ✘ No; Explanation: Molecules do not integrate into dermis"
    );
}

#[test]
fn list_items_are_passages_with_their_lead_in_as_context() {
    let a = shipped();
    let functions: Vec<&corpus::Passage> = a
        .passages
        .iter()
        .filter(|p| p.heading_path.last().unwrap() == "Key Dermatological Functions of Collagen Serums")
        .filter(|p| p.kind == PassageKind::ListItem)
        .collect();
    let names: Vec<&str> = functions.iter().map(|p| p.text.split(':').next().unwrap()).collect();
    assert_eq!(names, ["Hydration Enhancement", "Barrier Support", "Surface Smoothing", "Recovery Support"]);
    assert_eq!(
        functions[0].text,
        "Hydration Enhancement: Collagen acts as a humectant, helping attract and bind water at the stratum corneum."
    );
    let who: Vec<&corpus::Passage> = a
        .passages
        .iter()
        .filter(|p| p.heading_path.last().unwrap() == "Who Should Use a Collagen Serum?")
        .collect();
    assert_eq!(who[0].text, "Dry or dehydrated skin");
    assert_eq!(who[0].context.as_deref(), Some("Dermatologists commonly recommend collagen serums for:"));
    assert!(
        !who.iter().any(|p| p.text == "Dermatologists commonly recommend collagen serums for:"),
        "a lone lead-in sentence is context, not a passage"
    );
    let biology = a.passages.iter().find(|p| p.text == "Loss of firmness and elasticity").unwrap();
    assert_eq!(biology.context.as_deref(), Some("This imbalance contributes to:"));
}

#[test]
fn every_passage_is_verbatim_source_text() {
    let a = shipped();
    let source = std::fs::read_to_string(shipped_article()).unwrap().replace("**", "");
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds/000_007d6072bc78e576.txt");
    let seed = std::fs::read_to_string(seed).ok().map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
    for p in &a.passages {
        let pieces: Vec<String> = match p.kind {
            PassageKind::TableRow => p
                .text
                .split("; ")
                .flat_map(|pair| pair.splitn(2, ": ").map(str::to_string).collect::<Vec<_>>())
                .collect(),
            _ => vec![p.text.clone()],
        };
        for piece in pieces {
            assert!(source.contains(&piece), "not in the Markdown: {piece:?}");
            if let Some(seed) = &seed {
                // The seed lost its markup: "Name: text" list items read "Name text" there.
                let plain = piece.replacen(": ", " ", 1);
                assert!(seed.contains(&piece) || seed.contains(&plain), "not in the seed article: {piece:?}");
            }
        }
    }
}

#[test]
fn passage_ids_are_stable_and_unique() {
    let a = shipped();
    let b = shipped();
    let ids: Vec<&str> = a.passages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, b.passages.iter().map(|p| p.id.as_str()).collect::<Vec<_>>());
    let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());
    assert!(ids.iter().all(|id| id.len() == 12));
}

/// (file name, content, expected: an article is kept, a warning mentions this).
const BROKEN: &[(&str, &[u8], bool, &str)] = &[
    ("latin1.md", b"# Title\n\nCaf\xe9 au lait\n", false, "UTF-8"),
    ("empty.md", b"  \n\n", false, "empty"),
    ("binary.md", b"\x00\x01\x02PNG", false, "binary"),
    ("no-headings.md", b"Just a paragraph about collagen.\n\nAnother one.\n", true, "no headings"),
    ("bad-front.md", b"---\ntitle: [unclosed\n---\n# Real Title\n\nText here.\n", true, "front matter"),
    ("unclosed-front.md", b"---\ntitle: x\n# Heading\n\nText.\n", true, "never closed"),
    ("only-headings.md", b"# A\n## B\n", false, "no text"),
];

#[test]
fn broken_files_warn_with_file_and_line_and_others_still_load() {
    let ws = Workspace::empty();
    ws.write("corpus/good.md", "# Good\n\nCollagen is a protein.\n");
    for (name, bytes, _, _) in BROKEN {
        ws.write_bytes(&format!("corpus/{name}"), bytes);
    }
    ws.write_bytes("corpus/huge.md", &vec![b'a'; (corpus::MAX_FILE_BYTES + 1) as usize]);
    let loaded = corpus::load_dir(&ws.path("corpus"), &[]).unwrap();
    let titles: Vec<&str> = loaded.articles.iter().map(|a| a.meta.title.as_str()).collect();
    assert!(titles.contains(&"Good"));
    for (name, _, kept, needle) in BROKEN {
        let w = loaded
            .warnings
            .iter()
            .find(|w| w.file.ends_with(name))
            .unwrap_or_else(|| panic!("no warning for {name}: {:?}", loaded.warnings));
        assert!(w.message.contains(needle), "{name}: {w}");
        assert!(w.to_string().contains(name), "the warning names the file: {w}");
        let has_article = loaded.articles.iter().any(|a| a.path == *name);
        assert_eq!(has_article, *kept, "{name}");
    }
    let latin = loaded.warnings.iter().find(|w| w.file.ends_with("latin1.md")).unwrap();
    assert_eq!(latin.line, Some(3), "the line of the first bad byte");
    assert!(loaded.warnings.iter().any(|w| w.file.ends_with("huge.md") && w.message.contains("limit")));
    let bad_front = loaded.articles.iter().find(|a| a.path == "bad-front.md").unwrap();
    assert_eq!(bad_front.meta.title, "Real Title", "the first heading stands in for a broken title");
}

#[test]
fn front_matter_fields_are_read_and_unknown_ones_kept() {
    let ws = Workspace::empty();
    ws.write(
        "corpus/a.md",
        "---\ntitle: Serum Guide\nurl: https://example.test/guide\npublisher: Example\npublished: 2024-05-01\nreviewer: Dr. X\n---\n\n## Use\n\nApply twice daily.\n",
    );
    let c = corpus::load_dir(&ws.path("corpus"), &[]).unwrap();
    let m = &c.articles[0].meta;
    assert_eq!(m.title, "Serum Guide");
    assert_eq!(m.url.as_deref(), Some("https://example.test/guide"));
    assert_eq!(m.publisher.as_deref(), Some("Example"));
    assert_eq!(m.published.as_deref(), Some("2024-05-01"));
    assert_eq!(m.extra.get("reviewer").map(String::as_str), Some("Dr. X"));
    assert_eq!(c.articles[0].passages[0].heading_path, ["Serum Guide", "Use"]);
}

#[test]
fn plain_text_articles_become_sections() {
    let ws = Workspace::empty();
    ws.write(
        "corpus/notes.txt",
        "Serum Notes\n\nSerums are light.\n\nStorage\n\nKeep it cool and dark.\nClose the cap:\n- after each use\n- tightly\n",
    );
    let c = corpus::load_dir(&ws.path("corpus"), &[]).unwrap();
    let a = &c.articles[0];
    assert_eq!(a.meta.title, "Serum Notes");
    let storage: Vec<&str> = a
        .passages
        .iter()
        .filter(|p| p.heading_path.last().unwrap() == "Storage")
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(storage, ["Keep it cool and dark. Close the cap:", "after each use", "tightly"]);
}
