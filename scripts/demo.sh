#!/usr/bin/env bash
# The end-to-end demo on a fresh Debian 12 machine: installs what is missing,
# builds, and runs `hydrobridge demo` on 2 MPI ranks. Output in demo_out/.
# Arguments go to `hydrobridge demo` (e.g. --train-steps 1200).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
hb_setup
OUT=${HB_DEMO_OUT:-$HB_ROOT/demo_out}
mkdir -p "$OUT"
echo "== running the demo on 2 ranks (output in $OUT)"
timeout -k 10 1800 mpirun -np 2 "$HB_ROOT/build/hydrobridge" demo --out "$OUT" "$@"
if /usr/bin/python3 -c "import matplotlib, h5py" 2> /dev/null; then
    /usr/bin/python3 "$HB_ROOT/scripts/plot_pk.py" "$OUT/report.h5" --out "$OUT/report_pk.png"
    truth=$(ls "$OUT"/heldout/*.h5 | head -1)
    /usr/bin/python3 "$HB_ROOT/scripts/plot_slices.py" "$truth" "$OUT/emulated/$(basename "$truth" .h5)_s1.h5" \
        --plane 20 --out "$OUT/report_slices.png"
else
    echo "(plots skipped: apt-get install python3-matplotlib python3-h5py)"
fi
