#!/usr/bin/env bash
# Run every test: unit tests, and integration tests against real runc and crun, on rpod's own
# monitor (rpod-monitor, the default) and then the OCI and CLI suites again on conmon.
# Needs root (containers) and the packages scripts/install-deps.sh installs.
#   sudo scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# One build, used once: incremental compilation's caches would only take disk (1.5 GB).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# The suites run on the rpod-monitor an installation gets (scripts/build-monitor.sh: static,
# against musl, where the toolchain has the target); the tests of how rpod finds its
# monitor by itself use the one cargo builds beside rpod.
monitor="$(scripts/build-monitor.sh)"
RPOD_CONMON="$monitor" cargo test --workspace "$@"
case "$monitor" in
  */x86_64-unknown-linux-musl/*)
    echo "rpod-monitor's own tests again, built against musl:"
    cargo test -p rpod-monitor --target x86_64-unknown-linux-musl "$@"
    ;;
esac
echo "The OCI and CLI suites again, with conmon as the monitor:"
RPOD_CONMON="$(command -v conmon)" cargo test -p rpod-oci -p rpod-cli "$@"
