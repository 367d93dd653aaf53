#!/usr/bin/env bash
# "My model, my images" end to end on this machine (issue 13): a network defined in PyTorch
# (examples/residual_cnn.py) is trained a little on an image folder, exported to ONNX, imported,
# adapted by a local cluster to half its measured latency on this CPU, exported back to ONNX
# and run again in PyTorch.
#
#   scripts/own-model-demo.sh          about 4 minutes on 2 cores (plus the build the first time)
#
# Steps, each a command a user would type:
#   1. Fashion-MNIST (Debian's dataset-fashion-mnist) written out as an image folder of PNG and
#      JPEG files, 10000 train / 2000 test images (examples/write_fashion_mnist_folder.py);
#   2. ResidualCNN trained for $NETADAPT_OWN_EPOCHS (default 2) epochs on it by Debian's
#      python3-torch and exported to ONNX with batchnorm kept (examples/train_and_export.py;
#      NETADAPT_OWN_EPOCHS=0 keeps the random weights);
#   3. `netadapt import` (NetworkDef JSON, weights, the channel groups by `netadapt explain`);
#   4. a local cluster (scripts/local-cluster.sh: profiler agent measuring this CPU, master, two
#      workers) and `netadapt submit --onnx seed.onnx --dataset imagefolder:... --budget-ratio
#      0.5 --budget-metric measured`;
#   5. `netadapt export --format onnx`, then the adapted network rebuilt in PyTorch from that
#      file (examples/run_adapted.py: ResidualCNN.from_state_dict), its logits checked against
#      the ONNX graph itself (tests/common/torch/onnx_reference.py, NumPy), its accuracy measured;
#   6. a table, seed vs adapted vs the job's uniform baseline (the seed thinned by one width
#      multiplier to the adapted network's latency, trained alike) vs the seed trained alike:
#      measured latency, test accuracy (the job's, LibTorch; and for seed and adapted, PyTorch's
#      on the ONNX files), weights, MACs.
# Leaves everything in $NETADAPT_OWN_OUT (default out/own-model): images/, seed.onnx,
# seed.json, seed.ckpt, adapted.onnx, adapted.json, adapted.ckpt, job.json, summary.txt,
# cluster/ (logs). A second run reuses the images and seed.onnx.
# NETADAPT_SKIP_BUILD=1 uses the binaries already in $NETADAPT_BUILD_DIR (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${NETADAPT_BUILD_DIR:-build}
out=${NETADAPT_OWN_OUT:-out/own-model}
epochs=${NETADAPT_OWN_EPOCHS:-2}
python=/usr/bin/python3   # Debian's, with python3-torch, -torchvision and -onnx
if [[ ${NETADAPT_SKIP_BUILD:-0} != 1 ]]; then
  scripts/install-deps.sh
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
  cmake --build "$build" -j "$(nproc)" \
    --target netadapt-master netadapt-worker netadapt-profiler netadapt
fi
export NETADAPT_BUILD_DIR=$build
cli="$build/cli/netadapt"
mkdir -p "$out"
images=$(realpath "$out")/images
# As the workers read the folder; train_and_export.py and run_adapted.py read it alike.
dataset="imagefolder:$images,channels=1,mean=0.286,std=0.353,random_resized_crop=0"

echo "== 1. Fashion-MNIST as an image folder: $images"
"$python" examples/write_fashion_mnist_folder.py "$images" --train 10000 --test 2000

echo
echo "== 2. examples/residual_cnn.py trained ($epochs epochs) and exported to ONNX"
if [[ -f $out/seed.onnx ]]; then
  echo "reusing $out/seed.onnx (delete it to train again)"
elif [[ $epochs == 0 ]]; then
  "$python" examples/train_and_export.py --random-weights -o "$out/seed.onnx"
else
  "$python" examples/train_and_export.py --data "$images" --epochs "$epochs" -o "$out/seed.onnx"
fi

echo
echo "== 3. netadapt import"
"$cli" import "$out/seed.onnx" -o "$out/seed.json" --weights-out "$out/seed.ckpt"
"$cli" explain --network "$out/seed.json"

