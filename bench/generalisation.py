#!/usr/bin/env python3
"""citebot beside plain retrieval baselines on the generalisation sets (or any corpus + question file).

A set NAME is a corpus directory `tests/eval/generalisation/NAME/corpus/` and a question file
`tests/eval/generalisation/NAME-questions.jsonl` (the format of shared/eval/README.md: `{"q", "expect"}`
in domain, `{"q", "ood": "far"|"near"}` out of it). Every system ranks ALL the passages citebot makes of
the corpus (exported with `query_bench export`, so the same paragraphs, bullets and table rows):

  bm25s          bm25s (method "lucene", k1 1.5, b 0.75), English stop words, Snowball English stemmer
                 (PyStemmer); one document a passage: title, headings, lead-in (context) and text
                 joined, as bench/engines.py does
  fts5           SQLite FTS5, `porter unicode61`, columns title, headings, context, text ranked by
                 bm25() with bench/engines.py's column weights (citebot's field boosts); a question is
                 an OR of its words less engines.py's stop words; only matching passages are ranked
  cosine         all-MiniLM-L6-v2 (bench/minilm.py, numpy) cosine of the question and the passage's
                 title + headings + text joined by newlines (`--embed-fields` to change; the lead-in is
                 left out by default: it is the text before a list and would blur a bullet's vector);
                 passage vectors cached in bench/data/minilm-cache/, keyed by a hash of the model, the
                 fields and the texts
  rrf(...)       reciprocal rank fusion, k = 60, of bm25s + fts5 + cosine and of bm25s + cosine; a
                 system contributes only the passages it ranks (fts5: matches; bm25s: score > 0)

Baselines have no calibration: each declines when its top score is below a threshold, and the
threshold is the BEST ONE IN HINDSIGHT for that set and system (highest accuracy; among equals, the
lowest, i.e. the fewest declines), reported as the midpoint between two neighbouring top scores.
citebot runs as shipped (`citebot eval --json`, its own fixed min_confidence), with the set's corpus,
no example questions, no synonyms file, a fresh index, no records, no file watching; it runs in an
empty temporary directory so no config.toml is read (built-in defaults plus the overrides).

Scoring, as shared/eval/README.md: NFKC, lower case, curly quotes and dashes plain, white space
collapsed, display markup (** * _ `) dropped from the passage. An in-domain question is a hit@1
when the system answers and its top passage contains an expect phrase; hit@3 when any of its first
three passages does (declines aside); an out-of-domain question is right when declined; accuracy =
(hits at 1 while answered + right declines) / all questions. Unlike citebot's excerpts (at most 700
characters, cut at sentences) a baseline's "excerpt" is the whole passage: the number of baseline
hits on passages over 700 characters is in the JSON (`long_passage_hits`).

A corpus holding article files other than Markdown (.txt, e.g. the shipped corpus/synonyms.txt,
which citebot would index as an article once the synonyms setting points elsewhere) is staged as a
copy of its .md/.markdown files in bench/data/generalisation/, and both citebot and the baselines
read that copy.

    bench/generalisation.sh                          # every set under tests/eval/generalisation/
    bench/generalisation.sh --set NAME [--set NAME]
    bench/generalisation.sh --corpus corpus --questions ../shared/eval/dev-questions.jsonl
    options: --query-bench PATH  --citebot PATH  --citebot-env KEY=VALUE  --model-dir DIR
             --embed-fields title,headings,text  --json OUT  --markdown OUT  --no-citebot  --no-cosine

With no set found and no --corpus, it scores the shipped corpus on ../shared/eval/dev-questions.jsonl
and tests/eval/*.jsonl.
"""

import argparse
import glob
import hashlib
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import engines  # noqa: E402  (FTS5 conventions: weights, stop words, query escaping)
from minilm import MAX_SEQ_LENGTH as MAX_TOKENS  # noqa: E402

DATA = os.path.join(HERE, "data")
GEN_DIR = os.path.join(ROOT, "tests", "eval", "generalisation")
RRF_K = 60
MAX_SCORED_EXCERPT = 700


