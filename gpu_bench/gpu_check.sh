#!/usr/bin/env bash
# One GPU check, under 10 minutes, for a machine lent for a short time:
#   1. install OpenMM 8.6.1 and its CUDA 13 plugin (and any other wheel) from the carried
#      wheel folder .whl/ (no network needed);
#   2. record the GPU, driver, CUDA, OpenMM, JAX versions and devices (gpu.json);
#   3. MD overhead, rankbind StagedSimulation vs plain OpenMM in the same run and the same
#      settings: the explicit RANKL trimer + 3 RANK system (4GIQ trimer_receptor, PME,
#      4 fs, HMR) at a short and at the default checkpoint interval, with the per-checkpoint
#      and resume costs (md_trimer_rank_explicit.json);
#   4. the DHFR-sized system with OpenMM's published benchmark settings (published.json);
#   5. the JAX analysis benchmarks: contacts, MM/GBSA, MBAR (contacts.json, ...).
# Every part has its own time limit, so one slow part cannot eat the others' time; the
# log says which part stopped. Output: $OUT (default gpu_bench/results/gpu_check).
#
#   OUT=/path bash gpu_bench/gpu_check.sh            # on the GPU machine
#   DRY=1 OUT=/tmp/x bash gpu_bench/gpu_check.sh     # CPU dry run of the wiring (tiny sizes)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${OUT:-gpu_bench/results/gpu_check}
dry=${DRY:-0}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=${RANKBIND_BENCH_WORK:-${TMPDIR:-/tmp}/rankbind-gpu-check}  # big: kept out of $OUT
mkdir -p "$work"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export RANKBIND_PROGRESS_INTERVAL_S=30
python=${PYTHON:-python3}
log() { echo "== $(date -u +%H:%M:%S) $*"; }
part() {  # name seconds command...: run with a time limit, record the exit status
    local name=$1 limit=$2
    shift 2
    log "$name (limit ${limit}s)"
    timeout --signal=TERM --kill-after=15 "$limit" "$@"
    local rc=$?
    echo "{\"part\": \"$name\", \"exit\": $rc, \"limit_s\": $limit}" >>"$out/parts.jsonl"
    [ $rc -eq 124 ] && log "$name: stopped at its time limit"
    return 0
}

# time limits (s) per part; on the GPU machine they add up to under 10 minutes
lim_install=90 lim_prepare=150 lim_md=180 lim_published=60 lim_contacts=30 lim_mmgbsa=45
lim_mbar=30
if [ "$dry" = 1 ]; then
    platforms=CPU
    # a 1,779-atom vacuum fragment built by bench_md itself (no preparation part)
    md_system=(--entry 3URF --kind interface --extract RANKL/A:200-260 OPG:80-130
        --solvent vacuum)
    md_args=(--steps 8 --report-interval 4 --checkpoint-interval 4,8 --repeats 1
        --equilibrate-steps 2 --minimize-iterations 5)
    lim_md=600 lim_published=300 lim_contacts=300 lim_mmgbsa=300 lim_mbar=120
    pub=(--platforms CPU --steps 4 --repeats 1 --equilibrate-steps 2 --tests gbsa)
    contacts=64; mmgbsa_frames=2; mbar_samples=2000
else
    platforms=CUDA
    # 10,000 steps of 4 fs (40 ps): ~7 s per run at 500 ns/day; checkpoint every 2,000
    # steps (short) and 10,000 (the default interval of SimulationOptions)
    md_args=(--steps 10000 --report-interval 1000 --checkpoint-interval 2000,10000
        --repeats 2 --equilibrate-steps 500 --minimize-iterations 200)
    # prepared here once, or carried in $RANKBIND_BENCH_WORK/trimer_rank to save 1-2 min
    md_system=(--prepared "$work/trimer_rank" --solvent explicit)
    pub=(--platforms CUDA --steps 5000 --repeats 2 --equilibrate-steps 200 --tests pme)
    contacts=10000; mmgbsa_frames=64; mbar_samples=100000
