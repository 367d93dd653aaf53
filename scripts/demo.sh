#!/usr/bin/env bash
# The README's main command: NetAdapt end to end on this machine, on real data.
#
#   scripts/demo.sh                 (about 10-15 minutes on 2 cores; again: reuses the seed)
#   scripts/demo.sh residual        the same with a residual network (examples/residual_cnn.json:
#                                   three stages, tied channel groups), in out/demo-residual
#
# Installs what is missing, builds, starts a local cluster (profiler agent measuring this
# CPU, master, two workers: scripts/local-cluster.sh), trains a seed CNN on Fashion-MNIST
# (Debian's dataset-fashion-mnist), adapts it with NetAdapt to half of its latency on this
# CPU, and leaves in $NETADAPT_DEMO_OUT (default out/demo):
#   seed.ckpt         the trained seed network (kept: a second run starts from it)
#   adapted.ckpt      the adapted network (netadapt checkpoint; `netadapt submit --weights`)
#   adapted.onnx      the same, ONNX (opset 13) where the export is available
#   adapted.json      its NetworkDef
#   job.json          the whole job: spec, every iteration, every proposal
#   report.html       plots of the run where `netadapt report` is available
#   cluster/          logs of every process
# The simplify benchmark of the previous main command is `build/bench/simplify_bench`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
case ${1:-cnn} in
  cnn) network=examples/fashion_cnn.json; default_out=out/demo ;;
  residual) network=examples/residual_cnn.json; default_out=out/demo-residual ;;
  *) echo "usage: scripts/demo.sh [cnn|residual]" >&2; exit 1 ;;
esac
build=${NETADAPT_BUILD_DIR:-build}
out=${NETADAPT_DEMO_OUT:-$default_out}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" -j "$(nproc)" \
  --target netadapt-master netadapt-worker netadapt-profiler netadapt
export NETADAPT_BUILD_DIR=$build

dataset="fashion-mnist:$(dirname "$(dpkg -L dataset-fashion-mnist | grep -m1 'train-images')")"
cli="$build/cli/netadapt"
mkdir -p "$out"

scripts/local-cluster.sh stop "$out/cluster" > /dev/null 2>&1 || true
trap 'scripts/local-cluster.sh stop "$out/cluster"' EXIT
# Printed through the inherited stderr: `tee /dev/stderr` would reopen (and truncate) a log
# file that stderr is redirected to.
started=$(scripts/local-cluster.sh start "$out/cluster" 2)
echo "$started" >&2
eval "$(grep '^export ' <<< "$started")"

# The job name `netadapt submit/pretrain --output json` prints.
job_name() { sed -n 's/.*"name": *"\(jobs\/[0-9]*\)".*/\1/p' | head -1; }

echo
echo "== 1. The seed network: $network on $dataset"
if [[ -f $out/seed.ckpt && -f $out/seed-job.json ]]; then
  echo "reusing $out/seed.ckpt (delete it to train again)"
else
  seed_job=$("$cli" --output json pretrain --network "$network" --dataset "$dataset" \
             --epochs 2 --batch-size 64 --holdout-size 5000 --seed 1 \
             --display-name "demo seed" | job_name)
  "$cli" watch "$seed_job"
  "$cli" export "$seed_job" --iteration final -o "$out/seed.ckpt"
  "$cli" --output json get "$seed_job" > "$out/seed-job.json"
fi

echo
echo "== 2. NetAdapt to half of the seed's latency on this CPU"
job=$("$cli" --output json submit --network "$network" --weights "$out/seed.ckpt" \
      --dataset "$dataset" --holdout-size 5000 --batch-size 64 --finetune-lr 0.01 \
      --budget-ratio 0.5 --reduction-ratio 0.1 --decay 0.96 --short-term-steps 100 \
      --long-term-epochs 1 --channel-step 4 --seed 1 --display-name "demo" | job_name)
"$cli" watch "$job"

echo
echo "== 3. Results"
"$cli" get "$job"
"$cli" --output json get "$job" > "$out/job.json"
"$cli" export "$job" --iteration final -o "$out/adapted.ckpt"
"$cli" export "$job" --iteration final --format json -o "$out/adapted.json"
"$cli" export "$job" --iteration final --format onnx -o "$out/adapted.onnx" \
  || echo "(ONNX export not available in this build)"
if "$cli" report --help > /dev/null 2>&1; then
  "$cli" report "$job" -o "$out/report.html"
fi

# Seed vs adapted: latency measured on this CPU by the profiler agent at the end of the job
# (back to back, best of three each), test accuracy of each (the seed's from its pre-training
# job).
python3 - "$out/seed-job.json" "$out/job.json" <<'PY'
import json, sys
seed_job, job = (json.load(open(p)) for p in sys.argv[1:3])
seed, final = job.get("seed", {}), job.get("final", {})
seed_test = seed_job.get("final", {}).get("accuracy", 0)
def ms(r): return r.get("measured_latency_ms", 0.0)
rows = [("measured latency (ms)", f"{ms(seed):.3f}", f"{ms(final):.3f}"),
        ("LUT latency (ms)", f"{seed.get('resource', 0):.3f}", f"{final.get('resource', 0):.3f}"),
        ("test accuracy", f"{100 * seed_test:.2f}%", f"{100 * final.get('accuracy', 0):.2f}%"),
        ("weights", seed.get("weights", "0"), final.get("weights", "0")),
        ("MACs", seed.get("macs", "0"), final.get("macs", "0"))]
print(f"\n{'':24}{'seed':>16}{'adapted':>16}")
for name, a, b in rows:
    print(f"{name:24}{str(a):>16}{str(b):>16}")
# Widths (one per conv and linear layer) are too long for a column.
for name, r in (("seed widths", seed), ("adapted widths", final)):
    print(f"{name:24}{' '.join(map(str, r.get('widths', [])))}")
if ms(seed) > 0:
    print(f"\nadapted / seed measured latency: {ms(final) / ms(seed):.2f}")
PY
echo
echo "outputs in $out"
