#!/usr/bin/env bash
# Install what rpod needs on Debian 12 and prepare the host. Idempotent; run as root.
#   - runc, crun, conmon: the OCI runtimes and the per-container monitor
#   - busybox-static: the root file system of the demo image and of the tests
#   - tar: to build that root file system
#   - golang-github-containers-common: the default seccomp profile (/usr/share/containers/seccomp.json)
#   - util-linux: setpriv, which the tests use to act as an unprivileged user
#   - netavark, aardvark-dns, iptables: bridge networks, published ports, names between
#     containers (podman 4's network stack, which rpod drives)
#   - iproute2: `ip`, which the network tests use to look at the host's interfaces
#   - catatonit: the minimal init of `--init`, as podman uses it
#   - strace: a test traces which programs a `run` executes
#   - systemd: its /lib/systemd/systemd boots in a test image of systemd mode (every Debian
#     machine has it; installing it on one that runs another init does not switch init)
#   - docker-registry, apache2-utils (htpasswd), openssl: a real registry the pull, push and
#     login tests run on ports of their own (its system service is stopped: nothing
#     listens on :5000 because of rpod)
#   - curl: the signature policy tests store cosign's signature artifact in that registry
#   - gnupg: the signature policy tests make GPG keys and signatures (rpod itself verifies
#     GPG signatures with gpgv, which every Debian system has)
#   - git: builds from Git repositories fetch them with it (and the tests serve one with
#     git daemon)
#   - openssh-client: `build --ssh ID=KEY` serves key files with its ssh-agent and ssh-add
#     (the tests make keys with ssh-keygen); `image scp` copies images with ssh
#   - openssh-server: the `image scp` tests run an sshd of their own on a port of their own
#     (the package's system service is not started or enabled when this script installs
#     it: nothing listens on :22 because of rpod)
#   - CRIU 4 for checkpoint/restore, unpacked privately (scripts/install-criu.sh)
#   - podman (without its recommends): podman-remote, a client of rpod's REST service
#   - docker-compose (Debian's 1.29, on docker-py): a compose project is driven through
#     rpod's REST service in the tests
#   - bzip2, zstd, xz-utils: the tests compress the archives ADD unpacks and `load`
#     reads with them
#   - cpp: `build -f Containerfile.in` preprocesses the file with it (podman's build does)
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "rpod runs containers as root: run this script as root (sudo $0)" >&2
  exit 1
fi

packages=(runc crun conmon busybox-static tar ca-certificates golang-github-containers-common util-linux netavark aardvark-dns iptables iproute2 catatonit strace systemd docker-registry apache2-utils openssl curl gnupg git openssh-client openssh-server docker-compose bzip2 zstd xz-utils cpp)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
ssh_server_new=no
case " ${missing[*]} " in *" openssh-server "*) ssh_server_new=yes ;; esac
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  apt-get update -qq
  # The services of the packages installed here are not started by their installation
  # (policy-rc.d, the Debian way to say so; only when the host has none of its own).
  policy=/usr/sbin/policy-rc.d
  made_policy=no
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    made_policy=yes
    trap 'rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ "$made_policy" = yes ]; then
    rm -f "$policy"
    trap - EXIT
  fi
fi
# An sshd installed just now is not one the host runs: it is not started at boot either.
if [ "$ssh_server_new" = yes ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable ssh >/dev/null 2>&1 || true
fi
# The package starts its own registry service where systemd runs; the tests start theirs.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
elif [ -x /etc/init.d/docker-registry ]; then
  /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
fi
if ! dpkg-query -W -f='${Status}' podman 2>/dev/null | grep -q "ok installed"; then
  echo "Installing: podman (for podman-remote)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman >/dev/null
fi

# crun refuses to run when the cgroup v2 hierarchy of a hybrid host holds controllers
# ("cgroups in hybrid mode not supported"). On these machines it holds only hugetlb:
# moving hugetlb to a v1 hierarchy of its own leaves it empty.
unified=/sys/fs/cgroup/unified
if [ -f "$unified/cgroup.controllers" ] && grep -qw hugetlb "$unified/cgroup.controllers"; then
  if ! mountpoint -q /sys/fs/cgroup/hugetlb; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
  fi
fi
if [ -f "$unified/cgroup.controllers" ] && [ -n "$(tr -d '[:space:]' < "$unified/cgroup.controllers")" ]; then
  echo "warning: $unified still has controllers ($(cat "$unified/cgroup.controllers")); crun will refuse to run" >&2
fi

"$(dirname "$0")/install-criu.sh"

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install a Rust toolchain (1.89 or newer) to build rpod" >&2
  exit 1
fi
# rpod-monitor is built against musl, statically, where the toolchain can: it starts 0.6 ms
# sooner than against glibc, whose start-up probes the CPU (docs/monitor.md). Without the
# target, scripts/build-monitor.sh builds it against glibc.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  echo "Adding Rust's x86_64-unknown-linux-musl target (for rpod-monitor)"
  rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 ||
    echo "warning: could not add the musl target; rpod-monitor will be built against glibc" >&2
fi

# docker-py, a client the REST service is tested with, in a virtualenv of the checkout
# (target/docker-py), so the system's Python is left alone.
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="$repo/target/docker-py"
if ! "$venv/bin/python" -c 'import docker' >/dev/null 2>&1; then
  echo "Installing docker-py into $venv"
  mkdir -p "$repo/target"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    /usr/bin/python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q 'docker==7.*'
fi
