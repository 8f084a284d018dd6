//! Synonyms in the Solr/Elasticsearch format corpus maintainers already know.
//!
//! - `a, b, c`: equivalent; a question with any of them searches for all of them.
//! - `a, b => c, d`: one-way; a question with `a` or `b` searches for `c` and `d` instead.
//! - `#` starts a comment; blank lines are ignored; entries may be several words ("chemical peel").
//!
//! Entries are analysed like everything else (folded, stemmed), so "peels" matches "peel". A line that
//! cannot be read is reported with its number and skipped. This module knows nothing of the index.

use crate::analysis;

/// A sequence of analysed words, matched in order.
pub type Phrase = Vec<String>;

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    /// Phrases that trigger the rule.
    from: Vec<Trigger>,
    /// What to search for instead (content terms only).
    to: Vec<Phrase>,
}

/// One triggering phrase, in the two forms it can match.
#[derive(Debug, Clone, PartialEq)]
struct Trigger {
    /// Every token's term, stop words included.
    full: Phrase,
    /// The content terms, when there are two or more (they may match with stop words between).
    content: Option<Phrase>,
}

/// A loaded synonyms file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Synonyms {
    rules: Vec<Rule>,
    /// First term of a trigger (either form) → (rule, trigger) to try there.
    by_first: std::collections::HashMap<String, Vec<(usize, usize)>>,
}

/// A part of a question that a rule rewrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    /// Index of the first token (in the full token list) the rule matched.
    pub start: usize,
    /// One past the last token matched.
    pub end: usize,
    /// The phrases to search for.
    pub alternatives: Vec<Phrase>,
}

impl Synonyms {
    /// Parses a synonyms file. Returns the rules and one message a line that could not be used.
    pub fn parse(text: &str) -> (Synonyms, Vec<(usize, String)>) {
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (lhs, rhs) = match line.split_once("=>") {
                Some((l, r)) => (l, Some(r)),
                None => (line, None),
            };
            let from: Vec<Trigger> = lhs.split(',').filter_map(trigger).collect();
            let to: Vec<Phrase> = match rhs {
                Some(r) => r.split(',').map(analysis::terms).filter(|p| !p.is_empty()).collect(),
                None => lhs.split(',').map(analysis::terms).filter(|p| !p.is_empty()).collect(),
            };
            if from.is_empty() || to.is_empty() || (rhs.is_none() && to.len() < 2) {
                problems.push((
                    i + 1,
                    "expected `a, b, c` or `a, b => c`, with words on both sides; line skipped".to_string(),
                ));
                continue;
            }
            rules.push(Rule { from, to });
        }
        let mut by_first: std::collections::HashMap<String, Vec<(usize, usize)>> = Default::default();
        for (r, rule) in rules.iter().enumerate() {
            for (t, trigger) in rule.from.iter().enumerate() {
                for first in std::iter::once(&trigger.full).chain(&trigger.content).filter_map(|p| p.first())
                {
                    let entry = by_first.entry(first.clone()).or_default();
                    if !entry.contains(&(r, t)) {
                        entry.push((r, t));
                    }
                }
            }
        }
        (Synonyms { rules, by_first }, problems)
    }

    /// Number of usable rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// The rules, as text that is the same for the same rules in every process (for keys of saved
    /// analyses).
    pub fn rules_text(&self) -> String {
        format!("{:?}", self.rules)
    }

    /// True when no rule was loaded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every term the rules can produce (for spelling correction: words worth correcting towards).
    pub fn trigger_words(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().flat_map(|r| r.from.iter().flat_map(|t| &t.full)).map(String::as_str)
    }

    /// Finds rule matches in a question's tokens (`(term, is_stop_word)`), longest first, left to
    /// right, without overlaps. A trigger matches its exact words, or, when it has two or more
    /// content words, those words with stop words between them ("boost my collagen" meets
    /// "boost collagen").
    pub fn expand(&self, tokens: &[(&str, bool)]) -> Vec<Expansion> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let mut best: Option<(usize, Vec<Phrase>)> = None;
            for &(r, t) in self.by_first.get(tokens[i].0).into_iter().flatten() {
                let rule = &self.rules[r];
                {
                    let Some(end) = match_at(tokens, i, &rule.from[t]) else { continue };
                    let n = end - i;
                    match &mut best {
                        Some((len, alts)) if *len == n => {
                            for p in &rule.to {
                                if !alts.contains(p) {
                                    alts.push(p.clone());
                                }
                            }
                        }
                        Some((len, _)) if *len > n => {}
                        _ => best = Some((n, rule.to.clone())),
                    }
                }
            }
            match best {
                Some((n, alternatives)) => {
                    out.push(Expansion { start: i, end: i + n, alternatives });
                    i += n;
                }
                None => i += 1,
            }
        }
        out
    }
}

