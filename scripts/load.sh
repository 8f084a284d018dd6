#!/usr/bin/env bash
# Load test of the Discord bot against the loopback simulator: QUESTIONS questions (mentions and
# /ask alternating) dispatched in bursts of 50, with an op 7 RECONNECT (and so a RESUME) in the
# middle. Fails unless every question is answered exactly once; prints throughput and
# event-to-reply latency (p50/p99) as figures, not assertions.
# Usage: scripts/load.sh [QUESTIONS]   (default 5000; the default test run uses 300)
# PROFILE=release scripts/load.sh builds the tests optimised (a cold build takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
export CITEBOT_LOAD_QUESTIONS="${1:-5000}"
flags=()
if [[ "${PROFILE:-dev}" == "release" ]]; then flags+=(--release); fi
cargo test "${flags[@]}" --test tests -- --nocapture --exact \
  discord_faults::a_burst_of_questions_with_a_reconnect_in_the_middle_is_answered_exactly_once
