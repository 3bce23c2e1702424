#!/usr/bin/env bash
# Issue #17's last two levers, screened on seeds 10 and 11 (never the judged 0-2): the 0.3 default, the default with
# progress features (t/T, step count, loss trend) and the default with a 4-step hypergradient horizon, on SST-2 and
# NLG; then (seed 10) the three from η 1e-4, and the gain bound 1000 from η 1e-4 and 1e-2; then warm starts of Φ from
# one NLG run (seed 10) with and without progress features, on SST-2 (seeds 10, 11). Each is one `hyperadalora
# train` from the committed seed-0 run of the default (its config.json: the linear schedule, 200 steps, η 1e-2,
# orthonormal start, max_gain 10: 0.3's default, written out in that file) with the seed and the screen's options
# changed; the warm starts' chains pin max_gain 10 too. Two lanes:
#   bash benchmarks/screens_levers.sh laneA & bash benchmarks/screens_levers.sh laneB; wait
#   bash benchmarks/screens_levers.sh ratesA & bash benchmarks/screens_levers.sh ratesB; wait
#   bash benchmarks/screens_levers.sh warmA & bash benchmarks/screens_levers.sh warmB; wait
#   python benchmarks/screens_issue17.py benchmarks/results/screens_levers > benchmarks/results/screens_levers/table.md
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
R=benchmarks/results
W=runs/warm_levers  # the warm starts' chains (not committed: adapters)
declare -A OPTS=([default]="" [progress]="--progress-features" [horizon4]="--hypergradient-horizon 4"
                [default_lr1e-4]="--lr 1e-4" [progress_lr1e-4]="--lr 1e-4 --progress-features"
                [horizon4_lr1e-4]="--lr 1e-4 --hypergradient-horizon 4"
                [gain1000]="--max-gain 1000" [gain1000_lr1e-4]="--lr 1e-4 --max-gain 1000"
                [warm_nlg10]="--hypernet-init $W/nlg10/warm_start.safetensors"
                [warm_nlg10_progress]="--hypernet-init $W/nlg10_progress/warm_start.safetensors --progress-features")
screen() {  # task seed name...
  local task=$1 seed=$2; shift 2
  for name in "$@"; do
    local out=$R/screens_levers/$task/$name/seed$seed
    [ -f "$out/summary.json" ] && continue
    hyperadalora train --config $R/compare_defaults_$task/runs/default/seed0/config.json --seed "$seed" --out "$out" \
      --no-progress --no-resume --overwrite ${OPTS[$name]} > /dev/null
    rm -rf "$out/checkpoints" "$out/adapter"
  done
}
case "${1:-}" in
  laneA) screen sst2 10 default horizon4 progress; screen nlg 11 default progress; screen sst2 11 default horizon4 progress ;;
  laneB) screen nlg 10 default horizon4 progress; screen nlg 11 horizon4 ;;
  # from η 1e-4, where the default stays near the floor in 200 steps (issue #17's rate criterion)
  ratesA) screen sst2 10 default_lr1e-4 horizon4_lr1e-4 progress_lr1e-4 gain1000_lr1e-4 gain1000 ;;
  ratesB) screen nlg 10 default_lr1e-4 horizon4_lr1e-4 progress_lr1e-4 gain1000_lr1e-4 gain1000 ;;
  # progress features where they can be used: by a Φ that saw another run (NLG seed 10), judged on SST-2 (held out),
  # beside the same warm start without them
  warmA) python benchmarks/warm_start.py --out $W/nlg10 --link nlg-defaults:instruct:10 --set max_gain=10 > /dev/null
         screen sst2 10 warm_nlg10; screen sst2 11 warm_nlg10 ;;
  warmB) python benchmarks/warm_start.py --out $W/nlg10_progress --link nlg-defaults:instruct:10 --set progress_features=true --set max_gain=10 > /dev/null
         screen sst2 10 warm_nlg10_progress; screen sst2 11 warm_nlg10_progress ;;
  *) echo "usage: $0 laneA|laneB|ratesA|ratesB|warmA|warmB" >&2; exit 2 ;;
esac
