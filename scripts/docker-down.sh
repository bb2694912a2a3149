#!/usr/bin/env bash
# Stop the dockerd that docker-up.sh started, by its PID; an engine this
# project did not start is never touched.
set -euo pipefail

pidfile=${DOCKERD_PIDFILE:-/tmp/bench-harness-dockerd.pid}
[ -f "$pidfile" ] || { echo "docker-down: no dockerd of ours to stop"; exit 0; }
pid=$(cat "$pidfile")
rm -f "$pidfile"
# Only a dockerd: a stale pidfile may name a PID reused by something else.
if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" != dockerd ]; then
  echo "docker-down: pid $pid is not a dockerd any more; nothing to stop"
  exit 0
fi
kill -TERM "$pid"
# dockerd stops its containers and its own containerd before it exits.
for _ in $(seq 1 60); do
  kill -0 "$pid" 2>/dev/null || { echo "docker-down: dockerd (pid $pid) stopped"; exit 0; }
  sleep 0.5
done
echo "docker-down: dockerd (pid $pid) still running after 30s; sending SIGKILL" >&2
kill -KILL "$pid" 2>/dev/null || true
