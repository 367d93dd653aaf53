#!/usr/bin/env bash
# Clang's thread-safety analysis (-Wthread-safety) over the library and binary sources: GCC
# ignores the ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED annotations, so without this
# nothing checks them. Parses each translation unit with the compile flags of the GCC build
# (build/compile_commands.json, written by scripts/test.sh's configure) under clang++
# -fsyntax-only: analysis without code generation, a couple of minutes on 2 cores. Any
# thread-safety warning fails the run.
# Usage: scripts/thread-safety.sh [BUILD_DIR]     (default: $NETADAPT_BUILD_DIR or build)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-${NETADAPT_BUILD_DIR:-build}}
if ! command -v clang++ > /dev/null; then
  echo "thread-safety.sh: clang++ not found (apt-get install clang)" >&2
  exit 2
fi
if [[ ! -f $build_dir/compile_commands.json ]]; then
  echo "thread-safety.sh: $build_dir/compile_commands.json missing: configure first" >&2
  exit 2
fi

python3 - "$build_dir/compile_commands.json" "$(nproc)" <<'PY'
import concurrent.futures, json, os, shlex, subprocess, sys

commands, jobs = json.load(open(sys.argv[1])), int(sys.argv[2])
root = os.getcwd()
checked_dirs = ("common/", "master/", "worker/", "profiler-agent/", "cli/")

def check(entry):
    args = shlex.split(entry["command"])[1:]
    flags, skip = [], False
    for arg in args:  # the GCC command without its output and compile-only flags
        if skip:
            skip = False
        elif arg == "-o":
            skip = True
        elif arg != "-c":
            flags.append(arg)
    result = subprocess.run(
        ["clang++", "-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety",
         "-Wno-unknown-warning-option"] + flags,
        cwd=entry["directory"], capture_output=True, text=True)
    return entry["file"], result

entries = [e for e in commands
           if os.path.relpath(e["file"], root).startswith(checked_dirs)]
failed = 0
with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
    for path, result in pool.map(check, entries):
        if result.returncode != 0:
            failed += 1
            print(f"== {os.path.relpath(path, root)}\n{result.stderr}", end="")
print(f"thread-safety: {len(entries)} translation units, {failed} with findings")
sys.exit(1 if failed else 0)
PY