fi

# 1. wheels ------------------------------------------------------------------------------
# into a private target folder (the lent machine's Python has JAX but no OpenMM; see
# gpu_bench/README.md): openmm==8.6.1, openmm-cuda-13==8.6.1, pdbfixer, mdtraj, ...
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    site=${RANKBIND_SITE:-${TMPDIR:-/tmp}/rankbind-site}
    part install $lim_install "$python" -m pip install --no-index --no-deps --quiet \
        --target "$site" .whl/*.whl
    export PYTHONPATH="$root:$site${PYTHONPATH:+:$PYTHONPATH}"
    ls .whl | grep -q '^openmm-8.6.1' || log "warning: no openmm 8.6.1 wheel in .whl/"
    ls .whl | grep -q '^openmm_cuda_13-8.6.1' || log "warning: no openmm-cuda-13 8.6.1 wheel"
else
    log "no .whl/ folder: using the installed OpenMM"
fi

# 2. machine record ------------------------------------------------------------------------
"$python" - "$out/gpu.json" <<'EOF'
import json, platform, subprocess, sys
def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable: {exc}"
record = {
    "nvidia_smi": run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,"
                       "compute_cap,clocks.max.sm,power.limit", "--format=csv"]),
    "nvidia_smi_cuda": run(["bash", "-c", "nvidia-smi | grep -o 'CUDA Version: [0-9.]*'"]),
    "python": platform.python_version(),
    "machine": platform.machine(),
}
try:
    import openmm
    record["openmm"] = openmm.__version__
    record["openmm_platforms"] = [openmm.Platform.getPlatform(i).getName()
                                  for i in range(openmm.Platform.getNumPlatforms())]
    record["openmm_plugin_failures"] = openmm.Platform.getPluginLoadFailures()
except Exception as exc:  # noqa: BLE001
    record["openmm"] = f"import failed: {exc}"
try:
    import jax
    record["jax"] = jax.__version__
    record["jax_devices"] = [str(d) for d in jax.devices()]
except Exception as exc:  # noqa: BLE001
    record["jax"] = f"import failed: {exc}"
json.dump(record, open(sys.argv[1], "w"), indent=2, default=str)
print(json.dumps(record, indent=2, default=str))
EOF

# 3. MD overhead on the explicit RANKL trimer + 3 RANK system -----------------------------
if [ "$dry" != 1 ] && [ ! -f "$work/trimer_rank/metadata.json" ]; then
    part prepare $lim_prepare "$python" -m rankbind prepare 4GIQ --assembly trimer_receptor \
        --solvent explicit --out "$work/trimer_rank"
fi
part md $lim_md "$python" gpu_bench/bench_md.py "${md_system[@]}" --platforms "$platforms" "${md_args[@]}" --output "$out/md_trimer_rank_explicit.json" \
    --note "gpu_check.sh$([ "$dry" = 1 ] && echo ' DRY (not for reporting)')"

# 4. DHFR-sized system, OpenMM's published settings ---------------------------------------
part published $lim_published "$python" gpu_bench/bench_published.py "${pub[@]}" \
    --out "$out/published.json" --note "gpu_check.sh"

# 5. JAX analyses -------------------------------------------------------------------------
part contacts $lim_contacts "$python" gpu_bench/bench_contacts.py --frames "$contacts" \
    --out "$out/contacts.json" --note "gpu_check.sh"
part mmgbsa $lim_mmgbsa "$python" gpu_bench/bench_mmgbsa.py --system asu --frames "$mmgbsa_frames" \
    --batch-size "$([ "$dry" = 1 ] && echo 2 || echo 16)" --output "$out/mmgbsa.json" \
    --note "gpu_check.sh"
part mbar $lim_mbar "$python" gpu_bench/bench_mbar.py --states 100 --samples "$mbar_samples" \
    --out "$out/mbar.json" --note "gpu_check.sh"

log "done: $(ls "$out")"
