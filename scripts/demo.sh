#!/usr/bin/env bash
# The end-to-end demo on a fresh Debian 12 machine: installs what is missing,
# builds, and runs `hydrobridge demo` on 2 MPI ranks. Output in demo_out/.
set -euo pipefail
. "$(dirname "$0")/setup.sh"
hb_setup
OUT=${HB_DEMO_OUT:-$HB_ROOT/demo_out}
mkdir -p "$OUT"
echo "== running the demo on 2 ranks (output in $OUT)"
timeout -k 10 1800 mpirun -np 2 "$HB_ROOT/build/hydrobridge" demo --out "$OUT"
