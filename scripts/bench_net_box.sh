#!/usr/bin/env bash
# The domain-decomposed network (issue 12): a forward pass and a training
# step (forward, backward, Allreduce, AdamW) of one whole periodic box with
# `hydrobridge bench-net --box N`, on 1 and 2 ranks (one thread each), for
# N = 64 and 128 (BOXES="64 128"). Prints the times, voxels per second and
# the 1 -> 2 rank parallel efficiency t1 / (2 t2); the floor is the ideal
# efficiency 1 (per-rank work halves, the halo messages are the cost).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
hb_build
BOXES=${BOXES:-64 128} WIDTH=${WIDTH:-16} STEPS=${STEPS:-3}
get() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
printf "%-6s %-6s %12s %12s %14s %10s %14s %12s\n" box ranks "forward ms" "train ms" "voxels/s" "halo ms" "MB per rank" "efficiency"
for n in $BOXES; do
    declare -A f t
    for r in 1 2; do
        line=$(timeout -k 10 1800 mpirun -np "$r" "$HB_ROOT/build/hydrobridge" bench-net --box "$n" --width "$WIDTH" \
               --steps "$STEPS" | grep box_forward_ms)
        f[$r]=$(get "$line" box_forward_ms); t[$r]=$(get "$line" box_train_ms)
        eff="-"
        [ "$r" = 2 ] && eff=$(awk -v a="${f[1]}" -v b="${f[2]}" -v c="${t[1]}" -v d="${t[2]}" \
            'BEGIN { printf "%.2f / %.2f", a / (2 * b), c / (2 * d) }')
        printf "%-6s %-6s %12s %12s %14s %10s %14s %12s\n" "$n^3" "$r" "${f[$r]}" "${t[$r]}" "$(get "$line" voxels_per_s)" \
            "$(get "$line" halo_wait_ms_per_pass)" "$(get "$line" peak_mb_per_rank)" "$eff"
    done
done
echo "(efficiency: forward / training step, 1 -> 2 ranks)"
