#!/usr/bin/env bash
# Runs the whole test suite, installing first whatever the tests need.
#
# The tests start the real server on 127.0.0.1 against real SQLite files; SQLite itself is
# compiled into the binary (rusqlite's bundled build), so a Rust toolchain and a C compiler
# are all the current suite needs. Later suites that need redis-server or litestream add
# their install steps here.
set -euo pipefail
cd "$(dirname "$0")"

need() { command -v "$1" >/dev/null 2>&1; }

if ! need cc; then
    echo "test.sh: installing a C compiler (for the bundled SQLite)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq build-essential >/dev/null
fi
need cargo || { echo "test.sh: cargo is required (https://rustup.rs)" >&2; exit 1; }

# every test target (library, binary, integration tests, the benches in test mode, the
# example), then one closing line with the totals of all of them
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --all-targets "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
