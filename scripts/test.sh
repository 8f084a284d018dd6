#!/usr/bin/env bash
# The test command: builds the tests, fetches the pinned sentence model with the citebot binary
# just built (the semantic-stage tests use the real model; `model fetch` does nothing when it is
# already there), then runs every test. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --no-run
"${CARGO_TARGET_DIR:-target}/debug/citebot" model fetch
cargo test --locked "$@"
