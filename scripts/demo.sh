#!/usr/bin/env bash
# The README's main command: NetAdapt end to end on this machine, on real data, compared with
# what simply thinning every layer by the same factor gives at the same latency.
#
#   scripts/demo.sh                 the residual network examples/residual_cnn.json (three
#                                   stages whose layers differ in cost, tied channel groups),
#                                   in out/demo-residual (after the build, about 8 minutes on
#                                   2 cores the first time; 2-5 minutes again: the trained seed
#                                   and the measured LUT are reused)
#   scripts/demo.sh cnn             the plain CNN examples/fashion_cnn.json, in out/demo
#
# Installs what is missing, builds, starts a local cluster (profiler agent measuring this
# CPU, master, two workers: scripts/local-cluster.sh), trains a seed network on Fashion-MNIST
# (Debian's dataset-fashion-mnist), adapts it with NetAdapt to 0.35 of its latency on this
# CPU ($NETADAPT_DEMO_BUDGET), and prints seed / adapted / uniform baseline on the test split
# with measured and LUT latencies, whatever the result. The job's uniform baseline is the seed
# thinned by one width multiplier to the adapted network's latency and fine-tuned with the
# same training the adapted network's lineage received; "seed trained alike" is the seed with
# that training. $NETADAPT_DEMO_SEED (default 1) is the job's seed. Leaves in
# $NETADAPT_DEMO_OUT (default out/demo-residual or out/demo):
#   seed.ckpt         the trained seed network (kept: a second run starts from it)
#   adapted.ckpt      the adapted network (netadapt checkpoint; `netadapt submit --weights`)
#   adapted.onnx      the same, ONNX (opset 13) where the export is available
#   adapted.json      its NetworkDef
#   job.json          the whole job: spec, every iteration, every proposal, the baseline
#   summary.txt       the final table
#   report.html       plots of the run where `netadapt report` is available
#   cluster/          logs of every process
# The simplify benchmark of the previous main command is `build/bench/simplify_bench`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
case ${1:-residual} in
  cnn) network=examples/fashion_cnn.json; default_out=out/demo ;;
  residual) network=examples/residual_cnn.json; default_out=out/demo-residual ;;
  *) echo "usage: scripts/demo.sh [residual|cnn]" >&2; exit 1 ;;
esac
budget=${NETADAPT_DEMO_BUDGET:-0.35}
job_seed=${NETADAPT_DEMO_SEED:-1}
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
# --channel-step 2: with step 4 the 16-channel blocks have widths 16, 12, 8, 4 only, and the
# nearest uniform thinning was 20-26 % off the adapted network's LUT latency; with 2 it is
# within a few percent.
echo "== 2. NetAdapt to $budget of the seed's latency on this CPU (job seed $job_seed)"
job=$("$cli" --output json submit --network "$network" --weights "$out/seed.ckpt" \
      --dataset "$dataset" --holdout-size 5000 --batch-size 64 --finetune-lr 0.01 \
      --budget-ratio "$budget" --reduction-ratio 0.1 --decay 0.96 --short-term-steps 100 \
      --long-term-epochs 1 --channel-step 2 --seed "$job_seed" \
      --display-name "demo (budget $budget, seed $job_seed)" | job_name)
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

# Seed, adapted and uniform baseline: test accuracy (one split for all), latency measured
# end to end on this CPU by the profiler agent at the end of the job (the same number of
# measurements each, interleaved, the fastest kept) and the LUT's sum.
python3 - "$out/job.json" <<'PY' | tee "$out/summary.txt"
import json, sys
job = json.load(open(sys.argv[1]))
seed, final = job.get("seed", {}), job.get("final", {})
baseline = job.get("uniform_baseline", {})
uniform, trained = baseline.get("result", {}), baseline.get("seed_fine_tuned", {})
final_test = final.get("test_accuracy", final.get("accuracy", 0))
columns = [("seed", seed, seed.get("test_accuracy", 0)),
           ("adapted", final, final_test),
           ("uniform", uniform, uniform.get("test_accuracy", 0)),
           ("seed trained alike", trained, trained.get("test_accuracy", 0))]
def ms(r): return r.get("measured_latency_ms", 0.0)
def pct(a): return f"{100 * a:.2f}%" if a else "-"
rows = [("test accuracy", [pct(a) for _, _, a in columns]),
        ("measured latency (ms)", [f"{ms(r):.3f}" if ms(r) else "-" for _, r, _ in columns]),
        ("  / seed", [f"{ms(r) / ms(seed):.2f}" if ms(r) and ms(seed) else "-" for _, r, _ in columns]),
        ("LUT latency (ms)", [f"{r.get('resource', 0):.3f}" if r.get("resource") else "-" for _, r, _ in columns]),
        ("  / seed", [f"{r.get('resource', 0) / seed['resource']:.2f}" if r.get("resource") and seed.get("resource") else "-" for _, r, _ in columns]),
        ("weights", [str(r.get("weights", "-")) for _, r, _ in columns]),
        ("MACs", [str(r.get("macs", "-")) for _, r, _ in columns])]
print(f"\n{'test split':24}" + "".join(f"{name:>20}" for name, _, _ in columns))
for name, cells in rows:
    print(f"{name:24}" + "".join(f"{c:>20}" for c in cells))
# Widths (one per conv and linear layer) are too long for a column.
for name, r, _ in columns[:3]:
    print(f"{name + ' widths':24}{' '.join(map(str, r.get('widths', [])))}")
runs = {r.get("measured_latency_runs", 0) for _, r, _ in columns[:3] if ms(r)}
if runs:
    print(f"\nmeasured latencies: the fastest of {'/'.join(map(str, sorted(runs)))} end-to-end "
          "measurements each, taken alternately at the end of the job")
if baseline.get("state") == "SUCCEEDED":
    print(f"uniform baseline: x{baseline.get('width_multiplier', 0):.3f} on every block; it and "
          f"the seed trained alike got {baseline.get('fine_tune_steps', 0)} steps + "
          f"{baseline.get('fine_tune_epochs', 0)} epoch(s), as the adapted network's lineage")
    diff = 100 * (final_test - uniform.get("test_accuracy", 0))
    print(f"adapted vs uniform at equal latency, test split: accuracy {pct(final_test)} vs "
          f"{pct(uniform.get('test_accuracy', 0))} ({diff:+.2f} points)")
else:
    print(f"uniform baseline: {baseline.get('state', 'none')} {baseline.get('reason', '')}")
PY
echo
echo "outputs in $out"
