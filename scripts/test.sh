#!/usr/bin/env bash
# Set up (packages, build) and run the whole test suite with CTest.
set -euo pipefail
. "$(dirname "$0")/setup.sh"
# the tests also use a real scheduler (slurm-wlm, munge) and the HDF5 Blosc
# filter that CAMELS N-body snapshots need
hb_setup slurm-wlm munge hdf5-filter-plugin-blosc-serial
cd "$HB_ROOT/build"
ctest --output-on-failure --timeout 900 "$@"
