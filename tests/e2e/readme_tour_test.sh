#!/usr/bin/env bash
# The README's five-minute tour, command by command, on a cluster of this build started with
# scripts/local-cluster.sh (which this also tests): every command must succeed and the job
# must end within its budget. Usage: readme_tour_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'NETADAPT_BUILD_DIR=$build "$repo/scripts/local-cluster.sh" stop "$dir/cluster" > /dev/null; rm -rf "$dir"' EXIT
cd "$repo"
export NETADAPT_BUILD_DIR=$build
scripts/local-cluster.sh start "$dir/cluster" 2
export NETADAPT_MASTER=127.0.0.1:$(cat "$dir/cluster/master.port")
cli=$build/cli/netadapt
"$cli" workers
"$cli" submit --model helloworld --input-size 16 \
    --dataset synthetic:classes=10,shape=3x16x16 --pretrain-epochs 3 --finetune-lr 0.02 \
    --budget-ratio 0.5 --reduction-ratio 0.1 --short-term-steps 50 --holdout-size 200 \
    --channel-step 4 --wait
"$cli" get jobs/1
"$cli" export jobs/1 --format onnx -o "$dir/adapted.onnx"
"$cli" report jobs/1 -o "$dir/report.html"
test -s "$dir/adapted.onnx"
grep -q "<svg" "$dir/report.html"
# Within budget: the final resource is at most half of the seed's.
"$cli" --output json get jobs/1 > "$dir/job.json"
python3 - "$dir/job.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))
seed, final = job["seed"]["resource"], job["final"]["resource"]
assert job["state"] == "SUCCEEDED", job["state"]
assert final <= 0.5 * seed, (final, seed)
print(f"tour: {len(job['history'])} iterations, resource {seed:.3f} -> {final:.3f}")
PY
