#!/usr/bin/env python3
"""Prints the comparison table of bench/compare.sh from its results.jsonl (Markdown).

Usage: report.py SIZE RESULTS.jsonl
"""

import json
import sys

NAMES = {"citebot": "citebot", "fts5": "SQLite FTS5", "bm25s": "bm25s (numba)"}


def main():
    size, path = sys.argv[1], sys.argv[2]
    rows = [json.loads(line) for line in open(path) if line.strip()]
    build = {r["engine"]: r for r in rows if r["phase"] == "build"}
    query = {(r["engine"], r["mode"]): r for r in rows if r["phase"] == "query"}
    base_b = build["citebot"]
    base_q = query[("citebot", "retrieve")]

    def ratio(value, base, higher_is_better=False):
        if not base or value is None:
            return ""
        r = value / base
        return f" ({r:.2f}×)"

    passages = base_b.get("passages")
    print(f"\n### {size}: {passages} passages, {base_q['questions']} questions, top {base_q['k']}, "
          f"{base_q['timed'] // base_q['questions']} timed rounds\n")
    print("| engine | index build | index size | p50 | p99 | QPS, 1 thread | QPS, "
          f"{base_q['threads']} threads | peak memory (query) | peak memory (build) | source article in top {base_q['k']} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for engine in ["citebot", "fts5", "bm25s"]:
        b, q = build.get(engine), query.get((engine, "retrieve"))
        if not b or not q:
            continue
        cells = [
            f"{b['build_s']:.2f} s{ratio(b['build_s'], base_b['build_s'])}",
            f"{b['index_bytes'] / 2**20:.1f} MiB{ratio(b['index_bytes'], base_b['index_bytes'])}",
            f"{q['p50_us']:.0f} µs{ratio(q['p50_us'], base_q['p50_us'])}",
            f"{q['p99_us']:.0f} µs{ratio(q['p99_us'], base_q['p99_us'])}",
            f"{q['qps_1']:.0f}{ratio(q['qps_1'], base_q['qps_1'])}",
            f"{q['qps_threads']:.0f}{ratio(q['qps_threads'], base_q['qps_threads'])}"
            + (" ¹" if q.get("parallel") == "batch" else ""),
            f"{q['time_max_rss_kib'] / 1024:.0f} MiB{ratio(q['time_max_rss_kib'], base_q['time_max_rss_kib'])}",
            f"{b['time_max_rss_kib'] / 1024:.0f} MiB{ratio(b['time_max_rss_kib'], base_b['time_max_rss_kib'])}",
            f"{q['hit_rate']:.1%}" if q.get("hit_rate") is not None else "",
        ]
        print(f"| {NAMES[engine]} | " + " | ".join(cells) + " |")
    a = query.get(("citebot", "answer"))
    if a:
        print(f"| citebot, full answer path | | | {a['p50_us']:.0f} µs | {a['p99_us']:.0f} µs | "
              f"{a['qps_1']:.0f} | {a['qps_threads']:.0f} | {a['time_max_rss_kib'] / 1024:.0f} MiB | | "
              f"{a['hit_rate']:.1%} ² |")
    print()
    print(f"Ratios are to citebot's retrieval (below 1 is smaller or faster than citebot for times and sizes, "
          f"above 1 is more throughput). citebot's build time includes reading and parsing the Markdown "
          f"({base_b['load_s']:.2f} s of it); the others start from the exported passages in memory.")
    if any(q.get("parallel") == "batch" for q in query.values()):
        print("¹ bm25s's own parallel path: all questions as one batch, retrieve(n_threads=…), faster here "
              "than one question per call on Python threads.")
    if a:
        print("² for the answer path: the source article is the answer's or one of its alternatives'.")
    loads = sorted({r["load"] for r in rows})
    print(f"Load average (1, 5, 15 min) at the start of each step: {', '.join(loads)}.")


if __name__ == "__main__":
    main()