def say(msg):
    print(f"generalisation: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# scoring (shared/eval/README.md; src/eval.rs `normalise`, `strip_display_markup`)

_PLAIN = {0x2018: "'", 0x2019: "'", 0x201A: "'", 0x2032: "'", 0x201C: '"', 0x201D: '"', 0x201E: '"',
          0x2033: '"', 0x2212: "-"}
_PLAIN.update({c: "-" for c in range(0x2010, 0x2016)})


def normalise(text):
    t = unicodedata.normalize("NFKC", text).lower().translate(_PLAIN)
    return " ".join(t.split())


def strip_display_markup(text):
    return text.replace("**", "").replace("*", "").replace("_", "").replace("`", "")


def read_cases(path):
    cases = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            v = json.loads(line)
            ood = v.get("ood")
            if ood is not None and ood not in ("far", "near"):
                raise SystemExit(f"{path}:{i}: ood must be far or near")
            if ood is None and not v.get("expect"):
                raise SystemExit(f"{path}:{i}: an in-domain question needs expect phrases")
            cases.append({"q": v["q"], "ood": ood, "expect": [normalise(p) for p in v.get("expect", [])]})
    return cases


# ---------------------------------------------------------------------------------------------
# passages


def corpus_files(corpus_dir):
    out = []
    for root, dirs, files in os.walk(corpus_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith("."):
                out.append(os.path.join(root, name))
    return sorted(out)


def staged_corpus(corpus_dir, label):
    """The corpus itself, or a copy of its Markdown files when it holds other article files."""
    files = corpus_files(corpus_dir)
    ext = lambda p: os.path.splitext(p)[1].lower()  # noqa: E731
    others = [p for p in files if ext(p) == ".txt"]
    if not others:
        return corpus_dir, []
    dest = os.path.join(DATA, "generalisation", label, "corpus")
    shutil.rmtree(dest, ignore_errors=True)
    for p in files:
        if ext(p) in (".md", ".markdown"):
            rel = os.path.relpath(p, corpus_dir)
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(p, os.path.join(dest, rel))
    return dest, [os.path.relpath(p, corpus_dir) for p in others]


def export_passages(query_bench, corpus_dir, label):
    out_dir = os.path.join(DATA, "generalisation", label)
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "passages.jsonl")
    r = subprocess.run([query_bench, "export", corpus_dir, out], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"query_bench export failed ({r.returncode}):\n{r.stderr}")
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    return engines.read_passages(out), summary


EMBED_FIELDS = ("title", "headings", "text")


def embed_text(p, fields=EMBED_FIELDS):
    return "\n".join(p[f] for f in fields if p[f])


# ---------------------------------------------------------------------------------------------
# systems: each returns a (questions x passages) float64 score matrix; -inf = not ranked


class Bm25sSystem:
    name = "bm25s"

    def __init__(self, passages):
        import bm25s
        import Stemmer

        self.bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize([engines.document(p) for p in passages], stopwords="en",
                                stemmer=self.stemmer, show_progress=False)
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)
        self.n = len(passages)

    def scores(self, questions):
        out = np.full((len(questions), self.n), -np.inf)
        for i, q in enumerate(questions):
            toks = self.bm25s.tokenize(q, stopwords="en", stemmer=self.stemmer, return_ids=False,
                                       show_progress=False)[0]
            ids = self.retriever.get_tokens_ids(toks)
            if not ids:
                continue
            s = self.retriever.get_scores(ids).astype(np.float64)
            out[i] = np.where(s > 0, s, -np.inf)
        return out


class Fts5System:
    name = "fts5"

    def __init__(self, passages):
        self.con = sqlite3.connect(":memory:")
        self.con.execute("CREATE VIRTUAL TABLE docs USING fts5(title, headings, context, text, "
                         "tokenize='porter unicode61')")
        with self.con:
            self.con.executemany(
                "INSERT INTO docs(rowid, title, headings, context, text) VALUES (?,?,?,?,?)",
                ((i, p["title"], p["headings"], p["context"], p["text"]) for i, p in enumerate(passages)))
        self.n = len(passages)

    def scores(self, questions):
        out = np.full((len(questions), self.n), -np.inf)
        for i, q in enumerate(questions):
            match = engines.fts5_query_text(q)
            if not match:
                continue
            rows = self.con.execute(
                f"SELECT rowid, bm25(docs, {engines.FTS5_WEIGHTS}) FROM docs WHERE docs MATCH ?", (match,)
            ).fetchall()
            for rowid, bm in rows:
                out[i, rowid] = -bm  # bm25() is lower-is-better
        return out


