#!/usr/bin/env bash
# Runs the long property-based fuzzers (question analysis and the Markdown parser) for a bounded
# time each. cargo-fuzz needs a nightly toolchain, which this project does not assume.
# Usage: scripts/fuzz.sh [SECONDS_EACH]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
export CITEBOT_FUZZ_SECONDS="${1:-60}"
cargo test --release --test tests -- --ignored --nocapture fuzz_
