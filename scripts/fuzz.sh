#!/usr/bin/env bash
# Builds every fuzz target of vault-format and runs each for a bounded time.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/../vault-format/fuzz"
secs=${1:-15}
targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build
passed=0
for t in $targets; do
  echo "fuzz: $t for ${secs}s"
  cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 2>&1 | tail -n 3
  passed=$((passed + 1))
done
echo "fuzz: $passed targets ran ${secs}s each without a crash"
