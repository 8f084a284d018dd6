#!/usr/bin/env python3
"""The other two engines of bench/compare.sh, on the passages citebot exports:

  SQLite FTS5   Python's sqlite3 module (SQLite with FTS5), `porter unicode61` tokenizer, one row a
                passage with title, headings, lead-in and text columns, ranked by bm25() with the
                same column weights citebot gives those fields; the index is `optimize`d after loading.
                A question becomes an OR of its words, English stop words left out (a phrase of every
                word would match almost nothing; stop words would make every query scan most rows).
  bm25s         bm25s with backend="numba", English stop words and the Snowball English stemmer
                (PyStemmer), one document a passage: title, headings, lead-in and text joined.

  engines.py build fts5|bm25s PASSAGES.jsonl OUT_DIR
  engines.py query fts5|bm25s OUT_DIR QUESTIONS [--k 10] [--rounds 3] [--threads 2]

Each prints one JSON object with the same fields as examples/query_bench.rs. `query` loads the index
from disk, answers every question once untimed (warm-up; for bm25s this also compiles the numba
code), times each question `--rounds` times on one thread, then measures throughput on `--threads`
threads. The single-question time includes turning the question into the engine's query
(tokenising, stemming), as citebot's includes its question analysis.
"""

import argparse
import json
import os
import resource
import sqlite3
import sys
import threading
import time

import re

WORD = re.compile(r"(?u)\b\w\w+\b")