echo
echo "== 4. A local cluster adapts it to half its measured latency on this CPU"
scripts/local-cluster.sh stop "$out/cluster" > /dev/null 2>&1 || true
rm -rf "$out/cluster"
trap 'scripts/local-cluster.sh stop "$out/cluster"' EXIT
started=$(scripts/local-cluster.sh start "$out/cluster" 2)
echo "$started" >&2
eval "$(grep '^export ' <<< "$started")"
job=$("$cli" --output json submit --onnx "$out/seed.onnx" --dataset "$dataset" \
      --budget-ratio 0.5 --budget-metric measured --holdout-size 2000 --batch-size 64 \
      --finetune-lr 0.01 --reduction-ratio 0.15 --decay 0.96 --short-term-steps 80 \
      --long-term-epochs 1 --channel-step 4 --seed 1 \
      --display-name "own model (budget 0.5 of measured latency)" \
      | sed -n 's/.*"name": *"\(jobs\/[0-9]*\)".*/\1/p' | head -1)
"$cli" watch "$job"
"$cli" get "$job"
"$cli" --output json get "$job" > "$out/job.json"

echo
echo "== 5. Exported back to ONNX and run in PyTorch"
"$cli" export "$job" --iteration final --format onnx -o "$out/adapted.onnx"
"$cli" export "$job" --iteration final --format json -o "$out/adapted.json"
"$cli" export "$job" --iteration final -o "$out/adapted.ckpt"
"$python" -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' \
  "$out/adapted.onnx"
echo "$out/adapted.onnx passes the ONNX checker"
"$python" examples/run_adapted.py "$out/seed.onnx" --data "$images" | tee "$out/seed-pytorch.txt"
"$python" examples/run_adapted.py "$out/adapted.onnx" --data "$images" --check \
  | tee "$out/adapted-pytorch.txt"

echo
echo "== 6. Results"
"$python" - "$out/job.json" "$out/seed-pytorch.txt" "$out/adapted-pytorch.txt" <<'PY' \
  | tee "$out/summary.txt"
import json, sys
job = json.load(open(sys.argv[1]))
seed, final = job.get("seed", {}), job.get("final", {})
def torch_accuracy(path):
    for line in open(path):
        if line.startswith("accuracy="):
            return float(line.split("=")[1])
    return 0.0
pytorch = [torch_accuracy(sys.argv[2]), torch_accuracy(sys.argv[3])]
baseline = job.get("uniform_baseline", {})
uniform, trained = baseline.get("result", {}), baseline.get("seed_fine_tuned", {})
models = [seed, final, uniform, trained]
def pct(a): return f"{100 * a:.2f}%" if a else "-"
ms = [r.get("measured_latency_ms", 0.0) for r in models]
rows = [
    ("measured latency (ms)", [f"{m:.3f}" if m else "-" for m in ms]),
    ("  / seed", [f"{m / ms[0]:.2f}" if m and ms[0] else "-" for m in ms]),
    ("LUT latency (ms)", [f"{r['resource']:.3f}" if r.get("resource") else "-" for r in models]),
    ("test accuracy (job)", [pct(r.get("test_accuracy", 0)) for r in models]),
    ("test accuracy (PyTorch)", [pct(a) for a in pytorch] + ["-", "-"]),
    ("weights", [str(r.get("weights", "-")) for r in models]),
    ("MACs", [str(r.get("macs", "-")) for r in models]),
]
names = ["seed", "adapted", "uniform", "seed trained alike"]
print(f"\n{'2000 test images':24}" + "".join(f"{n:>19}" for n in names))
for name, cells in rows:
    print(f"{name:24}" + "".join(f"{c:>19}" for c in cells))
for name, r in zip(names[:3], models[:3]):
    print(f"{name + ' widths':24}{' '.join(map(str, r.get('widths', [])))}")
print(f"\n{len(job.get('history', []))} iterations; budget {job.get('budget', 0):.3f} ms "
      f"(0.5 of the seed's measured latency); measured: the fastest of "
      f"{seed.get('measured_latency_runs', 0)} end-to-end runs each on this CPU, one thread, "
      "taken alternately at the end of the job")
if baseline.get("state") == "SUCCEEDED":
    print(f"uniform: x{baseline.get('width_multiplier', 0):.3f} on every block; it and the seed "
          f"trained alike got {baseline.get('fine_tune_steps', 0)} steps + "
          f"{baseline.get('fine_tune_epochs', 0)} epoch(s), as the adapted network's lineage")
print("test accuracy (job): LibTorch on the workers; (PyTorch): examples/residual_cnn.py "
      "rebuilt from seed.onnx and adapted.onnx")
PY
echo
echo "outputs in $out"
