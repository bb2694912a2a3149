#!/usr/bin/env bash
# Start a Docker engine for the container runtime when none answers, the way
# this project's machines allow one: no bridge and no iptables (no
# private-range network is created; containers use the host's network, which
# the harness asks for anyway). Installs docker.io and debootstrap from
# Debian when they are missing and we are root.
#
# The PID of the dockerd this script starts goes to $DOCKERD_PIDFILE, so
# docker-down.sh stops that process and nothing else. An engine that was
# already running is left alone (no pidfile is written).
set -euo pipefail

pidfile=${DOCKERD_PIDFILE:-/tmp/bench-harness-dockerd.pid}
logfile=${DOCKERD_LOG:-/tmp/bench-harness-dockerd.log}

if docker info >/dev/null 2>&1; then
  echo "docker-up: an engine already answers; leaving it alone"
  exit 0
fi

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "docker-up: dockerd or debootstrap is missing; as root: apt-get install -y docker.io debootstrap" >&2
    exit 1
  fi
  echo "docker-up: installing docker.io and debootstrap"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io debootstrap >/dev/null
fi
if ! command -v docker >/dev/null; then
  echo "docker-up: no docker CLI on PATH (apt-get install -y docker.io)" >&2
  exit 1
fi

# setsid: the engine must not get the terminal's Ctrl-C meant for a run.
setsid dockerd --bridge=none --iptables=false --ip6tables=false >"$logfile" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    echo "docker-up: dockerd started (pid $pid, log $logfile)"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "docker-up: dockerd exited; last lines of $logfile:" >&2
    tail -n 20 "$logfile" >&2
    rm -f "$pidfile"
    exit 1
  fi
  sleep 0.5
done
echo "docker-up: dockerd (pid $pid) did not answer within 60s; see $logfile" >&2
exit 1
