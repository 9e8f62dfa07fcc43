#!/usr/bin/env bash
# Build a root file system tarball that boots the host's systemd as its init, for the
# tests of systemd mode:
#   scripts/make-systemd-rootfs.sh OUT.tar
# It holds the busybox root file system (make-busybox-rootfs.sh), /lib/systemd/systemd and
# systemd-shutdown with the libraries they load, and a minimal unit set of its own: default.target wants
# booted.service, which writes /run/booted once systemd runs units, and halt.target (what
# SIGRTMIN+3 asks for) ends systemd as a host's would. Needs the systemd
# package on the host (Debian's, as every Debian machine has).
set -euo pipefail
out=${1:?usage: make-systemd-rootfs.sh OUT.tar}
case "$out" in
  -*) echo "usage: make-systemd-rootfs.sh OUT.tar (builds a root file system that boots systemd)" >&2; exit 2 ;;
esac
systemd=/lib/systemd/systemd
[ -x "$systemd" ] || { echo "$systemd not found: apt-get install systemd" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"
"$here/make-busybox-rootfs.sh" "$work/busybox.tar" > /dev/null
tar -xf "$work/busybox.tar" -C "$root"

# systemd and every library it loads, at the same paths as on the host.
copy() {
  mkdir -p "$root$(dirname "$1")"
  cp -L "$1" "$root$1"
}
# systemd-shutdown is what systemd becomes at its end (a halt or an exit).
copy /lib64/ld-linux-x86-64.so.2
for program in "$systemd" /lib/systemd/systemd-shutdown; do
  copy "$program"
  for lib in $(ldd "$program" | awk '/=>/ { print $3 }'); do
    copy "$lib"
  done
done
ln -sf /lib/systemd/systemd "$root/sbin/init"

# No host units: the image's own few, so that what boots is known.
units="$root/etc/systemd/system"
mkdir -p "$units/default.target.wants" "$root/var/log/journal" "$root/run"
ln -s /run "$root/var/run"
cat > "$units/default.target" <<'UNIT'
[Unit]
Description=The test image's default target
UNIT
cat > "$units/booted.service" <<'UNIT'
[Unit]
Description=Mark that systemd booted and ran a unit

[Service]
Type=oneshot
ExecStart=/bin/touch /run/booted
RemainAfterExit=yes
UNIT
ln -s ../booted.service "$units/default.target.wants/booted.service"
# The host's halt.target runs `systemctl --force halt`; this image has no systemctl, so its
# halt service asks systemd to exit when it ends (what a halt comes to in a container).
cat > "$units/halt.target" <<'UNIT'
[Unit]
Description=Halt
DefaultDependencies=no
AllowIsolate=yes
Requires=halt-now.service
After=halt-now.service
UNIT
cat > "$units/halt-now.service" <<'UNIT'
[Unit]
Description=Halt once the system stopped
DefaultDependencies=no
SuccessAction=exit-force

[Service]
Type=oneshot
ExecStart=/bin/true
UNIT
: > "$root/etc/machine-id"
tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$out" .
echo "$out"
