#!/usr/bin/env bash
# The CPU stack of docker-compose.yml + docker-compose.cpu.yml, really built and run on this
# machine's Docker engine (docs/OPERATIONS.md, "The compose test"); not part of CI (minutes to
# tens of minutes: the first image build compiles everything).
#
#   scripts/compose-test.sh [--workdir=DIR] [--project=NAME] [--keep]
#
# Phases, each timed:
#   engine    a Docker engine: installs docker.io (and docker-compose when neither
#             `docker compose` nor `docker-compose` works) with apt-get, starts dockerd when
#             it is not running (root)
#   base      the base image debian:bookworm: kept when present, else pulled, else (no
#             registry: air-gapped sites, these machines) made with
#             `debootstrap --variant=minbase bookworm` and `docker import`
#   build     the images master, worker-cpu and profiler-cpu (deploy/Dockerfile) through
#             compose; a second run reuses the layer cache
#   up        generated tokens, `up -d` the stack (master, worker-0, worker-1, profiler),
#             until every container is healthy
#   reference a small LATENCY job through the CLI container (`run --rm cli submit ... --wait`),
#             undisturbed; its measurements stay in the master's LUT, so a second job with the
#             same spec sees the same latencies and must take the same decisions
#   faults    the same job again (`--wait`, in the background), while a worker container
#             running one of its tasks is killed (`docker kill`, then started again) and,
#             a finished iteration later, the master container is restarted
#             (`docker restart`) mid-job
#   check     the disturbed job SUCCEEDED with the reference's decisions (iteration by
#             iteration: block, widths, resource, accuracy, model digest; the final model),
#             and its adapted model is exported (ONNX) into DIR/outputs through the CLI
#   down      `down -v`: no container, volume or network of the project is left
# Exit 0 when every phase passed; 1 otherwise (the phase, and the logs in DIR: build.log,
# compose-logs.txt, the jobs' JSON). Needs root (or sudo) for the engine and debootstrap.
# DIR (default out/compose-test) is emptied first. --project (default netadapt-compose-test)
# names the compose project, apart from a stack of your own; --keep leaves the stack up.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

workdir=out/compose-test
project=netadapt-compose-test
keep=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$ d'; exit 2; }
for arg in "$@"; do
  case $arg in
    --workdir=*) workdir=${arg#*=} ;;
    --project=*) project=${arg#*=} ;;
    --keep) keep=1 ;;
    -h|--help) usage ;;
    *) echo "compose-test: unknown argument $arg" >&2; usage ;;
  esac
done

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
rm -rf "${workdir}"
mkdir -p "${workdir}"
workdir=$(cd "${workdir}" && pwd)
log() { echo "compose-test: $*"; }
fail() {
  log "FAILED in phase ${phase}: $*"
  if [[ -n ${compose_ready:-} ]]; then
    "${compose[@]}" logs --no-color --timestamps > "${workdir}/compose-logs.txt" 2>&1 || true
    log "container logs: ${workdir}/compose-logs.txt"
    if ((keep == 0)); then
      "${compose[@]}" down -v --remove-orphans > /dev/null 2>&1 || true
    fi
  fi
  print_times
  exit 1
}

# ---- phase timing ---------------------------------------------------------------------------
phase=""
phase_t0=0
times=()
begin() {
  phase=$1
  phase_t0=$(date +%s%N)
  log "== ${phase}"
}
end() {
  local tenths
  tenths=$((($(date +%s%N) - phase_t0) / 100000000))
  times+=("$(printf '%-10s %6d.%d s' "${phase}" $((tenths / 10)) $((tenths % 10)))")
  log "${phase} done in $((tenths / 10)).$((tenths % 10)) s"
}
print_times() {
  log "phase times:"
  local t
  for t in "${times[@]}"; do echo "  ${t}"; done
}

# ---- engine ---------------------------------------------------------------------------------
begin engine
apt_install() {
  log "installing $* (apt-get)"
  DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends "$@" \
    > "${workdir}/apt.log" 2>&1 ||
    { ${sudo} apt-get update -qq > /dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends "$@" \
        >> "${workdir}/apt.log" 2>&1; } || fail "apt-get install $* (${workdir}/apt.log)"
}
command -v dockerd > /dev/null || apt_install docker.io
if ! docker info > /dev/null 2>&1; then
  log "starting dockerd (log: /var/log/netadapt-dockerd.log)"
  ${sudo} sh -c 'nohup setsid dockerd > /var/log/netadapt-dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 60); do
    docker info > /dev/null 2>&1 && break
    sleep 1
  done
  docker info > /dev/null 2>&1 || fail "dockerd did not start (/var/log/netadapt-dockerd.log)"
fi
if docker compose version > /dev/null 2>&1; then
  compose=(docker compose)
else
  command -v docker-compose > /dev/null || apt_install docker-compose
  compose=(docker-compose)
