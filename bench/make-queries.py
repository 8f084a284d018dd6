#!/usr/bin/env python3
"""Makes the benchmark questions: for each scale corpus, questions drawn from its own headings and
sentences and reworded the way people type them (words dropped and reordered, question templates,
the odd typo); and the questions for the shipped corpus.

Output (git-ignored, beside the corpora of make-corpus.py):
  bench/data/queries-1k.jsonl, queries-10k.jsonl, queries-100k.jsonl
      one {"q": ..., "article": ..., "kind": ...} a line, where `article` is the file the question
      was drawn from (a rough relevance label: any system should usually rank it in its top 10)
  bench/data/queries-shipped.txt
      the shared question set (shared/eval/dev-questions.jsonl, else tests/eval/own-questions.jsonl),
      one question a line, for the process-level figures on the shipped corpus

Deterministic: the same corpus gives the same questions.

Usage: python3 bench/make-queries.py [--data bench/data] [--count 3000]
"""

import argparse
import glob
import json
import os
import random
import re
import sys

SEED = 8
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

STOP = set(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just may me might more most
    must my no nor not now of off on once only or other our out over own same she should so some such
    than that the their them then there these they this those through to too under until up us very
    was we were what when where which while who whom why will with would you your e g eg ie i.e etc
    one two see used using use example following section""".split()
)

HEADING_TEMPLATES = [
    "How do I {h}?",
    "What is {h}?",
    "{h}?",
    "tell me about {h}",
    "explain {h}",
    "help with {h} please",
    "where can I read about {h}",
]
SENTENCE_TEMPLATES = [
    "how do I {w}",
    "what happens when {w}",
    "why does {w}",
    "can I {w}?",
    "{w}?",
    "{w}",
    "is it true that {w}",
    "question about {w}",
]


def unescape_md(text):
    return re.sub(r"\\(.)", r"\1", text)


def read_article(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    title = None
    headings = []
    paragraphs = []
    body = text.split("\n---\n", 1)[1] if text.startswith("---\n") else text
    m = re.search(r'^title: (".*")$', text, re.M)
    if m:
        title = json.loads(m.group(1))
    for line in body.splitlines():
        if line.startswith("#"):
            h = unescape_md(line.lstrip("#").strip())
            if h and h != title:
                headings.append(h)
        elif line.startswith("- "):
            paragraphs.append(unescape_md(line[2:]))
        elif line.strip():
            paragraphs.append(unescape_md(line))
    return title, headings, paragraphs


def words_of(text):
    return re.findall(r"[A-Za-z][A-Za-z0-9'_-]*", text)


def typo(word, rng):
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def from_heading(heading, rng):
    words = words_of(heading)
    if not words:
        return None
    if len(words) > 3 and rng.random() < 0.5:
        del words[rng.randrange(len(words))]
    h = " ".join(words)
    if rng.random() < 0.7:
        h = h.lower()
    return rng.choice(HEADING_TEMPLATES).format(h=h)


def from_sentence(paragraph, rng):
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", paragraph) if 6 <= len(s.split()) <= 40]
    if not sentences:
        return None
    content = [w for w in words_of(rng.choice(sentences)) if w.lower() not in STOP and len(w) > 2]
    if len(content) < 3:
        return None
    n = min(len(content), rng.randint(3, 6))
    start = rng.randrange(len(content) - n + 1)
    picked = content[start : start + n]
    # People keep most of the order: swap one neighbouring pair now and then.
    if n > 3 and rng.random() < 0.5:
        i = rng.randrange(n - 1)
        picked[i], picked[i + 1] = picked[i + 1], picked[i]
    if rng.random() < 0.1:
        i = rng.randrange(n)
        picked[i] = typo(picked[i], rng)
    w = " ".join(picked)
    if rng.random() < 0.8:
        w = w.lower()
    return rng.choice(SENTENCE_TEMPLATES).format(w=w)


def make(corpus_dir, count, rng):
    files = sorted(glob.glob(os.path.join(corpus_dir, "*.md")))
    if not files:
        sys.exit(f"no articles in {corpus_dir}: run bench/make-corpus.py first")
    articles = [(os.path.basename(f), *read_article(f)) for f in files]
    out = []
    seen = set()
    attempts = 0
    while len(out) < count and attempts < count * 20:
        attempts += 1
        name, title, headings, paragraphs = rng.choice(articles)
        if rng.random() < 0.3:
            q = from_heading(rng.choice([title, *headings]) if headings else title, rng)
            kind = "heading"
        else:
            q = from_sentence(rng.choice(paragraphs), rng) if paragraphs else None
            kind = "sentence"
        if q and q not in seen:
            seen.add(q)
            out.append({"q": q, "article": name, "kind": kind})
    return out


def shipped_questions():
    for path in [
        os.path.join(REPO, "..", "shared", "eval", "dev-questions.jsonl"),
        "/work/shared/eval/dev-questions.jsonl",
        os.path.join(REPO, "tests", "eval", "own-questions.jsonl"),
    ]:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                qs = [json.loads(line)["q"] for line in f if line.strip()]
            return os.path.normpath(path), qs
    sys.exit("no question set for the shipped corpus found")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--count", type=int, default=3000)
    args = ap.parse_args()
    for size in ["1k", "10k", "100k"]:
        corpus = os.path.join(args.data, f"corpus-{size}")
        if not os.path.isdir(corpus):
            print(f"{corpus} missing; skipped (run bench/make-corpus.py)", file=sys.stderr)
            continue
        queries = make(corpus, args.count, random.Random(f"{SEED}-{size}"))
        path = os.path.join(args.data, f"queries-{size}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for q in queries:
                f.write(json.dumps(q) + "\n")
        print(f"{path}: {len(queries)} questions", file=sys.stderr)
    source, qs = shipped_questions()
    os.makedirs(args.data, exist_ok=True)
    path = os.path.join(args.data, "queries-shipped.txt")
    with open(path, "w", encoding="utf-8") as f:
        for q in qs:
            f.write(q.replace("\n", " ") + "\n")
    print(f"{path}: {len(qs)} questions from {source}", file=sys.stderr)


if __name__ == "__main__":
    main()
