#!/usr/bin/env bash
# A randomized chaos run on loopback (docs/RELIABILITY.md, "Chaos run"); not part of CI.
#
#   scripts/chaos.sh [--build=DIR] [--rounds=N | --duration=SECONDS] [--seed=S]
#                    [--workdir=DIR] [--workers=N] [--max-faults=N]
#                    [--kinds=worker-kill,worker-stop,master-kill] [--task-timeout=S]
#                    [--round-timeout=S] [--latency]
#
# Runs an undisturbed reference job (a FLOPS job on a synthetic dataset: no profiler) on a fresh
# cluster of the real binaries (master, --workers workers, default 3), then --rounds rounds
# (default 5; or rounds until --duration seconds have passed), each on a fresh cluster with the
# same spec, while up to --max-faults (default 3) random faults hit it at random times:
#   worker-kill   SIGKILL a worker, start it again 0.2-2 s later (same port or a new one)
#   worker-stop   SIGSTOP a worker 0.5-15 s past the heartbeat timeout (zombie), then SIGCONT it
#   master-kill   SIGKILL the master, start it again 0.2-2 s later on the same port and state
#                 dir; the workers must come back by themselves
#   profiler-kill SIGKILL the profiler agent, start it again 0.2-5 s later on the same port
#                 (--latency only)
# and checks per round: the job SUCCEEDED within --round-timeout (default: 8x the reference,
# at least 300 s; a hang is a failure), its decisions (target, block, widths, resource,
# accuracy, model digest per iteration; the final model) equal the reference's, history
# iterations are 1..n once each and no history entry ever shown changes or disappears (no
# result committed twice), and the job is there after each master restart with every history
# entry it had before the kill (no acknowledged state lost). One line per round, then a
# summary table. Exit 1 when an invariant failed (the seed and the work dir, with every log,
# are printed); 2 on a usage or harness error.
#
# --latency: the same job on RESOURCE_TYPE_LATENCY with a profiler agent (this CPU) in each
# cluster, and profiler-kill among the default kinds. Every round's master starts with a copy of
# the reference's measured LUT (<state_dir>/lut.bin): a CPU's latencies differ run to run, and
# only with the same latencies can decisions be compared. A run that decides as the reference
# then looks nothing up on the agent: its faults hit the end-to-end measurement of each chosen
# network (MeasureNetwork; "unmeasured" counts chosen networks left without a measured
# latency that the reference has) and any lookup a diverging run makes.
#
# --seed (default: random, printed) fixes the fault plan (kinds, times, workers, ports, pauses);
# the job's own timing is not reproducible, so a replay hits nearly but not exactly the same
# moments. Binaries come from --build (default build/); nothing is built here. Master flags:
# --heartbeat_interval_ms=200 --heartbeat_misses=5 (dead after 1 s) and
# --task_timeout_s=--task-timeout (default 60), so a task lost in a zombie worker shows as a
# slow round rather than a 24 h hang. The work dir (default out/chaos) is emptied first; each
# round's folder holds its logs (master.log, worker*.log), poll.ndjson (the job polled every
# 0.25 s), events.tsv (the faults), job.json (the final job) and result.json.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
rounds=5
duration=
seed=
workdir=out/chaos
workers=3
max_faults=3
kinds=worker-kill,worker-stop,master-kill
task_timeout=60
round_timeout=
heartbeat_ms=200
heartbeat_misses=5
latency=0
kinds_given=0

usage() { sed -n "2,/^set -euo/p" "$0" | sed "$ d"; exit 2; }
for arg in "$@"; do
  case $arg in
    --build=*) build=${arg#*=} ;;
    --rounds=*) rounds=${arg#*=} ;;
    --duration=*) duration=${arg#*=} ;;
    --seed=*) seed=${arg#*=} ;;
    --workdir=*) workdir=${arg#*=} ;;
    --workers=*) workers=${arg#*=} ;;
    --max-faults=*) max_faults=${arg#*=} ;;
    --kinds=*) kinds=${arg#*=}; kinds_given=1 ;;
    --task-timeout=*) task_timeout=${arg#*=} ;;
    --round-timeout=*) round_timeout=${arg#*=} ;;
    --latency) latency=1 ;;
    -h|--help) usage ;;
    *) echo "chaos: unknown argument $arg" >&2; usage ;;
  esac
done
[[ -n $seed ]] || seed=$(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 1000000 ))
((latency && !kinds_given)) && kinds=$kinds,profiler-kill
IFS=, read -r -a kind_list <<< "$kinds"
for k in "${kind_list[@]}"; do
  case $k in worker-kill|worker-stop|master-kill) ;;
    profiler-kill) ((latency)) || { echo "chaos: profiler-kill needs --latency" >&2; exit 2; } ;;
    *) echo "chaos: unknown fault kind $k" >&2; exit 2 ;; esac