/// Where a match of `phrase` starting at token `i` ends (exclusive), if it matches there.
fn match_at(tokens: &[(&str, bool)], i: usize, trigger: &Trigger) -> Option<usize> {
    let n = trigger.full.len();
    if tokens.get(i..i + n).is_some_and(|w| w.iter().zip(&trigger.full).all(|((t, _), p)| *t == p)) {
        return Some(i + n);
    }
    let content = trigger.content.as_ref()?;
    if tokens.get(i).is_none_or(|(_, stop)| *stop) {
        return None;
    }
    let mut at = i;
    for (k, want) in content.iter().enumerate() {
        if k > 0 {
            // Up to two stop words may stand between content words.
            let mut skipped = 0;
            while tokens.get(at).is_some_and(|(_, stop)| *stop) && skipped < 2 {
                at += 1;
                skipped += 1;
            }
        }
        match tokens.get(at) {
            Some((t, false)) if *t == want.as_str() => at += 1,
            _ => return None,
        }
    }
    Some(at)
}

/// A trigger phrase in both forms; None when it has no words. The full form keeps stop words (so
/// "break outs" does not shrink to "break").
fn trigger(phrase: &str) -> Option<Trigger> {
    let tokens = analysis::tokenize(phrase);
    if tokens.is_empty() {
        return None;
    }
    let content: Phrase = tokens.iter().filter(|t| !t.stop).map(|t| t.term.clone()).collect();
    Some(Trigger {
        full: tokens.into_iter().map(|t| t.term).collect(),
        content: (content.len() >= 2).then_some(content),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(syn: &Synonyms, q: &str) -> Vec<Expansion> {
        let tokens = analysis::tokenize(q);
        let pairs: Vec<(&str, bool)> = tokens.iter().map(|t| (t.term.as_str(), t.stop)).collect();
        syn.expand(&pairs)
    }

    #[test]
    fn one_way_and_equivalent_rules() {
        let (syn, problems) = Synonyms::parse(
            "# comment\nredness, blotchy => inflammation\n\nvitamin c, ascorbic acid\nchemical peel, peels => post-procedure\n=> nothing\n",
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, 6);
        assert_eq!(syn.len(), 3);

        let found = expand(&syn, "does it calm redness after chemical peels");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].alternatives, vec![vec![analysis::term_of("inflammation")]]);
        assert_eq!(found[1].start, 5, "the two-word phrase wins over nothing");
        assert_eq!(
            found[1].alternatives,
            vec![vec![analysis::term_of("post"), analysis::term_of("procedure")]]
        );

        let found = expand(&syn, "is ascorbic acid good");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].alternatives.len(), 2, "equivalents expand to every member");
    }

    #[test]
    fn stop_words_may_stand_inside_a_multi_word_trigger() {
        let (syn, _) = Synonyms::parse("boost collagen => collagen synthesis\nbreak outs => acne\n");
        let found = expand(&syn, "can i boost my collagen");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].start, found[0].end), (2, 5));
        assert!(expand(&syn, "will it break my skin out").is_empty(), "a lone content word is not enough");
        assert_eq!(expand(&syn, "break outs").len(), 1);
    }
}
