#!/usr/bin/env bash
# Run the benchmark suite on this machine and write its JSON (+ SUMMARY.md) to OUTDIR.
#
#   gpu_bench/run_suite.sh OUTDIR [PLATFORMS] [PART ...]
#
# PLATFORMS: comma-separated OpenMM platforms for the MD benchmarks (default CUDA,OpenCL);
# the CPU platform, far slower on these systems, is run with fewer steps when listed.
# PARTS: prepare md-explicit md-implicit md-fab published analysis scaling summary
# (default: all, in that order). Prepared systems are cached in $RANKBIND_BENCH_WORK
# (default OUTDIR/prepared), so parts can run in separate calls (e.g. 10-minute slots).
# QUICK=1 shrinks every run to a smoke test of the wiring (numbers not for reporting).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: gpu_bench/run_suite.sh OUTDIR [PLATFORMS] [PART ...]}
platforms=${2:-CUDA,OpenCL}
shift $(( $# >= 2 ? 2 : 1 ))
parts=${*:-prepare md-explicit md-implicit md-fab published analysis scaling summary}
work=${RANKBIND_BENCH_WORK:-$out/prepared}
quick=${QUICK:-0}
mkdir -p "$out" "$work"
note="run_suite.sh${QUICK:+ QUICK=$quick}"

gpu_platforms=$(echo "$platforms" | tr ',' '\n' | grep -v '^CPU$' | paste -sd, || true)
has_cpu=$(echo "$platforms" | tr ',' '\n' | grep -c '^CPU$' || true)

prepare() {  # name, then rankbind prepare arguments
    local name=$1; shift
    [ -f "$work/$name/system.xml" ] || rankbind prepare "$@" --out "$work/$name"
}

md() {  # name solvent steps report checkpoints cpu_steps extra...
    local name=$1 solvent=$2 steps=$3 report=$4 checkpoints=$5 cpu_steps=$6
    shift 6
    local extra=()
    if [ "$quick" = 1 ]; then
        steps=4; report=2; checkpoints=4; cpu_steps=4
        extra=(--repeats 1 --minimize-iterations 10 --equilibrate-steps 2 --rebuild-repeats 1)
    fi
    if [ -n "$gpu_platforms" ]; then
        python gpu_bench/bench_md.py --prepared "$work/$name" --solvent "$solvent" \
            --steps "$steps" --report-interval "$report" --checkpoint-interval "$checkpoints" \
            --platforms "$gpu_platforms" --output "$out/md_${name}_gpu.json" --note "$note" \
            "$@" "${extra[@]}"
    fi
    if [ "$has_cpu" = 1 ]; then
        python gpu_bench/bench_md.py --prepared "$work/$name" --solvent "$solvent" \
            --steps "$cpu_steps" --report-interval $((cpu_steps / 2)) \
            --checkpoint-interval "$cpu_steps" --repeats 2 --rebuild-repeats 1 --platforms CPU \
            --output "$out/md_${name}_cpu.json" --note "$note" "$@" "${extra[@]}"
    fi
}

for part in $parts; do
    echo "== $part $(date -u +%H:%M:%S)"
    case $part in
    prepare)
        prepare trimer_rank_explicit 4GIQ --assembly trimer_receptor --solvent explicit
        prepare trimer_opg_explicit 3URF --assembly hexamer --solvent explicit
        prepare trimer_rank_gbn2 4GIQ --assembly trimer_receptor --solvent implicit
        prepare trimer_opg_gbn2 3URF --assembly hexamer --solvent implicit
        prepare fab_rankl_explicit \
            structures/models/denosumab_fab_rankl/denosumab_fab_human_rankl_pose01.pdb \
            --solvent explicit
        ;;
    md-explicit)
        md trimer_rank_explicit explicit 20000 1000 2000,10000 40 --minimize-iterations 200
        md trimer_opg_explicit explicit 10000 1000 2000,10000 20 --minimize-iterations 200
        ;;
    md-implicit)
        md trimer_rank_gbn2 implicit 2000 100 500,2000 4 --minimize-without-gb
        md trimer_opg_gbn2 implicit 2000 100 500,2000 4 --minimize-without-gb
        ;;
    md-fab)
        md fab_rankl_explicit explicit 20000 1000 2000,10000 40 --minimize-iterations 200
        ;;
    published)
        steps=$([ "$quick" = 1 ] && echo 20 || echo 2000)
        python gpu_bench/bench_published.py --platforms "$platforms" --steps "$steps" \
            --out "$out/published.json" --note "$note"
        ;;
    analysis)
        frames=$([ "$quick" = 1 ] && echo 128 || echo 10000)
        python gpu_bench/bench_contacts.py --frames "$frames" --out "$out/contacts.json" --note "$note"
        python gpu_bench/bench_mmgbsa.py --system asu --frames "$([ "$quick" = 1 ] && echo 4 || echo 64)" \
            --batch-size "$([ "$quick" = 1 ] && echo 4 || echo 16)" --output "$out/mmgbsa.json" --note "$note"
        python gpu_bench/bench_mbar.py --states 100 --samples "$([ "$quick" = 1 ] && echo 2000 || echo 100000)" \
            --out "$out/mbar.json" --note "$note"
        python gpu_bench/bench_docking.py --rotations "$([ "$quick" = 1 ] && echo 8 || echo 256)" \
            --out "$out/docking.json" --note "$note"
        ;;
    scaling)
        python gpu_bench/bench_scaling.py --out "$out/scaling.json" --note "$note" \
            $([ "$quick" = 1 ] && echo --quick)
        ;;
    summary)
        python gpu_bench/summarize.py --results "$out"
        ;;
    *)
        echo "unknown part '$part' (prepare md-explicit md-implicit md-fab published analysis scaling summary)" >&2
        exit 2
        ;;
    esac
done
