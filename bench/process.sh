#!/usr/bin/env bash
# Process-level figures of the citebot binary, as a user meets them:
#
#   1. `citebot ask "…"` wall time from process start, index already built (hyperfine, warm page
#      cache), on the shipped corpus and, with CITEBOT__CORPUS__DIR, on each scale corpus present;
#   2. resident memory after answering 10,000 questions in one process, read from /proc while it
#      still runs (VmRSS; VmHWM for the peak): `citebot serve-http` sent 10,000 signed `/ask`
#      interactions over loopback (bench/serve_http_rss.py, its own Ed25519 key, nothing reaches
#      Discord), and `citebot ask --json -` fed 10,000 questions on standard input
#      (bench/rss_after.py); on the shipped corpus and on each scale corpus present.
#
#   bench/process.sh [SIZE ...]     SIZE: shipped, 1k, 10k, 100k (default: shipped 1k 10k 100k)
#   MODEL=models/all-MiniLM-L6-v2 bench/process.sh …   the same with the semantic stage on (the
#                                   model directory made by `citebot model fetch`); without MODEL
#                                   the lexical path alone
#
# Installs hyperfine with apt-get and `cryptography` into bench/.venv with pip when missing. Questions: bench/data/queries-shipped.txt
# (the shared question set) for the shipped corpus, bench/data/queries-SIZE.jsonl for the others,
# cycled to 10,000. Results: bench/data/process/. Timing only: nothing passes or fails on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZES=("${@:-shipped 1k 10k 100k}")
# shellcheck disable=SC2206
SIZES=(${SIZES[*]})
QUESTIONS_PER_PROCESS=${QUESTIONS_PER_PROCESS:-10000}
RUNS=${RUNS:-30}
OUT=$ROOT/bench/data/process
mkdir -p "$OUT"

say() { printf '%s\n' "process: $*" >&2; }
need() {
    if ! command -v "$1" >/dev/null && [ ! -x "/usr/bin/$1" ]; then
        say "installing $2 (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }
    fi
}
need hyperfine hyperfine
VENV=$ROOT/bench/.venv
if ! "$VENV/bin/python" -c 'import cryptography' 2>/dev/null; then
    say "installing cryptography into bench/.venv (pip)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q cryptography
fi
if [ ! -f bench/data/queries-shipped.txt ]; then
    python3 bench/make-queries.py
fi

say "building citebot (release)"
# The same build as compare.sh (same features), so running both builds once.
cargo build --release --locked --bin citebot --example query_bench
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
CITEBOT=$TARGET/release/citebot

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

N=$QUESTIONS_PER_PROCESS
printf '| corpus | passages | `citebot ask` wall (mean ± σ) | min | `serve-http`: RSS ready | RSS after %s | peak | per request | `ask --json -`: RSS after %s | peak | start + %s questions |\n' \
    "$N" "$N" "$N" >"$OUT/table.md"
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n' >>"$OUT/table.md"

# The processes run in a directory of their own: the model, if any, by absolute path.
model_env=(CITEBOT__SEMANTIC__MODEL_DIR=)
if [ -n "${MODEL:-}" ]; then
    model_env=("CITEBOT__SEMANTIC__MODEL_DIR=$(realpath "$MODEL")")
    [ -f "${model_env[0]#*=}/citebot-model.json" ] || { say "no model in $MODEL (citebot model fetch)"; exit 2; }
fi

for size in "${SIZES[@]}"; do
    dir=$WORK/$size
    mkdir -p "$dir"
    if [ "$size" = shipped ]; then
        cp -r corpus "$dir/corpus"
        corpus_env=(env "${model_env[@]}")
        question="What does collagen serum do?"
        python3 -c '
import itertools, sys
qs = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
print("\n".join(itertools.islice(itertools.cycle(qs), int(sys.argv[2]))))' \
            bench/data/queries-shipped.txt "$QUESTIONS_PER_PROCESS" >"$dir/questions.txt"
    else
        if [ ! -d "bench/data/corpus-$size" ]; then
            say "skipping $size: bench/data/corpus-$size not found; run python3 bench/make-corpus.py"
            continue
        fi
        corpus_env=(env "${model_env[@]}" "CITEBOT__CORPUS__DIR=$ROOT/bench/data/corpus-$size")
        python3 -c '
import itertools, json, sys
qs = [json.loads(l)["q"] for l in open(sys.argv[1]) if l.strip()]
print("\n".join(itertools.islice(itertools.cycle(qs), int(sys.argv[2]))))' \
            "bench/data/queries-$size.jsonl" "$QUESTIONS_PER_PROCESS" >"$dir/questions.txt"
        question=$(head -n 1 "$dir/questions.txt")
    fi
    cd "$dir"
    say "$size: building the index (load $(cut -d' ' -f1-3 /proc/loadavg))"
    /usr/bin/time -f 'index: %e s wall, %M KiB peak' "${corpus_env[@]}" "$CITEBOT" index >"$OUT/index-$size.txt" 2>&1
    tail -n 1 "$OUT/index-$size.txt" >&2
    passages=$(grep -oE '[0-9,]+ passages' "$OUT/index-$size.txt" | head -n 1 | tr -d ', passages' || true)

    # Large corpora take seconds a start (see BENCHMARKS.md): fewer runs there.
    runs=$RUNS
    case $size in 10k | 100k) runs=$((RUNS < 5 ? RUNS : 5)) ;; esac
    say "$size: cold citebot ask ($runs runs; load $(cut -d' ' -f1-3 /proc/loadavg))"
    hyperfine -N --warmup 2 --runs "$runs" --export-json "$OUT/ask-$size.json" \
        "${corpus_env[*]} $CITEBOT ask \"$question\"" >"$OUT/ask-$size.txt" 2>&1 ||
        { cat "$OUT/ask-$size.txt" >&2; exit 1; }

    say "$size: $QUESTIONS_PER_PROCESS questions in one process"
    python3 "$ROOT/bench/rss_after.py" "$dir/questions.txt" -- "${corpus_env[@]}" "$CITEBOT" ask --json - \
        >"$OUT/rss-$size.json"
    say "$size: serve-http, $QUESTIONS_PER_PROCESS /ask interactions over loopback"
    "$VENV/bin/python" "$ROOT/bench/serve_http_rss.py" "$dir/questions.txt" "$QUESTIONS_PER_PROCESS" "$dir" -- \
        "${corpus_env[@]}" "$CITEBOT" >"$OUT/serve-http-$size.json"
    cd "$ROOT"
    python3 - "$size" "$passages" "$OUT/ask-$size.json" "$OUT/rss-$size.json" "$OUT/serve-http-$size.json" \
        >>"$OUT/table.md" <<'EOF'
import json, sys
size, passages, ask, rss, serve = sys.argv[1:]
r = json.load(open(ask))["results"][0]
m = json.load(open(rss))
h = json.load(open(serve))
mib = lambda k: f"{k / 1024:.1f} MiB"
print(f"| {size} | {passages} | {r['mean'] * 1e3:.1f} ms ± {r['stddev'] * 1e3:.1f} | {r['min'] * 1e3:.1f} ms "
      f"| {mib(h['rss_ready_kib'])} | {mib(h['rss_kib'])} | {mib(h['hwm_kib'])} | {h['per_question_us'] / 1e3:.2f} ms "
      f"| {mib(m['rss_kib'])} | {mib(m['hwm_kib'])} | {m['seconds']:.1f} s |")
EOF
done
cat "$OUT/table.md"
