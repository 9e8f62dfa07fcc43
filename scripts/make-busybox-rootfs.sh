#!/usr/bin/env bash
# Build a minimal root file system tarball from Debian's busybox-static:
#   scripts/make-busybox-rootfs.sh OUT.tar
# The tarball holds /bin/busybox, its applet links (pointing at /bin/busybox inside the
# root file system), the usual top-level directories, and /etc/passwd and /etc/group.
set -euo pipefail
out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
case "$out" in
  -*) echo "usage: make-busybox-rootfs.sh OUT.tar (builds a busybox root file system tarball)" >&2; exit 2 ;;
esac
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root,var/tmp,home}
chmod 1777 "$root/tmp" "$root/var/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf /bin/busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$out" .
echo "$out"