def peak_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def dir_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def read_passages(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_questions(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if line.startswith("{"):
                v = json.loads(line)
                out.append((v["q"], v.get("article")))
            else:
                out.append((line, None))
    return out


def document(p):
    return " \n".join(x for x in (p["title"], p["headings"], p["context"], p["text"]) if x)


# ---------------------------------------------------------------------------------------------
# SQLite FTS5

FTS5_WEIGHTS = "0.2, 1.5, 0.5, 1.0"  # title, headings, context, text: citebot's field boosts
# English stop words left out of an FTS5 question: bm25s's "en" list (imported lazily there, so that
# the FTS5 process does not carry numba) plus question words.
FTS5_STOP = set(
    """a an and are as at be but by for if in into is it no not of on or such that the their then there
    these they this to was will with how what why when where which who whom do does did can could i my
    me we you your""".split()
)


def fts5_build(passages, out):
    os.makedirs(out, exist_ok=True)
    db = os.path.join(out, "fts5.sqlite")
    if os.path.exists(db):
        os.remove(db)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(title, headings, context, text, article UNINDEXED, "
        "pid UNINDEXED, tokenize='porter unicode61')"
    )
    with con:
        con.executemany(
            "INSERT INTO docs(title, headings, context, text, article, pid) VALUES (?,?,?,?,?,?)",
            ((p["title"], p["headings"], p["context"], p["text"], p["article"], p["id"]) for p in passages),
        )
    with con:
        con.execute("INSERT INTO docs(docs) VALUES('optimize')")
    con.execute("VACUUM")
    con.close()
    return db


def fts5_query_text(q):
    words = [w for w in WORD.findall(q.lower()) if w not in FTS5_STOP]
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


class Fts5:
    def __init__(self, out):
        self.db = os.path.join(out, "fts5.sqlite")
        self.local = threading.local()

    def con(self):
        c = getattr(self.local, "con", None)
        if c is None:
            c = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
            self.local.con = c
        return c

    def search(self, q, k):
        match = fts5_query_text(q)
        if not match:
            return []
        rows = self.con().execute(
            f"SELECT article, bm25(docs, {FTS5_WEIGHTS}) AS s FROM docs WHERE docs MATCH ? "
            "ORDER BY s LIMIT ?",
            (match, k),
        ).fetchall()
        return [r[0] for r in rows]


# ---------------------------------------------------------------------------------------------
# bm25s


def bm25s_build(passages, out):
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize(
        [document(p) for p in passages], stopwords="en", stemmer=stemmer, show_progress=False
    )
    retriever = bm25s.BM25(backend="numba")
    retriever.index(tokens, show_progress=False)
    retriever.save(out, show_progress=False)
    with open(os.path.join(out, "articles.json"), "w") as f:
        json.dump([p["article"] for p in passages], f)
    return out


class Bm25s:
    def __init__(self, out):
        import bm25s
        import Stemmer

        self.bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.retriever = bm25s.BM25.load(out, show_progress=False)
        self.retriever.backend = "numba"
        with open(os.path.join(out, "articles.json")) as f:
            self.articles = json.load(f)
        self.empty = self.retriever.vocab_dict.get("")

    def ids(self, q):
        tokens = self.bm25s.tokenize(
            q, stopwords="en", stemmer=self.stemmer, return_ids=False, show_progress=False
        )[0]
        ids = self.retriever.get_tokens_ids(tokens)
        return ids if ids else [self.empty]

    def search(self, q, k, n_threads=1):
        docs, _ = self.retriever.retrieve(
            [self.ids(q)], k=k, show_progress=False, n_threads=n_threads, backend_selection="numba"
        )
        return [self.articles[i] for i in docs[0]]

    def batch(self, qs, k, n_threads):
        ids = [self.ids(q) for q in qs]
        self.retriever.retrieve(ids, k=k, show_progress=False, n_threads=n_threads, backend_selection="numba")


# ---------------------------------------------------------------------------------------------


def build(engine, passages_path, out):
    passages = read_passages(passages_path)
    rss_loaded = current_rss_kib()
    t = time.perf_counter()
    target = fts5_build(passages, out) if engine == "fts5" else bm25s_build(passages, out)
    elapsed = time.perf_counter() - t
    print(
        json.dumps(
            {
                "engine": engine,
                "passages": len(passages),
                "build_s": elapsed,
                "index_bytes": dir_size(target),
                "rss_before_build_kib": rss_loaded,
                "peak_rss_kib": peak_rss_kib(),
            }
        )
    )


def query(engine, out, questions_path, k, rounds, threads):
    questions = read_questions(questions_path)
    t = time.perf_counter()
    searcher = Fts5(out) if engine == "fts5" else Bm25s(out)
    open_s = time.perf_counter() - t
    rss_after_open = current_rss_kib()

    hits = labelled = 0
    for q, article in questions:
        found = searcher.search(q, k)
        if article is not None:
            labelled += 1
            hits += article in found

    latencies = []
    start = time.perf_counter()
    for _ in range(rounds):
        for q, _ in questions:
            t = time.perf_counter()
            searcher.search(q, k)
            latencies.append(time.perf_counter() - t)
    single_s = time.perf_counter() - start
    latencies.sort()
    n = len(latencies)

    def run_part(part):
        for _ in range(rounds):
            for q, _ in part:
                searcher.search(q, k)

    parts = [questions[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=run_part, args=(p,)) for p in parts]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    qps_threads = n / (time.perf_counter() - start)
    how = "threads"
    if engine == "bm25s":
        # bm25s's own parallel path: one batch of every question, numba threads.
        qs = [q for q, _ in questions]
        searcher.batch(qs, k, threads)  # warm-up (compiles the parallel kernel)
        start = time.perf_counter()
        for _ in range(rounds):
            searcher.batch(qs, k, threads)
        batch_qps = n / (time.perf_counter() - start)
        if batch_qps > qps_threads:
            qps_threads, how = batch_qps, "batch"

    def pct(p):
        return latencies[round((n - 1) * p)] * 1e6

    print(
        json.dumps(
            {
                "engine": engine,
                "mode": "retrieve",
                "k": k,
                "questions": len(questions),
                "timed": n,
                "open_s": open_s,
                "p50_us": pct(0.50),
                "p90_us": pct(0.90),
                "p99_us": pct(0.99),
                "max_us": latencies[-1] * 1e6,
                "mean_us": single_s * 1e6 / n,
                "qps_1": n / single_s,
                "threads": threads,
                "qps_threads": qps_threads,
                "parallel": how,
                "hit_rate": hits / labelled if labelled else None,
                "rss_after_open_kib": rss_after_open,
                "rss_end_kib": current_rss_kib(),
                "peak_rss_kib": peak_rss_kib(),
            }
        )
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("engine", choices=["fts5", "bm25s"])
    b.add_argument("passages")
    b.add_argument("out")
    q = sub.add_parser("query")
    q.add_argument("engine", choices=["fts5", "bm25s"])
    q.add_argument("out")
    q.add_argument("questions")
    q.add_argument("--k", type=int, default=10)
    q.add_argument("--rounds", type=int, default=3)
    q.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.cmd == "build":
        build(args.engine, args.passages, args.out)
    else:
        query(args.engine, args.out, args.questions, args.k, args.rounds, args.threads)


if __name__ == "__main__":
    sys.exit(main())
