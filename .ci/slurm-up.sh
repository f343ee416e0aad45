#!/usr/bin/env bash
# Start a single-node SLURM cluster (munge + slurmctld + slurmd) on localhost, as root,
# with all configuration and state in one directory. Idempotent: if the cluster from a
# previous call is still up, it only prints the environment again.
#
#   .ci/slurm-up.sh            # prints e.g.  SLURM_CONF=/tmp/rankbind-slurm/slurm.conf
#   eval "$(.ci/slurm-up.sh)"  # to use it in the calling shell
#
# Exports nothing itself; everything else goes to stderr. Stop it with .ci/slurm-down.sh.
# Environment: RANKBIND_SLURM_DIR (state directory, default /tmp/rankbind-slurm),
# RANKBIND_SLURM_PORT (slurmctld port, default 6817; slurmd uses port + 1).
# See /work/shared/notes/local-slurm.md for why each setting is what it is.
set -euo pipefail

dir="${RANKBIND_SLURM_DIR:-/tmp/rankbind-slurm}"
port="${RANKBIND_SLURM_PORT:-6817}"
conf="$dir/slurm.conf"
log() { echo "slurm-up: $*" >&2; }

for exe in munged munge unmunge slurmctld slurmd sinfo; do
    command -v "$exe" >/dev/null || { log "missing $exe (apt-get install -y slurm-wlm munge)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { log "must run as root (SlurmUser=root)"; exit 1; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

mkdir -p "$dir/state" "$dir/spool" "$dir/log"

# munge: reuse a running daemon, else start one and remember that we did.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    munged --force 2>>"$dir/log/munged.err"
    cp /run/munge/munged.pid "$dir/munged.pid"
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null || { log "munged did not start (see $dir/log/munged.err)"; exit 1; }
    log "started munged (pid $(cat "$dir/munged.pid"))"
fi

if alive "$dir/slurmctld.pid" && alive "$dir/slurmd.pid" \
    && SLURM_CONF="$conf" sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
    log "already running ($conf)"
    echo "SLURM_CONF=$conf"
    exit 0
fi

host="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
cat >"$conf.part" <<CONF
ClusterName=rankbind
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
MinJobAge=300
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
MessageTimeout=10
KillWait=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
mv "$conf.part" "$conf"

# Stop leftovers of an earlier, half-started cluster of ours (by pid file only).
for name in slurmd slurmctld; do
    if alive "$dir/$name.pid"; then kill "$(cat "$dir/$name.pid")"; sleep 1; fi
done

SLURM_CONF="$conf" slurmctld -c -f "$conf"   # -c: fresh state, no jobs from earlier runs
for _ in $(seq 100); do SLURM_CONF="$conf" scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
SLURM_CONF="$conf" slurmd -f "$conf"
for _ in $(seq 100); do
    SLURM_CONF="$conf" sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)' && break
    sleep 0.2
done
if ! SLURM_CONF="$conf" sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
    log "node did not become idle; logs in $dir/log"
    SLURM_CONF="$conf" sinfo >&2 || true
    exit 1
fi
log "cluster up: $(SLURM_CONF="$conf" sinfo -h -o '%P %D %T %C')"
echo "SLURM_CONF=$conf"