done

master_bin=$build/master/netadapt-master
worker_bin=$build/worker/netadapt-worker
cli=$build/cli/netadapt
profiler_bin=$build/profiler-agent/netadapt-profiler
binaries=("$master_bin" "$worker_bin" "$cli")
((latency)) && binaries+=("$profiler_bin")
for b in "${binaries[@]}"; do
  [[ -x $b ]] || { echo "chaos: $b is missing: build first (cmake --build $build)" >&2; exit 2; }
done
check=(python3 "$PWD/scripts/chaos_check.py")

rm -rf "$workdir"
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
RANDOM=$seed
echo "chaos: seed $seed, work dir $workdir, build $build, $workers workers," \
     "faults $kinds (at most $max_faults a round)"

# --- the job: conv(1->16)-pool-conv(16->32)-pool-conv(32->32)-linear on 10 synthetic classes,
# adapted on MACs in steps of 5% of the seed down to 30% (9 iterations of 3 proposals; about
# 25 s on 2 idle cores).
cat > "$workdir/spec.json" <<'EOF'
{"display_name": "chaos",
 "dataset": "synthetic:classes=10,shape=1x16x16,train=512,test=256,seed=3,noise=1",
 "network": {"name": "tiny", "input": {"channels": 1, "height": 16, "width": 16},
  "layers": [
   {"name": "features.0", "op": "conv2d", "in_channels": 1, "out_channels": 16,
    "kernel_size": [3], "padding": [1]},
   {"name": "features.1", "op": "relu"},
   {"name": "features.2", "op": "maxpool2d", "kernel_size": [2], "stride": [2]},
   {"name": "features.3", "op": "conv2d", "in_channels": 16, "out_channels": 32,
    "kernel_size": [3], "padding": [1]},
   {"name": "features.4", "op": "relu"},
   {"name": "features.5", "op": "maxpool2d", "kernel_size": [2], "stride": [2]},
   {"name": "features.6", "op": "conv2d", "in_channels": 32, "out_channels": 32,
    "kernel_size": [3], "padding": [1]},
   {"name": "features.7", "op": "relu"},
   {"name": "flatten", "op": "flatten"},
   {"name": "classifier", "op": "linear", "in_channels": 512, "out_channels": 10}]},
 "holdout_size": 128, "resource_type": "RESOURCE_TYPE_FLOPS", "budget_ratio": 0.3,
 "init_resource_reduction_ratio": 0.05, "resource_reduction_decay": 1.0, "max_iters": 15,
 "short_term_fine_tune_iteration": 800, "finetune_lr": 0.02, "batch_size": 32,
 "channel_step": 2, "seed": 11}
EOF
if ((latency)); then
  sed -i 's/"RESOURCE_TYPE_FLOPS"/"RESOURCE_TYPE_LATENCY"/' "$workdir/spec.json"
fi

# --- processes (every one this script started; all stopped on exit) -----------------------
dir=            # the current round's folder
master_pid=
master_port=
profiler_pid=
profiler_port=
declare -a worker_pids=() worker_ports=()
poller_pid=

now() { date +%s.%N; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# rand LO HI: a seeded integer in [LO, HI] in $REPLY (not in a subshell: $RANDOM must advance).
rand() { REPLY=$(( $1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1) )); }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# wait_file FILE PID NAME: waits up to 60 s for FILE to be written by process PID.
wait_file() {
  for _ in $(seq 600); do
    [[ -s $1 ]] && return 0
    kill -0 "$2" 2>/dev/null || { echo "chaos: $3 exited; see $dir" >&2; return 1; }
    sleep 0.1
  done
  echo "chaos: $3 did not start within 60 s; see $dir" >&2
  return 1
}

start_master() {  # start_master PORT
  rm -f "$dir/master.port"
  echo "=== chaos: master started at $(now) on port $1" >> "$dir/master.log"
  "$master_bin" --host=127.0.0.1 --port="$1" --port_file="$dir/master.port" \
    --state_dir="$dir/master-state" --heartbeat_interval_ms=$heartbeat_ms \
    --heartbeat_misses=$heartbeat_misses --task_timeout_s="$task_timeout" \
    ${profiler_port:+--profiler=127.0.0.1:$profiler_port} >> "$dir/master.log" 2>&1 &
  master_pid=$!
  wait_file "$dir/master.port" "$master_pid" master
  master_port=$(cat "$dir/master.port")
}

start_profiler() {  # start_profiler PORT
  rm -f "$dir/profiler.port"
  echo "=== chaos: profiler started at $(now) on port $1" >> "$dir/profiler.log"
  "$profiler_bin" --host=127.0.0.1 --port="$1" --port_file="$dir/profiler.port" --threads=1 \
    >> "$dir/profiler.log" 2>&1 &
  profiler_pid=$!
  wait_file "$dir/profiler.port" "$profiler_pid" profiler
  profiler_port=$(cat "$dir/profiler.port")
}

