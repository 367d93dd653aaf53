#!/usr/bin/env bash
# The build step every image shares (deploy/Dockerfile, deploy/worker/Dockerfile,
# deploy/jetson/Dockerfile), run in their build stages from the copied source tree:
#
#   deploy/build.sh build SRC BUILD OUT TARGET... [-- CMAKE_ARG...]
#       Configures SRC in BUILD without tests or benchmarks (NETADAPT_BUILD_TESTS=OFF: no
#       GoogleTest, no nlohmann/json), builds the TARGETs (executables) with -O2 and no debug
#       information, and installs them into OUT/bin. JOBS (default: nproc) bounds the compile
#       jobs.
#   deploy/build.sh packages LIST BINARY...
#       Writes to LIST the Debian packages of the shared libraries the BINARYs load (ldd, then
#       dpkg -S), for a runtime stage to install just those. Libraries no package owns (a
#       LibTorch unpacked into /opt) are named on stderr and left out.
set -euo pipefail

usage() {
  sed -n '2,14p' "$0" >&2
  exit 2
}

build() {
  (($# >= 4)) || usage
  local src=$1 build=$2 out=$3
  shift 3
  local targets=()
  while (($#)) && [[ $1 != -- ]]; do
    targets+=("$1")
    shift
  done
  (($#)) && shift  # the --
  # Release at -O2 (the optimisation of the RelWithDebInfo host builds) without -g: the images
  # ship stripped binaries, and debug information only slows the compile and the link.
  cmake -S "${src}" -B "${build}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DNETADAPT_BUILD_TESTS=OFF "$@"
  cmake --build "${build}" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"
  mkdir -p "${out}/bin"
  local target path
  for target in "${targets[@]}"; do
    path=$(find "${build}" -mindepth 2 -maxdepth 2 -type f -name "${target}" -perm -u+x)
    [[ -n ${path} ]] || { echo "build.sh: no executable ${target} in ${build}" >&2; exit 1; }
    strip --strip-unneeded -o "${out}/bin/${target}" "${path}"
  done
  ls -l "${out}/bin"
}

packages() {
  (($# >= 2)) || usage
  local list=$1
  shift
  local lib owner
  # usrmerge: ldd prints /lib/..., dpkg knows /usr/lib/...; alternatives (libblas.so.3) are
  # symlinks to the file the package owns.
  for lib in $(ldd "$@" | awk '/=> \//{print $3}' | sort -u); do
    owner=$(dpkg -S "${lib}" 2>/dev/null || dpkg -S "/usr${lib}" 2>/dev/null ||
            dpkg -S "$(readlink -f "${lib}")" 2>/dev/null || true)
    if [[ -z ${owner} ]]; then
      echo "build.sh: ${lib} belongs to no Debian package; left out of ${list}" >&2
      continue
    fi
    echo "${owner%%:*}"
  done | sort -u > "${list}"
  echo "${list}: $(wc -l < "${list}") packages"
}

case "${1:-}" in
  build) shift; build "$@" ;;
  packages) shift; packages "$@" ;;
  *) usage ;;
esac