fi
log "engine $(docker version -f '{{.Server.Version}}'), $("${compose[@]}" version --short 2>/dev/null || "${compose[@]}" version | head -n1) (${compose[*]})"
compose+=(-p "${project}" -f "${root}/docker-compose.yml" -f "${root}/docker-compose.cpu.yml")
end

# ---- base image -----------------------------------------------------------------------------
begin base
if docker image inspect debian:bookworm > /dev/null 2>&1; then
  log "debian:bookworm is there"
elif timeout 120 docker pull debian:bookworm > "${workdir}/pull.log" 2>&1; then
  log "pulled debian:bookworm"
else
  log "no registry: making debian:bookworm with debootstrap"
  command -v debootstrap > /dev/null || apt_install debootstrap
  rootfs=$(mktemp -d)
  ${sudo} debootstrap --variant=minbase bookworm "${rootfs}" \
    "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" > "${workdir}/debootstrap.log" 2>&1 ||
    fail "debootstrap (${workdir}/debootstrap.log)"
  # Package lists and downloaded .debs: 80 MB the images fetch again anyway.
  ${sudo} rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/cache/apt/*.bin \
    "${rootfs}"/var/lib/apt/lists/*
  ${sudo} tar -C "${rootfs}" -c . | docker import - debian:bookworm > /dev/null
  ${sudo} rm -rf "${rootfs}"
fi
end

# ---- build ----------------------------------------------------------------------------------
# Settings of docker-compose.yml: this run's tokens, folders and a free port for the master.
mkdir -p "${workdir}/secrets" "${workdir}/outputs" "${workdir}/datasets"
chmod 700 "${workdir}/secrets"
for t in cluster master; do
  (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "${workdir}/secrets/${t}.token")
done
if [[ $(id -u) -eq 0 ]]; then
  # The containers run as uid 10001; compose bind-mounts secrets with their host owner.
  chown 10001 "${workdir}"/secrets/*.token "${workdir}/outputs"
else
  chmod 644 "${workdir}"/secrets/*.token   # readable inside the private folder only
  chmod 777 "${workdir}/outputs"
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
export NETADAPT_TOKEN_FILE="${workdir}/secrets/cluster.token"
export NETADAPT_MASTER_TOKEN_FILE="${workdir}/secrets/master.token"
export NETADAPT_OUTPUTS="${workdir}/outputs"
export NETADAPT_DATASETS="${workdir}/datasets"
export NETADAPT_MASTER_PORT=${port}
# One LibTorch thread per container: two workers and the agent share this machine's cores, and
# OpenMP threads that outnumber the cores slow every one of them down.
export NETADAPT_TORCH_THREADS=${NETADAPT_TORCH_THREADS:-1}
unset NETADAPT_PROFILER NETADAPT_MASTER NETADAPT_TOKEN COMPOSE_FILE COMPOSE_PROFILES
compose_ready=1

begin build
log "building (log: ${workdir}/build.log)"
"${compose[@]}" build > "${workdir}/build.log" 2>&1 ||
  { tail -n 30 "${workdir}/build.log"; fail "image build (${workdir}/build.log)"; }
for image in master worker-cpu profiler-cpu; do
  log "$(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' \
         "netadapt-${image}:${NETADAPT_VERSION:-latest}")"
done
end

# ---- up -------------------------------------------------------------------------------------
services=(master worker-0 worker-1 profiler)
container() { "${compose[@]}" ps -q "$1"; }
wait_healthy() {  # SECONDS SERVICE...
  local deadline=$((SECONDS + $1)) service status
  shift
  for service in "$@"; do
    while :; do
      status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' \
               "$(container "${service}")" 2>/dev/null || true)
      [[ ${status} == healthy ]] && break
      ((SECONDS < deadline)) || fail "${service} not healthy after $1 s (${status:-no container})"
      sleep 1
    done
  done
}
begin up
"${compose[@]}" up -d > "${workdir}/up.log" 2>&1 || { cat "${workdir}/up.log"; fail "up -d"; }
wait_healthy 180 "${services[@]}"
log "healthy: ${services[*]}; master published on 127.0.0.1:${port}"
end

# ---- reference ------------------------------------------------------------------------------
cli() { "${compose[@]}" run --rm -T cli "$@"; }
# The CLI inside the master's container (it has one): polls without a container per call.
master_cli() {
  docker exec "$(container master)" netadapt --master=127.0.0.1:50051 \
    --token-file=/run/secrets/netadapt_token --timeout=3s "$@"
}
job_args=(submit --model helloworld --input-size 16 --dataset synthetic:classes=10,shape=3x16x16
          --pretrain-epochs 3 --finetune-lr 0.02 --budget-ratio 0.6 --reduction-ratio 0.1
          --short-term-steps 50 --holdout-size 200 --channel-step 4)
job_name() { sed -n 's/^created \(jobs\/[0-9]*\).*/\1/p' "$1" | head -n1; }

begin reference
cli "${job_args[@]}" --wait > "${workdir}/reference.txt" 2>&1 ||
  { tail -n 20 "${workdir}/reference.txt"; fail "the reference job"; }
