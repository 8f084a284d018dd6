#!/usr/bin/env bash
# citebot beside SQLite FTS5 and bm25s (backend="numba") on the same passages and the same questions.
#
#   bench/compare.sh [SIZE ...]        SIZE: 1k, 10k, 100k (default: 100k)
#   ROUNDS=3 THREADS=2 K=10 bench/compare.sh 10k 100k
#
# For each size it exports citebot's passages of bench/data/corpus-SIZE (so all three index exactly
# the same text), builds the three indexes, then for each engine runs one query process that loads
# the index from disk and answers bench/data/queries-SIZE.jsonl: once untimed, ROUNDS times timed
# one question at a time on one thread (p50/p99), then on THREADS threads (queries per second).
# Build and query processes run under /usr/bin/time -v for their peak resident memory. It prints a
# table with each figure's ratio to citebot and keeps the raw JSON in bench/data/compare-SIZE/.
#
# It installs what it needs: the time package (apt-get), a virtual environment in bench/.venv with
# bm25s, numba, PyStemmer, numpy and scipy (pip), and the corpora (bench/make-corpus.py, which
# installs Debian's documentation packages). Timing only: nothing here passes or fails on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZES=("${@:-100k}")
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
K=${K:-10}
VENV=$ROOT/bench/.venv
PY_PACKAGES=(bm25s==0.3.16 numba==0.68.1 PyStemmer==3.1.0 numpy scipy)

say() { printf '%s\n' "compare: $*" >&2; }

if [ ! -x /usr/bin/time ]; then
    say "installing GNU time (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
fi
if ! "$VENV/bin/python" -c 'import bm25s, numba, Stemmer' 2>/dev/null; then
    say "installing ${PY_PACKAGES[*]} into bench/.venv (pip)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "${PY_PACKAGES[@]}"
fi
for size in "${SIZES[@]}"; do
    if [ ! -d "bench/data/corpus-$size" ] || [ ! -f "bench/data/queries-$size.jsonl" ]; then
        say "making the corpora (bench/make-corpus.py)"
        python3 bench/make-corpus.py
        break
    fi
done

say "building citebot (release)"
cargo build --release --locked --bin citebot --example query_bench
TARGET=$(cargo metadata --format-version 1 --no-deps | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
CITEBOT=$TARGET/release/examples/query_bench
ENGINES="$VENV/bin/python $ROOT/bench/engines.py"

# Runs a command under /usr/bin/time -v; prints its JSON line with the load average and the peak
# resident memory the kernel saw added.
measured() {
    local timelog
    timelog=$(mktemp)
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    local out
    out=$(/usr/bin/time -v -o "$timelog" "$@")
    local rss
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$timelog")
    rm -f "$timelog"
    printf '%s\n' "$out" | tail -n 1 | "$VENV/bin/python" -c '
import json, sys
v = json.loads(sys.stdin.read())
v["time_max_rss_kib"] = int(sys.argv[1])
v["load"] = sys.argv[2]
print(json.dumps(v))' "$rss" "$load"
}

for size in "${SIZES[@]}"; do
    WORK=$ROOT/bench/data/compare-$size
    rm -rf "$WORK"
    mkdir -p "$WORK"
    QUESTIONS=$ROOT/bench/data/queries-$size.jsonl
    RESULTS=$WORK/results.jsonl
    say "$size: exporting passages"
    "$CITEBOT" export "bench/data/corpus-$size" "$WORK/passages.jsonl" >"$WORK/export.json"

    say "$size: building the indexes"
    measured "$CITEBOT" build "bench/data/corpus-$size" "$WORK/citebot" |
        sed 's/^{/{"phase":"build","engine":"citebot",/' >>"$RESULTS"
    for engine in fts5 bm25s; do
        measured $ENGINES build "$engine" "$WORK/passages.jsonl" "$WORK/$engine" |
            sed 's/^{/{"phase":"build",/' >>"$RESULTS"
    done

    say "$size: questions (retrieval, top $K; $ROUNDS timed rounds; $THREADS threads)"
    measured "$CITEBOT" query "$WORK/citebot" "$QUESTIONS" --mode retrieve --k "$K" --rounds "$ROUNDS" \
        --threads "$THREADS" | sed 's/^{/{"phase":"query",/' >>"$RESULTS"
    for engine in fts5 bm25s; do
        measured $ENGINES query "$engine" "$WORK/$engine" "$QUESTIONS" --k "$K" --rounds "$ROUNDS" \
            --threads "$THREADS" | sed 's/^{/{"phase":"query",/' >>"$RESULTS"
    done
    say "$size: citebot's full answer path"
    measured "$CITEBOT" query "$WORK/citebot" "$QUESTIONS" --mode answer --rounds "$ROUNDS" \
        --threads "$THREADS" | sed 's/^{/{"phase":"query",/' >>"$RESULTS"

    "$VENV/bin/python" "$ROOT/bench/report.py" "$size" "$RESULTS" | tee "$WORK/table.md"
done