class CosineSystem:
    name = "cosine"

    def __init__(self, passages, model, timings, fields=EMBED_FIELDS):
        texts = [embed_text(p, fields) for p in passages]
        h = hashlib.sha256()
        h.update(f"{model.sha256}|{model.max_len}|{'+'.join(fields)}\n".encode())
        for t in texts:
            h.update(t.encode())
            h.update(b"\0")
        key = h.hexdigest()[:24]
        cache_dir = os.path.join(DATA, "minilm-cache")
        os.makedirs(cache_dir, exist_ok=True)
        path = os.path.join(cache_dir, f"{key}.npy")
        t = time.perf_counter()
        if os.path.exists(path):
            self.emb = np.load(path)
            timings["embed_passages_cached"] = True
        else:
            self.emb = model.embed(texts)
            np.save(path, self.emb)
            timings["embed_passages_cached"] = False
        timings["embed_passages_s"] = time.perf_counter() - t
        timings["embedding_cache"] = os.path.relpath(path, ROOT)
        self.model = model

    def scores(self, questions):
        q = self.model.embed(questions)
        return (q @ self.emb.T).astype(np.float64)


def ranking(row):
    """Passage indices a system ranks, best first (ties: passage order)."""
    ranked = np.flatnonzero(np.isfinite(row))
    return ranked[np.argsort(-row[ranked], kind="stable")]


def rrf(score_mats):
    n_q, n_p = score_mats[0].shape
    out = np.full((n_q, n_p), -np.inf)
    for i in range(n_q):
        fused = np.zeros(n_p)
        seen = np.zeros(n_p, dtype=bool)
        for m in score_mats:
            order = ranking(m[i])
            fused[order] += 1.0 / (RRF_K + np.arange(1, len(order) + 1))
            seen[order] = True
        out[i] = np.where(seen, fused, -np.inf)
    return out


# ---------------------------------------------------------------------------------------------
# figures


def evaluate(cases, passages, scores):
    """Per-question top score and hits; then accuracy at the best threshold in hindsight."""
    texts = [normalise(strip_display_markup(p["text"])) for p in passages]
    per = []
    for case, row in zip(cases, scores):
        order = ranking(row)[:3]
        top = float(row[order[0]]) if len(order) else -math.inf
        contains = [any(ph in texts[j] for ph in case["expect"]) for j in order]
        per.append({
            "kind": case["ood"] or "in",
            "top": top,
            "hit1": bool(contains and contains[0]),
            "hit3": any(contains),
            "long": bool(contains and contains[0] and len(passages[order[0]]["text"]) > MAX_SCORED_EXCERPT),
        })
    n = len(per)
    ind = [p for p in per if p["kind"] == "in"]
    counts = {k: sum(p["kind"] == k for p in per) for k in ("in", "far", "near")}
    tops = sorted({p["top"] for p in per if math.isfinite(p["top"])})
    # Candidate thresholds: below every score, between each two neighbours, above every score.
    cands = [-math.inf]
    cands += [(a + b) / 2 for a, b in zip(tops, tops[1:])]
    cands += [tops[-1] + 1.0] if tops else []

    def at(t):
        answered = [math.isfinite(p["top"]) and p["top"] >= t for p in per]
        right = sum((a and p["hit1"]) if p["kind"] == "in" else (not a) for p, a in zip(per, answered))
        return right, answered

    best_t, best_right, best_answered = None, -1, None
    for t in cands:
        right, answered = at(t)
        if right > best_right:
            best_t, best_right, best_answered = t, right, answered
    all_right, _ = at(-math.inf)

    def share(k, d):
        return k / d if d else 0.0

    def declined(kind):
        group = [a for p, a in zip(per, best_answered) if p["kind"] == kind]
        return share(sum(not a for a in group), len(group))

    return {
        "hit_at_1": share(sum(p["hit1"] and a for p, a in zip(per, best_answered) if p["kind"] == "in"), len(ind))
        if ind else None,
        "hit_at_3": share(sum(p["hit3"] for p in ind), len(ind)) if ind else None,
        "accuracy": share(best_right, n),
        # None: never declines (answers every question it ranks); above every top score: declines all
        "threshold": None if best_t == -math.inf else best_t,
        "declines_all": bool(tops) and best_t > tops[-1],
        "rank_hit_at_1": share(sum(p["hit1"] for p in ind), len(ind)) if ind else None,
        "accuracy_no_declines": share(all_right, n),
        "wrongful_declines": declined("in") if ind else None,
        "far_declined": declined("far") if counts["far"] else None,
        "near_declined": declined("near") if counts["near"] else None,
        "long_passage_hits": sum(p["long"] for p in ind),
    }


