#!/usr/bin/env bash
# The demo's training on 1, 2 and 3 ranks (and `demo --model` and `train --recipe demo`, below): with a batch of one box the box
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
# --model: no training; the model trained above (on 1 rank) gives the same report on 2 ranks, and a
# model trained on other boxes, or a file that is no model, is refused by name (the latter before
# any output is written)
rm -rf reuse reuse5 reuse_bad
if timeout -k 5 300 mpirun -np 2 "$HB" demo --out reuse --model b1_np1/model.h5 "${tiny[@]}" > reuse.log 2>&1 \
    && grep -q "no training: b1_np1/model.h5 was trained on these 4 boxes" reuse.log && ! grep -q "train: " reuse.log \
    && cmp -s b1_np1/report.txt reuse/report.txt; then
    echo "ok: demo --model: no training, the report the same as the training run's"
else
    echo "FAIL: demo --model"; tail -5 reuse.log; diff b1_np1/report.txt reuse/report.txt | head -5; fail=1
fi
if ! timeout -k 5 300 mpirun -np 2 "$HB" demo --out reuse5 --model b1_np1/model.h5 "${tiny[@]}" --boxes 5 > reuse5.log 2>&1 \
    && grep -q "demo --model b1_np1/model.h5: trained on other files (their names' hash [0-9a-f]*; this demo's 5 training boxes" reuse5.log \
    && [ -z "$(ls reuse5/emulated 2> /dev/null)" ]; then
    echo "ok: demo --model refuses a model trained on other boxes"
else
    echo "FAIL: demo --model with other boxes"; tail -3 reuse5.log; fail=1
fi
# the model (trained on TSC-painted DM) refuses the held-out DM painted with CIC when emulate reads it
if ! timeout -k 5 300 mpirun -np 2 "$HB" demo --out reuse_cic --model b1_np1/model.h5 "${tiny[@]}" --dm-assignment cic \
        > reuse_cic.log 2>&1 \
    && grep -q "its DM is painted with cic (/fields/dm_density's mass_assignment), but the model was trained on DM painted with tsc" \
        reuse_cic.log; then
    echo "ok: demo --model refuses a model trained on DM painted otherwise"
else
    echo "FAIL: demo --model with --dm-assignment cic"; tail -3 reuse_cic.log; fail=1
fi
box=$(ls b1_np1/heldout/*.h5 | head -1)
if ! timeout -k 5 60 mpirun -np 2 "$HB" demo --out reuse_bad --model "$box" "${tiny[@]}" > reuse_bad.log 2>&1 \
    && grep -q "$box: no data_files_hash attribute: not a model written by train" reuse_bad.log && [ ! -e reuse_bad ]; then
    echo "ok: demo --model refuses a file that is no model before writing anything"
else
    echo "FAIL: demo --model with a box file"; tail -3 reuse_bad.log; fail=1
fi
# train --recipe demo: the demo's training, bit for bit, from the command line (the recipe's
# network, optimiser, EMA, loss weights, interpolant, DM inputs and warm-up; steps and batch
# given). 150 steps: more than train's own warm-up of 100, so the recipe's (a tenth) must apply
rm -rf recipe.h5 recipe2.h5 rdemo
if timeout -k 5 300 mpirun -np 2 "$HB" demo --out rdemo "${tiny[@]}" --train-steps 150 > rdemo.log 2>&1 \
    && timeout -k 5 300 mpirun -np 2 "$HB" train --data rdemo/train --out recipe.h5 --recipe demo --steps 150 \
        --batch 1 > recipe.log 2>&1 && h5diff -q rdemo/model.h5 recipe.h5; then
    echo "ok: train --recipe demo: the model bitwise the demo's (150 steps, 2 ranks, batch 1)"
else
    echo "FAIL: train --recipe demo differs from the demo's model"; tail -3 rdemo.log recipe.log; fail=1
fi
# train --help spells the recipe out: those options, given one by one (and its warm-up, a tenth),
# train the same model bit for bit
help=$("$HB" train --help | sed -n '/--recipe demo/,/warm-up/p' | tr '\n' ' ' | tr -s ' ')
spelled=$(echo "$help" | sed -E 's/.*README\): //; s/ \(width.*//')
net=$(echo "$help" | sed -E 's/.*\(width ([0-9]+), embedding ([0-9]+) in ([0-9]+) layers, --sigma-c ([0-9.e+-]+)\).*/--width \1 --emb \2 --emb-layers \3 --sigma-c \4/')
rm -f spelled.h5
# shellcheck disable=SC2086 # the options are words
if [ -n "$spelled" ] && [ "${net#--width}" != "$net" ] \
    && timeout -k 5 300 mpirun -np 2 "$HB" train --data rdemo/train --out spelled.h5 $spelled $net --warmup 15 \
        --steps 150 --batch 1 > spelled.log 2>&1 && h5diff -q recipe.h5 spelled.h5; then
    echo "ok: the recipe as train --help spells it ($spelled $net --warmup 15) is the recipe, bitwise"
else
    echo "FAIL: train --help's recipe ($spelled | $net) differs from --recipe demo"; tail -3 spelled.log; fail=1
fi
# demo --help prints its defaults from the recipe: the training ones, given one by one, train the same model
dhelp=$("$HB" demo --help)
dspelled=()
for o in batch train-seed lr lr-min weight-decay ema width emb emb-layers loss-weight dm-assignment dm-floor dm-smooth \
    dm-halo sigma-c noise-slope; do
    v=$(echo "$dhelp" | grep -oE -- "--$o [^ ]+" | head -1 | cut -d' ' -f2)
    [ -n "$v" ] && dspelled+=("--$o" "$v")
done
rm -rf dspelled
if [ ${#dspelled[@]} = 32 ] && timeout -k 5 300 mpirun -np 2 "$HB" demo --out dspelled "${tiny[@]}" --train-steps 150 \
        "${dspelled[@]}" > dspelled.log 2>&1 && h5diff -q rdemo/model.h5 dspelled/model.h5; then
    echo "ok: demo --help's defaults given one by one (${dspelled[*]}) train the default model, bitwise"
else
    echo "FAIL: demo --help's defaults (${dspelled[*]}) differ from the demo's"; tail -3 dspelled.log; fail=1
fi
# an option changes the recipe wherever it stands: --dm-smooth before --recipe replaces the 1-cell
# channel and keeps the halo channel, as the demo's own --dm-smooth does
if timeout -k 5 300 mpirun -np 2 "$HB" train --data b1_np2/train --out recipe2.h5 --dm-smooth 2 --recipe demo --steps 2 \
        --batch 1 > recipe2.log 2>&1 \
    && grep -q "noise slopes 0.3 0.1, .*smoothed-DM channels 2 cells, 1.5 cells of the DM above 3" recipe2.log; then
    echo "ok: --dm-smooth 2 --recipe demo: the 2-cell channel and the recipe's halo channel"
else
    echo "FAIL: --dm-smooth with --recipe demo"; grep 'network w' recipe2.log; tail -3 recipe2.log; fail=1
fi
exit $fail
