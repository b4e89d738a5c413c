# scripts/setup.sh: sourced by demo.sh and test.sh. Installs the missing
# Debian packages (as root; otherwise prints the exact apt-get line and
# stops), then configures and builds hydrobridge into build/.
# Usage: hb_setup [extra Debian packages...]

HB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HB_PACKAGES="gcc make cmake pkg-config openmpi-bin libopenmpi-dev libfftw3-dev libfftw3-mpi-dev
  libhdf5-openmpi-dev hdf5-tools libgsl-dev check libsubunit-dev libopenblas-dev
  libopenblas-openmp-dev libiniparser-dev librandom123-dev python3-numpy python3-h5py python3-matplotlib"

# mpirun as root, and more ranks than cores (TOOLCHAIN.md): set here, for the
# scripts' own runs; CTest sets them per test.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

hb_missing_packages() {
    local p missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    echo "$missing"
}

hb_install() {
    local missing
    missing=$(hb_missing_packages $HB_PACKAGES "$@")
    [ -z "$missing" ] && return 0
    local line="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
    if [ "$(id -u)" -ne 0 ]; then
        echo "hydrobridge needs these Debian packages:$missing" >&2
        echo "run as root:  $line" >&2
        exit 1
    fi
    echo "== installing:$missing"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null \
        || { echo "apt-get failed; the command was: $line" >&2; exit 1; }
}

hb_build() {
    echo "== configuring and building in $HB_ROOT/build"
    cmake -S "$HB_ROOT" -B "$HB_ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
    cmake --build "$HB_ROOT/build" -j "$(nproc)" >/dev/null || { cmake --build "$HB_ROOT/build"; exit 1; }
}

hb_setup() {
    hb_install "$@"
    hb_build
}
