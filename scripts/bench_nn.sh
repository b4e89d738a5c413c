#!/usr/bin/env bash
# Network benchmark (issue 4): the reference UNet3D-small (w=16, patch 32^3,
# batch 4) with `hydrobridge bench-net` at 1 and 2 threads and, when Debian's
# python3-torch is installed, the same network in PyTorch on the same number
# of threads; prints a table and the ratio (hydrobridge time / PyTorch time).
set -euo pipefail
. "$(dirname "$0")/setup.sh"
hb_build
PATCH=${PATCH:-32} BATCH=${BATCH:-4} WIDTH=${WIDTH:-16} STEPS=${STEPS:-10}
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
get() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
printf "%-8s %-12s %10s %10s %12s %12s\n" threads code "train ms" "infer ms" "train GF/s" "infer GF/s"
for t in 1 2; do
    hb=$("$HB_ROOT/build/hydrobridge" bench-net --patch "$PATCH" --batch "$BATCH" --width "$WIDTH" \
         --steps "$STEPS" --threads "$t" | grep train_ms)
    printf "%-8s %-12s %10s %10s %12s %12s\n" "$t" hydrobridge "$(get "$hb" train_ms)" "$(get "$hb" infer_ms)" \
        "$(get "$hb" train_gflops)" "$(get "$hb" infer_gflops)"
    if [ $have_torch = 1 ]; then
        pt=$(/usr/bin/python3 "$HB_ROOT/scripts/bench_torch.py" --patch "$PATCH" --batch "$BATCH" \
             --width "$WIDTH" --steps "$STEPS" --threads "$t")
        printf "%-8s %-12s %10s %10s %12s %12s\n" "$t" pytorch "$(get "$pt" train_ms)" "$(get "$pt" infer_ms)" \
            "$(get "$pt" train_gflops)" "$(get "$pt" infer_gflops)"
        awk -v a="$(get "$hb" train_ms)" -v b="$(get "$pt" train_ms)" -v c="$(get "$hb" infer_ms)" \
            -v d="$(get "$pt" infer_ms)" -v t="$t" \
            'BEGIN { printf "%-8s %-12s %10.2f %10.2f   (hydrobridge / PyTorch time)\n", t, "ratio", a / b, c / d }'
    fi
done
[ $have_torch = 1 ] || echo "(python3-torch is not installed: apt-get install python3-torch for the comparison)"
