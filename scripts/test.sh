#!/usr/bin/env bash
# Run every test: unit tests, and integration tests against real runc, crun and conmon.
# Needs root (containers) and the packages scripts/install-deps.sh installs.
#   sudo scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace "$@"
