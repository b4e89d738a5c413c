#!/usr/bin/env bash
# The end-to-end demo on a fresh Debian 12 machine: installs what is missing,
# builds, and runs `hydrobridge demo` on 2 MPI ranks. Output in demo_out/.
# Arguments go to `hydrobridge demo` (e.g. --train-steps 1200).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
hb_setup
OUT=${HB_DEMO_OUT:-$HB_ROOT/demo_out}
LIMIT=${HB_DEMO_TIMEOUT:-1800}   # seconds; the defaults take ~10 min on 2 cores
mkdir -p "$OUT"
echo "== running the demo on 2 ranks (output in $OUT, stopped after $LIMIT s)"
rc=0
timeout -k 10 "$LIMIT" mpirun -np 2 "$HB_ROOT/build/hydrobridge" demo --out "$OUT" "$@" || rc=$?
if [ "$rc" -eq 124 ]; then
    echo "demo.sh: the demo did not finish within $LIMIT s and was stopped; what it had written is in $OUT" \
         "(allow more with HB_DEMO_TIMEOUT=seconds)" >&2
    exit 124
elif [ "$rc" -eq 137 ]; then   # timeout's KILL 10 s after the limit, or the system's
    echo "demo.sh: the demo was killed (SIGKILL: the time limit of $LIMIT s, or out of memory)" >&2
fi
[ "$rc" -eq 0 ] || exit "$rc"
if /usr/bin/python3 -c "import matplotlib, h5py" 2> /dev/null; then
    /usr/bin/python3 "$HB_ROOT/scripts/plot_pk.py" "$OUT/report.h5" --out "$OUT/report_pk.png"
    truth=$(ls "$OUT"/heldout/*.h5 | head -1)
    /usr/bin/python3 "$HB_ROOT/scripts/plot_slices.py" "$truth" "$OUT/emulated/$(basename "$truth" .h5)_s1.h5" \
        --plane 20 --out "$OUT/report_slices.png"
else
    echo "(plots skipped: apt-get install python3-matplotlib python3-h5py)"
fi