start_worker() {  # start_worker I PORT
  local i=$1 port=$2
  rm -f "$dir/worker$i.port"
  echo "=== chaos: worker $i started at $(now) on port $port" >> "$dir/worker$i.log"
  "$worker_bin" --master="127.0.0.1:$master_port" --host=127.0.0.1 --port="$port" \
    --port_file="$dir/worker$i.port" --device=cpu --threads=1 --cache_dir="$dir/worker$i-cache" \
    >> "$dir/worker$i.log" 2>&1 &
  worker_pids[i]=$!
  if ! wait_file "$dir/worker$i.port" "${worker_pids[i]}" "worker $i"; then
    # The old port may not be free again yet: take a new one (reported in the events).
    [[ $port == 0 ]] && return 1
    start_worker "$i" 0
    return
  fi
  worker_ports[i]=$(cat "$dir/worker$i.port")
}

stop_all() {
  local pids=() pid
  for pid in "$master_pid" ${worker_pids[@]+"${worker_pids[@]}"} "$profiler_pid" "$poller_pid"; do
    if [[ -n $pid ]]; then pids+=("$pid"); fi
  done
  ((${#pids[@]})) || return 0
  for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  master_pid='' poller_pid='' profiler_pid='' profiler_port=''
  worker_pids=() worker_ports=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM

get_job() {  # get_job OUT: the job's JSON into OUT (empty when the master did not answer)
  "$cli" get jobs/1 --output=json --master="127.0.0.1:$master_port" --timeout=3s > "$1" \
    2>> "$dir/cli.log" || { : > "$1"; return 1; }
}

job_state() {
  local out=$dir/.state.json
  get_job "$out" || { echo NONE; return; }
  "${check[@]}" state "$out"
}

# --- faults ------------------------------------------------------------------------------
fault_id=0
record() {  # record KIND START DETAIL
  echo -e "$fault_id\t$1\t$2\t$(now)\t$3" >> "$dir/events.tsv"
}

worker_kill() {
  rand 1 "$workers"; local i=$REPLY
  rand 200 2000; local pause=$REPLY
  rand 0 1; local same=$REPLY
  local start old=${worker_ports[i]} port=0
  ((same)) && port=$old
  start=$(now)
  kill -KILL "${worker_pids[i]}"
  wait "${worker_pids[i]}" 2>/dev/null || true
  sleep_ms "$pause"
  start_worker "$i" "$port"
  record worker-kill "$start" "worker $i (port $old) killed, restarted after ${pause} ms on port ${worker_ports[i]}"
}

worker_stop() {
  rand 1 "$workers"; local i=$REPLY
  rand 500 15000; local extra=$REPLY
  local pause=$((heartbeat_ms * heartbeat_misses + extra)) start
  start=$(now)
  kill -STOP "${worker_pids[i]}"
  sleep_ms "$pause"
  kill -CONT "${worker_pids[i]}"
  record worker-stop "$start" "worker $i stopped ${pause} ms"
}

master_kill() {
  rand 200 2000; local pause=$REPLY
  local start
  get_job "$dir/before-$fault_id.json" || true
  start=$(now)
  kill -KILL "$master_pid"
  wait "$master_pid" 2>/dev/null || true
  sleep_ms "$pause"
  # The same port (the workers know only that one); it may take a moment to be free again.
  local attempt
  for attempt in $(seq 20); do
    start_master "$master_port" && break
    ((attempt < 20)) || { echo "chaos: the master did not restart on port $master_port" >&2; return 1; }
    sleep 0.5
  done
  local tries=0
  until get_job "$dir/after-$fault_id.json" && [[ -s $dir/after-$fault_id.json ]]; do
    ((++tries < 20)) || break
    sleep 0.25
  done
  record master-kill "$start" "master killed, restarted after ${pause} ms"
}

profiler_kill() {
  rand 200 5000; local pause=$REPLY
  local start attempt
  start=$(now)
  kill -KILL "$profiler_pid"
  wait "$profiler_pid" 2>/dev/null || true
  sleep_ms "$pause"
  for attempt in $(seq 20); do
    start_profiler "$profiler_port" && break
    ((attempt < 20)) || { echo "chaos: the profiler did not restart on port $profiler_port" >&2; return 1; }
    sleep 0.5
  done
  record profiler-kill "$start" "profiler killed, restarted after ${pause} ms"
}

# --- one round -----------------------------------------------------------------------------
# run_round NAME NFAULTS REFERENCE_SECONDS: a fresh cluster, the job, NFAULTS faults spread
# over the first 85% of REFERENCE_SECONDS; leaves job.json (or HUNG) in the round's folder.
run_round() {
  local name=$1 nfaults=$2 ref_s=$3
  dir=$workdir/$name
  mkdir -p "$dir"
  : > "$dir/events.tsv"
  if ((latency)); then
    start_profiler 0
    if [[ $name != reference ]]; then
      mkdir -p "$dir/master-state"
      cp "$workdir/reference/master-state/lut.bin" "$dir/master-state/lut.bin"
    fi
  fi
  start_master 0
  for i in $(seq "$workers"); do start_worker "$i" 0; done
  for _ in $(seq 300); do
    local alive
    alive=$("$cli" workers --output=json --master="127.0.0.1:$master_port" 2>/dev/null |
            grep -c '"ALIVE"' || true)
    ((alive >= workers)) && break
    sleep 0.1
  done

  # The fault plan, drawn before the job starts: times (ms after the submit) and kinds.
  local -a times=() plan=()
  for _ in $(seq "$nfaults"); do
    rand $((ref_s * 50)) $((ref_s * 850)); times+=("$REPLY")
  done
  IFS=$'\n' read -r -d '' -a times < <(printf '%s\n' ${times[@]+"${times[@]}"} | sort -n; printf '\0') || true
  for _ in $(seq "$nfaults"); do
    rand 0 $((${#kind_list[@]} - 1)); plan+=("${kind_list[REPLY]}")
  done

  local t0
  t0=$(now_ms)
  "$cli" submit --spec="$workdir/spec.json" --request-id="chaos-$name" \
    --master="127.0.0.1:$master_port" > "$dir/submit.log" 2>&1 ||
    { echo "chaos: submit failed, see $dir/submit.log" >&2; return 1; }
  "${check[@]}" poll "$cli" "127.0.0.1:$master_port" jobs/1 "$dir/poll.ndjson" 0.25 &
  poller_pid=$!

  local k
  for k in $(seq 0 $((nfaults - 1))); do
    local wait_ms=$(( times[k] - ($(now_ms) - t0) ))
    ((wait_ms > 0)) && sleep_ms "$wait_ms"
    case $(job_state) in SUCCEEDED|FAILED|CANCELLED) break ;; esac
    fault_id=$((k + 1))
    case ${plan[k]} in
      worker-kill) worker_kill ;;
      worker-stop) worker_stop ;;
      master-kill) master_kill ;;
      profiler-kill) profiler_kill ;;
    esac
  done

  local timeout_s=${round_timeout:-$(( ref_s * 8 > 300 ? ref_s * 8 : 300 ))}
  [[ $name == reference ]] && timeout_s=600
  rm -f "$dir/HUNG"
  while :; do
    case $(job_state) in SUCCEEDED|FAILED|CANCELLED) break ;; esac
    if (( $(now_ms) - t0 > timeout_s * 1000 )); then
      echo "$(now) round timeout ${timeout_s}s" > "$dir/HUNG"
      break
    fi
    sleep 0.5
  done
  get_job "$dir/job.json" || true
  stop_all
}

# --- the run -----------------------------------------------------------------------------
run_start=$(now_ms)
run_round reference 0 60
ref_state=$("${check[@]}" state "$workdir/reference/job.json")
if [[ $ref_state != SUCCEEDED ]]; then
  echo "chaos: the reference job ended $ref_state; see $workdir/reference" >&2
  exit 2
fi
ref_s=$(python3 -B -c "import sys; sys.path.insert(0, 'scripts'); import chaos_check, json;
print(max(1, round(chaos_check.seconds(json.load(open('$workdir/reference/job.json'))))))")
"${check[@]}" round "$workdir/reference/job.json" "$workdir/reference" reference || true

round_dirs=()
failed=0
n=0
while :; do
  if [[ -n $duration ]]; then
    (( ($(now_ms) - run_start) / 1000 < duration )) || break
  else
    ((n < rounds)) || break
  fi
  n=$((n + 1))
  rand 1 "$max_faults"
  run_round "round$n" "$REPLY" "$ref_s"
  round_dirs+=("$workdir/round$n")
  "${check[@]}" round "$workdir/reference/job.json" "$workdir/round$n" "round $n" || failed=1
done

"${check[@]}" summary "$workdir" "${round_dirs[@]}" || true
echo
if ((failed)); then
  echo "chaos: FAILED: an invariant failed; seed $seed; logs in $workdir"
  echo "chaos: replay with: scripts/chaos.sh --seed=$seed --rounds=$n --build=$build" \
       "--workers=$workers --max-faults=$max_faults --kinds=$kinds --task-timeout=$task_timeout" \
       "${round_timeout:+--round-timeout=$round_timeout}$( ((latency)) && echo " --latency")"
  exit 1
fi
echo "chaos: passed $n round(s); seed $seed; logs in $workdir"
