#!/usr/bin/env bash
# A NetAdapt cluster on this machine, on loopback: the profiler agent (measuring this CPU),
# the master and N workers, on free ports, logs and state in one folder. Used by the demo,
# the end-to-end tests and users without Docker.
#
#   scripts/local-cluster.sh start [DIR] [WORKERS]   start (default DIR=out/cluster, WORKERS=2)
#   scripts/local-cluster.sh stop  [DIR]             SIGTERM everything, wait, clean stop
#   scripts/local-cluster.sh status [DIR]
#
# After `start`, DIR/master.port holds the master's port: export
# NETADAPT_MASTER=127.0.0.1:$(cat DIR/master.port) and use the `netadapt` CLI.
# Binaries come from $NETADAPT_BUILD_DIR (default build/).
# NETADAPT_PIN=0: do not pin processes to cores (see "Measurements apart from training" in
# docs/OPERATIONS.md: by default the agent gets the last core, the master and workers the rest).
# NETADAPT_AUTH=1: authenticated cluster (docs/SECURITY.md): random tokens in DIR/cluster.token
# (everyone's) and DIR/master.token (the master's, that workers require); then also
# export NETADAPT_TOKEN_FILE=DIR/cluster.token for the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:-}
dir=${2:-out/cluster}
workers=${3:-2}
build=${NETADAPT_BUILD_DIR:-build}

# Waits up to 60 s for a port file; prints the port.
wait_port() {
  local file=$1 name=$2 pid=$3
  for _ in $(seq 600); do
    if [[ -s $file ]]; then cat "$file"; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "local-cluster: $name exited; see its log in $dir" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "local-cluster: $name did not start within 60 s; see its log in $dir" >&2
  return 1
}

# Keeps the agent's measurements apart from training: the profiler agent alone on the last
# core, the master and workers on the others (taskset). On 2 cores the workers share core 0;
# training is slower, but a layer timed while a worker trains on the same core reads up to 2x
# too high (issue 15). Sets agent_pin and rest_pin (command prefixes, empty when not pinning).
agent_pin=()
rest_pin=()
choose_pinning() {
  local cores
  cores=$(nproc 2>/dev/null || echo 1)
  if [[ ${NETADAPT_PIN:-1} == 0 ]]; then
    echo "local-cluster: NETADAPT_PIN=0: not pinning; the agent measures while workers train" >&2
  elif ! command -v taskset > /dev/null 2>&1; then
    echo "local-cluster: taskset not found (package util-linux): not pinning; the agent's" \
         "latencies are measured while workers train on the same cores" >&2
  elif (( cores < 2 )); then
    echo "local-cluster: one core: not pinning; the agent measures while workers train" >&2
  else
    agent_pin=(taskset -c "$((cores - 1))")
    rest_pin=(taskset -c "0-$((cores - 2))")
    echo "local-cluster: profiler agent on core $((cores - 1)), master and workers on" \
         "core(s) 0-$((cores - 2))" >&2
  fi
}

start() {
  for binary in profiler-agent/netadapt-profiler master/netadapt-master worker/netadapt-worker; do
    if [[ ! -x $build/$binary ]]; then
      echo "local-cluster: $build/$binary is missing: build first (scripts/test.sh or cmake --build $build)" >&2
      exit 1
    fi
  done
  if [[ -f $dir/pids ]]; then
    echo "local-cluster: $dir already has a cluster (stop it first)" >&2
    exit 1
  fi
  mkdir -p "$dir"
  rm -f "$dir"/*.port
  : > "$dir/pids"
  local cluster_auth=() master_auth=() worker_auth=()
  if [[ ${NETADAPT_AUTH:-0} == 1 ]]; then
    # 32 random bytes each, readable by this user only; never echoed.
    (umask 077
     od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$dir/cluster.token"
     od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$dir/master.token")
    cluster_auth=(--token_file="$dir/cluster.token")
    master_auth=("${cluster_auth[@]}" --master_token_file="$dir/master.token")
    worker_auth=("${master_auth[@]}")
  fi
  # One LibTorch thread each keeps timings honest where cores are shared (OpenMP threads that
  # spin on a busy core slow everything down).
  choose_pinning
  ${agent_pin[@]+"${agent_pin[@]}"} "$build/profiler-agent/netadapt-profiler" --host=127.0.0.1 --port=0 \
    --port_file="$dir/profiler.port" --threads=1 ${cluster_auth[@]+"${cluster_auth[@]}"} \
    > "$dir/profiler.log" 2>&1 &
  echo $! >> "$dir/pids"
  local profiler_port
  profiler_port=$(wait_port "$dir/profiler.port" profiler $!)

  ${rest_pin[@]+"${rest_pin[@]}"} "$build/master/netadapt-master" --host=127.0.0.1 --port=0 --port_file="$dir/master.port" \
    --state_dir="$dir/master-state" --profiler="127.0.0.1:$profiler_port" \
    ${master_auth[@]+"${master_auth[@]}"} > "$dir/master.log" 2>&1 &
  echo $! >> "$dir/pids"
  local master_port
  master_port=$(wait_port "$dir/master.port" master $!)

  for i in $(seq "$workers"); do
    ${rest_pin[@]+"${rest_pin[@]}"} "$build/worker/netadapt-worker" --master="127.0.0.1:$master_port" --host=127.0.0.1 \
      --port=0 --port_file="$dir/worker$i.port" --device=cpu --threads=1 \
      --cache_dir="$dir/worker$i-cache" ${worker_auth[@]+"${worker_auth[@]}"} \
      > "$dir/worker$i.log" 2>&1 &
    echo $! >> "$dir/pids"
    wait_port "$dir/worker$i.port" "worker $i" $! > /dev/null
  done
  echo "local-cluster: master 127.0.0.1:$master_port, profiler 127.0.0.1:$profiler_port," \
       "$workers worker(s); logs in $dir"
  echo "export NETADAPT_MASTER=127.0.0.1:$master_port"
  if [[ ${NETADAPT_AUTH:-0} == 1 ]]; then
    echo "export NETADAPT_TOKEN_FILE=$(cd "$dir" && pwd)/cluster.token"
  fi
}

stop() {
  [[ -f $dir/pids ]] || { echo "local-cluster: nothing running in $dir"; return 0; }
  # Workers first, then the master, then the agent: reverse start order.
  tac "$dir/pids" | while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 100); do
    alive=0
    while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$dir/pids"
    ((alive)) || break
    sleep 0.1
  done
  while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < "$dir/pids"
  rm -f "$dir/pids"
  echo "local-cluster: stopped"
}

status() {
  [[ -f $dir/pids ]] || { echo "local-cluster: nothing running in $dir"; return 0; }
  while read -r pid; do
    if kill -0 "$pid" 2>/dev/null; then echo "$pid running"; else echo "$pid gone"; fi
  done < "$dir/pids"
}

case $command in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,18p' "$0"; exit 1 ;;
esac