def run_citebot(citebot, corpus_dir, questions_path, extra_env):
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="citebot-gen-") as tmp:
        env.update({
            "CITEBOT__CORPUS__DIR": os.path.abspath(corpus_dir),
            "CITEBOT__CORPUS__EXAMPLES": "/nonexistent",
            "CITEBOT__CORPUS__SYNONYMS": "/nonexistent",
            "CITEBOT__INDEX__DIR": os.path.join(tmp, "index"),
            "CITEBOT__RECORDS__ENABLED": "false",
            "CITEBOT__RELOAD__WATCH": "false",
        })
        env.update(extra_env)
        cwd = os.path.join(tmp, "cwd")
        os.makedirs(cwd)
        t = time.perf_counter()
        r = subprocess.run([os.path.abspath(citebot), "eval", "--json", os.path.abspath(questions_path)],
                           capture_output=True, text=True, env=env, cwd=cwd)
        elapsed = time.perf_counter() - t
    try:
        report = json.loads(r.stdout)["report"]
        if r.returncode != 0:
            raise ValueError(f"exit {r.returncode}")
    except (ValueError, KeyError, TypeError) as e:
        say(f"citebot eval gave no figures ({e}); exit {r.returncode}; stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return {"error": f"exit {r.returncode}, {e}", "raw_stdout": r.stdout, "raw_stderr": r.stderr,
                "seconds": elapsed}
    report["seconds"] = elapsed
    # citebot reports 0 for a share of no questions; show those as missing
    for key, group in (("hit_at_1", "in_domain"), ("hit_at_3", "in_domain"), ("mrr", "in_domain"),
                       ("wrongful_declines", "in_domain"), ("far_declined", "far"), ("near_declined", "near")):
        if report.get(group) == 0 and key in report:
            report[key] = None
    return report


def fmt(x):
    return "-" if x is None else f"{x:.3f}"


def fmt_t(s):
    if s["threshold"] is None:
        return "none (never declines)"
    if s.get("declines_all"):
        return "above every score (declines all)"
    return f"{s['threshold']:.4g}"


