#!/usr/bin/env bash
# Split WORK/boxes into WORK/train and WORK/heldout (symbolic links): the
# N_HELDOUT held-out boxes are rows of the suite's params.txt that lie inside
# the parameter range of the training boxes (hydrobridge holdout), since
# emulate refuses to extrapolate. The choice is printed to the job log.
set -euo pipefail
HB_ROOT=${HB_ROOT:-${SLURM_SUBMIT_DIR:-$(cd "$(dirname "$0")/.." && pwd)}}
. "$HB_ROOT/jobs/common.sh"
N_HELDOUT=${N_HELDOUT:-2}
held=$("$HB_BIN" holdout "$WORK/boxes/params.txt" "$N_HELDOUT")
echo "split: held out (inside the training range): $(echo $held)"
rm -rf "$WORK/train" "$WORK/heldout"
mkdir -p "$WORK/train" "$WORK/heldout"
for f in "$WORK"/boxes/*.h5; do
    name=$(basename "$f" .h5)
    if printf '%s\n' $held | grep -qx "$name"; then ln -s "$f" "$WORK/heldout/"; else ln -s "$f" "$WORK/train/"; fi
done
echo "split: $(ls "$WORK/train" | wc -l) training boxes, $(ls "$WORK/heldout" | wc -l) held out"
