#!/usr/bin/env bash
# The demo's training on 1, 2 and 3 ranks: with a batch of one box the box
# is spread over all ranks (domain-decomposed), with two boxes each rank
# (or group) takes its own; either way the report (every figure, goal and
# null split) is the same to the last digit at every rank count. A tiny
# demo (16^3, 4 boxes, 4 training steps) keeps it to seconds.
# Usage: demo_ranks.sh HYDROBRIDGE SRCDIR
set -u
HB=$1
fail=0
tiny=(--grid 16 --boxes 4 --train-steps 4 --emulate-steps 2 --seeds 1 --repaints 2)
run_demo() {   # run_demo NP BATCH WANT_RANKS_PER_BOX
    local out=b$2_np$1
    rm -rf "$out"
    if ! timeout -k 5 300 mpirun -np "$1" "$HB" demo --out "$out" --batch "$2" "${tiny[@]}" > "$out.log" 2>&1; then
        echo "FAIL: demo on $1 ranks, batch $2"; tail -5 "$out.log"; fail=1; return
    fi
    if ! grep -q "steps of $2 box.*, $3 ranks\? per box" "$out.log"; then
        echo "FAIL: demo on $1 ranks, batch $2: expected $3 rank(s) per box:"; grep "stage 4" "$out.log"; fail=1
    fi
}
for np in 1 2 3; do run_demo $np 1 $np; done
for np in 1 2 3; do run_demo $np 2 $((np == 3 ? 3 : 1)); done
for b in 1 2; do
    for np in 2 3; do
        if [ -f b${b}_np1/report.txt ] && cmp -s b${b}_np1/report.txt b${b}_np$np/report.txt; then
            echo "ok: batch $b, report on $np ranks = on 1 rank"
        else
            echo "FAIL: batch $b, the report on $np ranks differs from 1 rank's"; diff b${b}_np1/report.txt b${b}_np$np/report.txt | head -5; fail=1
        fi
    done
done
# the two batches train different models: the reports differ (the comparison above can tell)
if cmp -s b1_np1/report.txt b2_np1/report.txt; then echo "FAIL: batch 1 and batch 2 gave the same report"; fail=1; fi
exit $fail