def finite(v):
    """JSON has no infinities: they become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [finite(x) for x in v]
    return v


def table(entry):
    c = entry["counts"]
    lines = [
        f"### {entry['name']}",
        "",
        f"{c['questions']} questions ({c['in']} in-domain, {c['far']} far, {c['near']} near); "
        f"{entry['passages']} passages of {entry['articles']} articles. Baselines: accuracy and hit@1 at the "
        "best decline threshold in hindsight for this set and system (hit@1 counts answered questions only; "
        f"hit@3 ignores declines). cosine embeds {entry['embedded_fields']}.",
        "",
        "| system | hit@1 | hit@3 | accuracy | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, s in entry["systems"].items():
        if "skipped" in s:
            lines.append(f"| {name} | - | - | - | skipped: {s['skipped']} |")
            continue
        if "error" in s:
            lines.append(f"| {name} | - | - | - | no figures: {s['error']} (raw output in the JSON) |")
            continue
        if name == "citebot":
            note = (f"fixed calibration, no hindsight; declines in/far/near {fmt(s.get('wrongful_declines'))}/"
                    f"{fmt(s.get('far_declined'))}/{fmt(s.get('near_declined'))}; MRR {fmt(s.get('mrr'))}; "
                    f"non-verbatim {s.get('non_verbatim')}")
        else:
            note = (f"hindsight threshold {fmt_t(s)}; ranking alone hit@1 {fmt(s['rank_hit_at_1'])}, "
                    f"accuracy {fmt(s['accuracy_no_declines'])}; declines in/far/near "
                    f"{fmt(s['wrongful_declines'])}/{fmt(s['far_declined'])}/{fmt(s['near_declined'])}")
        lines.append(f"| {name} | {fmt(s.get('hit_at_1'))} | {fmt(s.get('hit_at_3'))} | {fmt(s.get('accuracy'))} | {note} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def find_sets(names):
    if names:
        out = []
        for n in names:
            corpus = os.path.join(GEN_DIR, n, "corpus")
            qs = os.path.join(GEN_DIR, f"{n}-questions.jsonl")
            for p in (corpus, qs):
                if not os.path.exists(p):
                    raise SystemExit(f"set {n}: {os.path.relpath(p, ROOT)} does not exist")
            out.append((n, corpus, [qs]))
        return out
    out = []
    for corpus in sorted(glob.glob(os.path.join(GEN_DIR, "*", "corpus"))):
        n = os.path.basename(os.path.dirname(corpus))
        qs = os.path.join(GEN_DIR, f"{n}-questions.jsonl")
        if os.path.isfile(qs):
            out.append((n, corpus, [qs]))
        else:
            say(f"set {n}: no {os.path.relpath(qs, ROOT)} yet; skipped")
    return out


def default_path(*candidates):
    for c in candidates:
        if os.path.exists(c):
            return c
    return candidates[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", default=[], help="a set under tests/eval/generalisation/ (repeatable)")
    ap.add_argument("--corpus", help="an ad-hoc corpus directory (with --questions)")
    ap.add_argument("--questions", action="append", default=[], help="question file for --corpus (repeatable)")
    ap.add_argument("--query-bench", default=default_path(os.path.join(HERE, ".bin", "query_bench"),
                                                          os.path.join(ROOT, "target", "release", "examples", "query_bench")))
    ap.add_argument("--citebot", default=os.path.join(ROOT, "target", "release", "citebot"))
    ap.add_argument("--citebot-env", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--model-dir", default=os.environ.get("MINILM_DIR", os.path.join(DATA, "minilm")))
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--markdown", help="write the tables here too")
    ap.add_argument("--no-citebot", action="store_true")
    ap.add_argument("--no-cosine", action="store_true", help="leave out the encoder (and the fusions using it)")
    ap.add_argument("--embed-fields", default=",".join(EMBED_FIELDS),
                    help="passage fields embedded for cosine, joined by newlines in this order "
                    "(of title, headings, context, text; default %(default)s)")
    args = ap.parse_args()
    embed_fields = tuple(f.strip() for f in args.embed_fields.split(",") if f.strip())
    if not embed_fields or any(f not in ("title", "headings", "context", "text") for f in embed_fields):
        raise SystemExit(f"--embed-fields: a comma list of title, headings, context, text, not {args.embed_fields!r}")

    extra_env = {}
    for kv in args.citebot_env:
        if "=" not in kv:
            raise SystemExit(f"--citebot-env wants KEY=VALUE, not {kv!r}")
        k, v = kv.split("=", 1)
        extra_env[k] = v

    if args.corpus:
        if not args.questions:
            raise SystemExit("--corpus needs --questions FILE")
        label = os.path.basename(os.path.normpath(args.corpus)) or "corpus"
        sets = [(label, args.corpus, args.questions)]
        sets += find_sets(args.set) if args.set else []
    else:
        sets = find_sets(args.set)
        if not sets:
            say("no generalisation set found under tests/eval/generalisation/; scoring the shipped corpus")
            qs = [p for p in [os.path.join(ROOT, "..", "shared", "eval", "dev-questions.jsonl")] if os.path.isfile(p)]
            qs += sorted(glob.glob(os.path.join(ROOT, "tests", "eval", "*.jsonl")))
            sets = [("shipped", os.path.join(ROOT, "corpus"), qs)]

    if not os.access(args.query_bench, os.X_OK):
        raise SystemExit(f"no query_bench at {args.query_bench}: build it with "
                         "`cargo build --release --example query_bench` and pass --query-bench PATH")
    citebot_missing = None
    if args.no_citebot:
        citebot_missing = "--no-citebot"
    elif not os.access(args.citebot, os.X_OK):
        citebot_missing = f"no binary at {args.citebot} (build it, or pass --citebot PATH)"
        say(f"citebot row skipped: {citebot_missing}")

    model = None
    model_note = None
    if args.no_cosine:
        model_note = "--no-cosine"
    elif not os.path.isfile(os.path.join(args.model_dir, "model.safetensors")):
        model_note = f"no model.safetensors in {args.model_dir} (pass --model-dir; bench/generalisation.sh fetches it)"
        say(f"cosine rows skipped: {model_note}")
    else:
        from minilm import MiniLM

        t = time.perf_counter()
        model = MiniLM(args.model_dir)
        say(f"encoder loaded in {time.perf_counter() - t:.1f} s (sha256 {'known' if model.genuine else 'UNKNOWN'})")

    started = time.perf_counter()
    results = []
    tables = []
    for label, corpus_dir, question_files in sets:
        t0 = time.perf_counter()
        corpus_used, skipped_files = staged_corpus(corpus_dir, label)
        if skipped_files:
            say(f"{label}: {', '.join(skipped_files)} left out (not Markdown); using the copy {os.path.relpath(corpus_used, ROOT)}")
        passages, summary = export_passages(args.query_bench, corpus_used, label)
        timings = {"export_s": time.perf_counter() - t0}
        say(f"{label}: {len(passages)} passages of {summary['articles']} articles")
        if not passages:
            say(f"{label}: no passages; skipped")
            continue
        systems = {}
        for cls in (Bm25sSystem, Fts5System):
            t = time.perf_counter()
            systems[cls.name] = cls(passages)
            timings[f"index_{cls.name}_s"] = time.perf_counter() - t
        if model is not None:
            systems["cosine"] = CosineSystem(passages, model, timings, embed_fields)

        for qfile in question_files:
            cases = read_cases(qfile)
            questions = [c["q"] for c in cases]
            qlabel = label if len(question_files) == 1 else f"{label} / {os.path.basename(qfile)}"
            qt = dict(timings)
            mats = {}
            for name, sys_ in systems.items():
                t = time.perf_counter()
                mats[name] = sys_.scores(questions)
                qt[f"query_{name}_s"] = time.perf_counter() - t
            if model is not None:
                mats["rrf(bm25s+fts5+cosine)"] = rrf([mats["bm25s"], mats["fts5"], mats["cosine"]])
                mats["rrf(bm25s+cosine)"] = rrf([mats["bm25s"], mats["cosine"]])
            figures = {}
            for name in ("bm25s", "fts5", "cosine", "rrf(bm25s+fts5+cosine)", "rrf(bm25s+cosine)"):
                if name in mats:
                    figures[name] = evaluate(cases, passages, mats[name])
                else:
                    figures[name] = {"skipped": model_note}
            if citebot_missing:
                figures["citebot"] = {"skipped": citebot_missing}
            else:
                figures["citebot"] = run_citebot(args.citebot, corpus_used, qfile, extra_env)
                qt["citebot_s"] = figures["citebot"].get("seconds")
            counts = {"questions": len(cases), "in": sum(c["ood"] is None for c in cases),
                      "far": sum(c["ood"] == "far" for c in cases), "near": sum(c["ood"] == "near" for c in cases)}
            entry = {
                "name": qlabel,
                "corpus": os.path.relpath(os.path.abspath(corpus_dir), ROOT),
                "corpus_used": os.path.relpath(os.path.abspath(corpus_used), ROOT),
                "left_out_files": skipped_files,
                "questions_file": os.path.relpath(os.path.abspath(qfile), ROOT),
                "counts": counts,
                "passages": len(passages),
                "articles": summary["articles"],
                "embedded_fields": "+".join(embed_fields),
                "systems": figures,
                "timings": qt,
            }
            results.append(entry)
            tables.append(table(entry))
            print(tables[-1] + "\n", flush=True)

    total = time.perf_counter() - started
    say(f"done in {total:.1f} s")
    meta = {
        "load": open("/proc/loadavg").read().split()[:3],
        "seconds": total,
        "query_bench": args.query_bench,
        "citebot": args.citebot,
        "citebot_env": extra_env,
        "model_dir": args.model_dir,
        "model_sha256": model.sha256 if model else None,
        "rrf_k": RRF_K,
        "passage_text_embedded": " + ".join(embed_fields) + f", joined by newlines; {MAX_TOKENS} tokens",
        "embedding_seconds_note": "passage embeddings are cached: embed_passages_cached says whether this run computed them",
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(finite({"run": meta, "sets": results}), f, indent=2)
        say(f"figures in {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n\n".join(tables) + "\n")


if __name__ == "__main__":
    sys.exit(main())
