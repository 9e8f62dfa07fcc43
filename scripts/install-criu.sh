#!/usr/bin/env bash
# CRIU for checkpoint/restore. Debian 12's criu 3.17 fails `criu check` on these kernels;
# CRIU 4.x from Debian trixie works. Installing it the normal way would upgrade the host's
# libc, so its packages are unpacked into a private prefix and run with their own dynamic
# loader, through a small wrapper: /usr/local/lib/rpod/criu/criu (where rpod looks first).
# Idempotent; run as root. Nothing of the host's apt state is changed.
set -euo pipefail

dest=/usr/local/lib/rpod/criu
wrapper="$dest/criu"
if [ -x "$wrapper" ] && "$wrapper" check >/dev/null 2>&1; then
  exit 0
fi
if [ "$(uname -m)" != x86_64 ]; then
  echo "install-criu: only x86_64 is handled; checkpoint/restore stays unavailable" >&2
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The machine's own Debian mirror, so that no host name is written here.
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
  uri=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
uri=${uri:-http://deb.debian.org/debian}
mkdir -p "$work"/{lists/partial,cache/archives/partial,debs}
echo "deb $uri trixie main" > "$work/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
  -o Dir::State::status=/dev/null -o APT::Sandbox::User=root
)
echo "Installing CRIU 4 (Debian trixie) into $dest"
unavailable() {
  echo "install-criu: $1; checkpoint/restore stays unavailable" >&2
  exit 0
}
apt-get "${apt_opts[@]}" update -qq || unavailable "cannot read Debian trixie's package lists"
packages=$(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
  --no-conflicts --no-breaks --no-replaces --no-enhances --no-pre-depends criu |
  grep -v '^ ' | grep -v '^<' | sort -u)
[ -n "$packages" ] || unavailable "no criu package in Debian trixie"
(cd "$work/debs" && apt-get "${apt_opts[@]}" download $packages >/dev/null) ||
  unavailable "cannot download CRIU's packages"
rm -rf "$dest.new"
mkdir -p "$dest.new/root"
for deb in "$work"/debs/*.deb; do
  dpkg -x "$deb" "$dest.new/root"
done
cat > "$dest.new/criu" <<'WRAPPER'
#!/bin/sh
# CRIU from Debian trixie with its own libraries (see rpod's scripts/install-criu.sh).
root="$(dirname "$(readlink -f "$0")")/root"
lib="$root/usr/lib/x86_64-linux-gnu"
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$root/usr/sbin/criu" "$@"
WRAPPER
chmod 0755 "$dest.new/criu"
if ! "$dest.new/criu" check >/dev/null 2>&1; then
  "$dest.new/criu" check >&2 || true
  rm -rf "$dest.new"
  unavailable "the unpacked CRIU fails 'criu check'"
fi
rm -rf "$dest"
mv "$dest.new" "$dest"
"$wrapper" --version | head -1
