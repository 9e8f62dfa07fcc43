#!/usr/bin/env bash
# Benchmarks: rpod beside podman (when installed) and the bare OCI runtime, in one run.
#   sudo scripts/bench.sh [--runtime crun] [--runs 10] [--only run-rm,exec] [--json out.json]
# See docs/benchmarks.md. Prints a table and writes bench-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --quiet -p rpod-cli -p rpod-monitor -p rpod-bench
# The monitor an installation gets (scripts/setup.sh), measured as installed.
monitor="$(scripts/build-monitor.sh --release)"
exec target/release/rpod-bench --monitor "$monitor" "$@"
