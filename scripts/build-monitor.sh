#!/usr/bin/env bash
# Build rpod-monitor and print the path of the binary to install or test.
#   scripts/build-monitor.sh [--release]
# Against musl, statically linked, when Rust's x86_64-unknown-linux-musl target is installed
# (scripts/install-deps.sh adds it): such a monitor starts about 0.6 ms sooner than one
# against glibc, whose dynamic start-up probes the CPU's caches with cpuid, which traps to
# the hypervisor on virtual machines (docs/monitor.md). Else the workspace's glibc build.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
flags=()
if [ "${1:-}" = --release ]; then
  profile=release
  flags=(--release)
fi
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
musl=x86_64-unknown-linux-musl
if [ "$(uname -m)" = x86_64 ] && command -v rustup >/dev/null 2>&1 &&
  rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
  cargo build --quiet "${flags[@]}" -p rpod-monitor --target "$musl" >&2
  echo "$target_dir/$musl/$profile/rpod-monitor"
else
  cargo build --quiet "${flags[@]}" -p rpod-monitor >&2
  echo "$target_dir/$profile/rpod-monitor"
fi
