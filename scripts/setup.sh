#!/usr/bin/env bash
# The newcomer's one command: install what rpod needs, build and install rpod, make a small
# demo image from busybox-static, and run a container from it.
#   sudo scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "Building rpod..."
cargo build --release --quiet
install -m 0755 target/release/rpod /usr/local/bin/rpod
# rpod's container monitor (static, against musl, where the toolchain can build it);
# rpod looks for it beside itself first.
monitor="$(scripts/build-monitor.sh --release)"
install -m 0755 "$monitor" /usr/local/bin/rpod-monitor

if ! rpod image exists demo; then
  tarball=$(mktemp --suffix=.tar)
  trap 'rm -f "$tarball"' EXIT
  scripts/make-busybox-rootfs.sh "$tarball" >/dev/null
  rpod import --change 'CMD ["echo", "Hello from a container run by rpod!"]' "$tarball" demo >/dev/null
fi
rpod run --rm demo