reference=$(job_name "${workdir}/reference.txt")
master_cli get "${reference}" --output=json > "${workdir}/reference.json" ||
  fail "get ${reference}"
log "${reference}: $(python3 scripts/compose_test_check.py progress "${workdir}/reference.json")"
end

# ---- faults ---------------------------------------------------------------------------------
begin faults
cli "${job_args[@]}" --wait > "${workdir}/disturbed.txt" 2>&1 &
cli_pid=$!
deadline=$((SECONDS + 120))
job=""
while [[ -z ${job} ]]; do
  job=$(job_name "${workdir}/disturbed.txt")
  ((SECONDS < deadline)) || fail "no job created (${workdir}/disturbed.txt)"
  [[ -n ${job} ]] || sleep 0.5
done
log "${job} submitted"
snapshot() {  # the job and the workers, as JSON in the work dir; false while unreachable
  master_cli get "${job}" --output=json > "${workdir}/poll-job.json" 2>/dev/null &&
    master_cli workers --output=json > "${workdir}/poll-workers.json" 2>/dev/null
}

# A worker while it runs one of the job's tasks: killed, then started again (as its restart
# policy does not: `docker kill` counts as a manual stop).
killed=""
deadline=$((SECONDS + 600))
while [[ -z ${killed} ]]; do
  ((SECONDS < deadline)) || fail "no task of ${job} seen running within 600 s"
  if snapshot; then
    read -r state iterations < <(python3 scripts/compose_test_check.py progress \
                                   "${workdir}/poll-job.json")
    [[ ${state} == RUNNING || ${state} == PENDING ]] ||
      fail "${job} ended (${state}) before a task could be interrupted"
    killed=$(python3 scripts/compose_test_check.py running "${workdir}/poll-job.json" \
               "${workdir}/poll-workers.json")
  fi
  [[ -n ${killed} ]] || sleep 0.3
done
docker kill "$(container "${killed}")" > /dev/null
log "killed ${killed} while it ran a task of ${job} (iteration $((iterations + 1)))"
sleep 3
if [[ $(docker inspect -f '{{.State.Running}}' "$(container "${killed}")") != true ]]; then
  docker start "$(container "${killed}")" > /dev/null
  log "started ${killed} again"
fi

# The master, one finished iteration later, while the job runs.
after=$((iterations + 1))
deadline=$((SECONDS + 900))
while :; do
  ((SECONDS < deadline)) || fail "${job} did not finish iteration ${after} within 900 s"
  if snapshot; then
    read -r state iterations < <(python3 scripts/compose_test_check.py progress \
                                   "${workdir}/poll-job.json")
    [[ ${state} == RUNNING || ${state} == PENDING ]] ||
      fail "${job} ended (${state}) before the master could be restarted mid-job"
    ((iterations >= after)) && break
  fi
  sleep 0.5
done
docker restart -t 30 "$(container master)" > /dev/null
log "restarted the master mid-job (${iterations} iterations done)"
wait_healthy 120 master worker-0 worker-1 profiler

cli_status=0
wait "${cli_pid}" || cli_status=$?
((cli_status == 0)) ||
  { tail -n 20 "${workdir}/disturbed.txt"; fail "the CLI's submit --wait exited ${cli_status}"; }
log "the CLI's --wait followed ${job} through the restart to its end"
end

# ---- check ----------------------------------------------------------------------------------
begin check
master_cli get "${job}" --output=json > "${workdir}/disturbed.json" || fail "get ${job}"
python3 scripts/compose_test_check.py compare "${workdir}/reference.json" \
  "${workdir}/disturbed.json" || fail "${job} decided otherwise than ${reference}"
cli export "${job}" --format onnx -o /outputs/adapted.onnx > "${workdir}/export.txt" 2>&1 ||
  { cat "${workdir}/export.txt"; fail "export"; }
[[ -s ${workdir}/outputs/adapted.onnx ]] || fail "no ${workdir}/outputs/adapted.onnx"
log "exported ${job}: outputs/adapted.onnx ($(stat -c %s "${workdir}/outputs/adapted.onnx") bytes)"
"${compose[@]}" logs --no-color --timestamps > "${workdir}/compose-logs.txt" 2>&1 || true
end

# ---- down -----------------------------------------------------------------------------------
if ((keep)); then
  log "--keep: the stack stays up (${compose[*]} down -v)"
  print_times
  exit 0
fi
begin down
"${compose[@]}" down -v --remove-orphans > "${workdir}/down.log" 2>&1 || fail "down -v"
label="label=com.docker.compose.project=${project}"
left="$(docker ps -aq --filter "${label}") $(docker volume ls -q --filter "${label}")"
left+=" $(docker network ls -q --filter "${label}")"
[[ -z ${left// /} ]] || fail "left behind: ${left}"
log "nothing of project ${project} is left (containers, volumes, networks)"
end

print_times
log "PASSED"
