#!/usr/bin/env bash
# Starts the profiler agent on a Jetson in the image built from deploy/jetson/Dockerfile.
# Reads the power mode on the host (the container cannot see nvpmodel) and records it in the
# device fingerprint, so LUTs measured in another mode are refused. NOT TESTED here.
#   TOKEN_FILE=cluster.token deploy/jetson/run.sh [extra netadapt-profiler flags...]
# The agent listens on all interfaces, so it needs the cluster token (the master presents it):
# TOKEN_FILE is mounted read-only and passed as --token_file. Without it the agent refuses to
# start unless --insecure is given (a lab bench on a private network).
set -euo pipefail
IMAGE=${IMAGE:-netadapt-profiler:jetson}
PORT=${PORT:-50061}

power_mode=""
if command -v nvpmodel >/dev/null 2>&1; then
  power_mode=$(sudo nvpmodel -q 2>/dev/null | sed -n 's/^NV Power Mode: *//p' | head -n1)
fi
if [[ -z "${power_mode}" ]]; then
  echo "run.sh: cannot read the power mode (nvpmodel -q); set it and the clocks first" >&2
fi

token_mount=()
token_flag=()
if [[ -n "${TOKEN_FILE:-}" ]]; then
  token_mount=(-v "$(realpath "${TOKEN_FILE}"):/run/secrets/netadapt_token:ro")
  token_flag=(--token_file=/run/secrets/netadapt_token)
fi

exec docker run --rm --init --runtime nvidia --network host --name netadapt-profiler \
  "${token_mount[@]}" "${IMAGE}" --port="${PORT}" --power_mode="${power_mode}" \
  "${token_flag[@]}" "$@"
