#!/usr/bin/env bash
# Stop the cluster started by .ci/slurm-up.sh: slurmd, slurmctld, and munged if that
# script started it. Daemons are stopped by the pids in their pid files, never by name.
set -uo pipefail
dir="${RANKBIND_SLURM_DIR:-/tmp/rankbind-slurm}"
for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -s "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        echo "slurm-down: stopped $name (pid $pid)" >&2
    fi
    rm -f "$pidfile"
done
