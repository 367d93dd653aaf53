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
  # Workers and the agent share this machine's cores: one LibTorch thread each keeps their
  # timings honest (OpenMP threads that spin on a busy core slow everything down).
  "$build/profiler-agent/netadapt-profiler" --host=127.0.0.1 --port=0 \
    --port_file="$dir/profiler.port" --threads=1 ${cluster_auth[@]+"${cluster_auth[@]}"} \
    > "$dir/profiler.log" 2>&1 &
  echo $! >> "$dir/pids"
  local profiler_port
  profiler_port=$(wait_port "$dir/profiler.port" profiler $!)

  "$build/master/netadapt-master" --host=127.0.0.1 --port=0 --port_file="$dir/master.port" \
    --state_dir="$dir/master-state" --profiler="127.0.0.1:$profiler_port" \
    ${master_auth[@]+"${master_auth[@]}"} > "$dir/master.log" 2>&1 &
  echo $! >> "$dir/pids"
  local master_port
  master_port=$(wait_port "$dir/master.port" master $!)

  for i in $(seq "$workers"); do
    "$build/worker/netadapt-worker" --master="127.0.0.1:$master_port" --host=127.0.0.1 \
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
  *) sed -n '2,16p' "$0"; exit 1 ;;
esac
