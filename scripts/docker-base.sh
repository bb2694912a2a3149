#!/usr/bin/env bash
# Build the offline base image, bench-base:bookworm, from Debian packages
# alone: debootstrap a minimal bookworm root and `docker import` it. This is
# the FROM of the images the container runtime generates when no registry
# can be reached (see harness/runtimes/docker_offline.go); the host is Debian
# bookworm too, so natively built artifacts find the same libraries.
#
#   scripts/docker-base.sh            build it unless it exists
#   FORCE=1 scripts/docker-base.sh    rebuild it
#
# Needs root, debootstrap and a running engine (scripts/docker-up.sh).
set -euo pipefail

image=${BENCH_BASE_IMAGE:-bench-base:bookworm}
suite=${DEBIAN_SUITE:-bookworm}
# The mirror apt already uses on this machine, else Debian's CDN.
mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
# What the natively built servers load at run time beyond minbase (which
# already has libc6, libstdc++6, libgcc-s1): TLS roots and libssl for
# anything that links OpenSSL, ncurses/tinfo for an Erlang release's ERTS,
# zlib. (PID 1 is the engine's docker-init: the harness and compose ask
# for it.)
include=${BASE_PACKAGES:-ca-certificates,libssl3,libncurses6,libtinfo6,zlib1g}

if [ -z "${FORCE:-}" ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "docker-base: $image exists (FORCE=1 rebuilds it)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "docker-base: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "docker-base: apt-get install -y debootstrap" >&2; exit 1; }

root=$(mktemp -d /tmp/bench-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "docker-base: debootstrap --variant=minbase $suite from $mirror (a few minutes)"
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
  echo "docker-base: debootstrap failed; last lines of $root.log:" >&2
  tail -n 20 "$root.log" >&2
  exit 1
}
rm -f "$root.log"
# apt in an offline image (a packaged runtime such as Erlang) should see the
# suites the host installs from (updates, security), so the same versions.
if grep -q '^VERSION_CODENAME='"$suite"'$' /etc/os-release 2>/dev/null && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
  rm -f "$root/etc/apt/sources.list"
fi
# An image needs no package cache, docs or the host's resolver settings.
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
  "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
: >"$root/etc/resolv.conf"
printf 'bench-base\n' >"$root/etc/hostname"

created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  --change "LABEL org.opencontainers.image.title=bench-base org.opencontainers.image.created=$created org.benchharness.base=debootstrap-$suite-minbase org.benchharness.mirror=$mirror" \
  - "$image" >/dev/null
echo "docker-base: built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1048576}'))"
