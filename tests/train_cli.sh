#!/usr/bin/env bash
# hydrobridge train / emulate from the command line: a run stopped by SIGTERM
# or SIGUSR1 (sent to the ranks, as SLURM does; also when the parent blocked them) and resumed
# ends bitwise equal to an uninterrupted run, and so does one killed by
# SIGKILL and resumed from its periodic checkpoint; resumed on another rank
# count it ends equal to round-off; bad input fails clearly and writes
# nothing. Usage: train_cli.sh HYDROBRIDGE SRCDIR (make_toy next to HYDROBRIDGE's tests)
set -u
HB=$1
TOY=$(dirname "$HB")/tests/make_toy
BAD=$(dirname "$HB")/tests/make_bad
fail=0
. "$2/tests/lib.sh"
"$TOY" toy || { echo "FAIL: make_toy"; exit 1; }
COMMON=(--data toy --batch 2 --width 4 --steps 150 --checkpoint-every 50 --val-every 1000)

train_1_and_3() {   # train_1_and_3 PREFIX WHAT ARGS...: the same training on 1 and 3 ranks, PREFIX1.h5 and PREFIX3.h5 (.log)
    local p=$1 what=$2 np; shift 2
    for np in 1 3; do
        timeout -k 5 300 mpirun -np $np "$HB" train "$@" --out $p$np.h5 > $p$np.log 2>&1 \
            || { echo "FAIL: training with $what on $np ranks"; cat $p$np.log; fail=1; }
    done
}
emulate_ok() {   # emulate_ok MODEL OUT WHAT [ARGS...]: five sampler steps on toy_test.h5 on 2 ranks write a non-empty OUT
    local m=$1 o=$2 w=$3; shift 3
    timeout -k 5 120 mpirun -np 2 "$HB" emulate --model $m --dm toy_test.h5 --out $o --steps 5 "$@" > $o.log 2>&1 \
        && [ -s $o ] || { echo "FAIL: $w"; cat $o.log; fail=1; }
}

timeout -k 5 300 mpirun -np 2 "$HB" train "${COMMON[@]}" --out full.h5 > full.log 2>&1 || { echo "FAIL: uninterrupted run"; cat full.log; fail=1; }

interrupt() {   # interrupt NAME HOW: start, signal after step 50, resume, compare
    local name=$1 how=$2
    timeout -k 5 300 mpirun -np 2 "$HB" train "${COMMON[@]}" --out $name.h5 > $name.log 2>&1 &
    local pid=$!
    # signal once the first checkpoint is on disk: the run is then inside its step loop
    wait_for_line $name.log "checkpoint: step 50 "
    # to the ranks themselves, as Slurm's --signal does for job steps. (mpirun's own
    # forwarding, which jobs/train.sbatch uses, is exercised by slurm_pipeline: a
    # harness that blocks these signals in its children would stop it here.)
    signal_ranks $how $pid
    wait $pid
    local rc=$?
    if [ $how = KILL ]; then
        [ $rc -ne 0 ] || { echo "FAIL: KILL: the run finished before it was killed"; fail=1; return; }
    elif ! grep -q "stop requested" $name.log; then
        echo "FAIL: $how: no stop message (rc $rc)"; tail -5 $name.log; fail=1; return
    fi
    local at
    at=$(h5dump -a /step $name.h5 | grep -Eo '\(0\): [0-9]+' | grep -Eo '[0-9]+$')
    [ -f $name.h5.tmp ] && { echo "FAIL: $how left $name.h5.tmp"; fail=1; }
    timeout -k 5 300 mpirun -np 2 "$HB" train "${COMMON[@]}" --out $name.h5 --resume > $name.resume.log 2>&1 \
        || { echo "FAIL: resume after $how"; cat $name.resume.log; fail=1; return; }
    for set in weights ema adam_m adam_v; do
        h5diff full.h5 $name.h5 /$set /$set > /dev/null || { echo "FAIL: $how at step $at: /$set differs after resume"; fail=1; }
    done
    echo "ok: stopped by SIG$how at step $at (exit $rc), resumed to 150: weights, EMA and Adam moments bitwise equal"
}
interrupt term TERM
interrupt usr1 USR1
interrupt kill KILL   # nothing can catch it: the resume starts from the periodic checkpoint of step 50

# resumed on 1 rank from a 2-rank checkpoint: the same training to round-off
timeout -k 5 300 mpirun -np 2 "$HB" train "${COMMON[@]}" --steps 150 --out two.h5 > two.log 2>&1 &
pid=$!
wait_for_line two.log "checkpoint: step 100 "
signal_ranks TERM $pid
wait $pid
timeout -k 5 300 mpirun -np 1 "$HB" train "${COMMON[@]}" --out two.h5 --resume > one.log 2>&1 \
    || { echo "FAIL: resume on 1 rank"; cat one.log; fail=1; }
if h5diff -d 1e-3 full.h5 two.h5 /ema /ema > /dev/null; then
    echo "ok: resumed on 1 rank from a 2-rank checkpoint: EMA weights within 1e-3 of the uninterrupted run"
else
    echo "FAIL: resumed on 1 rank: EMA weights differ by more than 1e-3"; h5diff -d 1e-3 full.h5 two.h5 /ema /ema | tail -3; fail=1
fi

# a resume refuses another interpolant or another training set, and leaves the model as it was
cp full.h5 full_before.h5
expect_fail 'differs from the checkpoint.s in the interpolant \(sigma_c 0.25, beta_sq 1 against 0.5, 1\)' "" \
    mpirun -np 2 "$HB" train "${COMMON[@]}" --out full.h5 --resume --sigma-c 0.25
expect_fail 'differs from the checkpoint.s in the noise slopes \(0.3, 0.1 against' "" \
    mpirun -np 2 "$HB" train "${COMMON[@]}" --out full.h5 --resume --noise-slope 0.3,0.1
expect_fail 'option --noise-slope: expected a number, found "x"' bad_slope.h5 \
    mpirun -np 2 "$HB" train "${COMMON[@]}" --out bad_slope.h5 --noise-slope 0.3,x
expect_fail 'option --noise-slope: expected values within \[-2, 2\], found 3 for gas density' bad_slope.h5 \
    mpirun -np 2 "$HB" train "${COMMON[@]}" --out bad_slope.h5 --noise-slope 3
expect_fail 'option --noise-slope: expected at most 2 comma-separated numbers, found "0.3,0.1,0"' bad_slope.h5 \
    mpirun -np 2 "$HB" train "${COMMON[@]}" --out bad_slope.h5 --noise-slope 0.3,0.1,0
expect_fail 'differs from the checkpoint.s in the noise.s parameter coefficients \(gas temperature on a_agn1: -0.2 against 0\)' "" \
    mpirun -np 2 "$HB" train "${COMMON[@]}" --out full.h5 --resume --noise-theta a_agn1:0,-0.2
expect_fail 'option --noise-theta: expected NAME:C\[,C2\] with NAME one of omega_m, .*found "agn2:0.3"' bad_nt.h5 \
    mpirun -np 2 "$HB" train "${COMMON[@]}" --out bad_nt.h5 --noise-theta agn2:0.3
expect_fail 'option --noise-theta: expected values within \[-2, 2\], found -2.5 for gas temperature on a_sn1' bad_nt.h5 \
    mpirun -np 2 "$HB" train "${COMMON[@]}" --out bad_nt.h5 --noise-theta a_agn2:0.3 --noise-theta a_sn1:0,-2.5
expect_fail 'option --clip: expected a value >= 0 \(0: off\), found -1' bad_clip.h5 mpirun -np 2 "$HB" train "${COMMON[@]}" --out bad_clip.h5 --clip -1
expect_fail 'option --clip: expected a number, found "inf"' bad_clip.h5 mpirun -np 2 "$HB" train "${COMMON[@]}" --out bad_clip.h5 --clip inf
expect_fail 'option --weight-decay: expected a value within \[0, 1\], found -0.1' bad_wd.h5 mpirun -np 2 "$HB" train "${COMMON[@]}" --out bad_wd.h5 --weight-decay -0.1
mkdir -p toy8 && cp toy/box0[0-7].h5 toy8/
expect_fail 'differs from the checkpoint.s in the list of training files \(hash ' "" mpirun -np 2 "$HB" train --data toy8 --batch 2 --width 4 \
    --steps 150 --checkpoint-every 50 --val-every 1000 --out full.h5 --resume
cmp -s full.h5 full_before.h5 || { echo "FAIL: a refused resume changed the model file"; fail=1; }

# the collapse guard. Its stop: with a window of 10 steps the running mean of the toy's noisy loss
# (a fresh batch and t every step) rises 1.3 times above its lowest by step 36-38 at --lr 0.3, and
# a rollback replays the same batches (they follow the step), so the rise comes back at every
# learning rate: the guard rolls back to a snapshot at a window's end four times, halving the
# rate, then stops with a clear error, the model file holding the last healthy snapshot (not the
# collapsed state); the first two rollbacks go to the same snapshots on 1, 2 and 3 ranks (the
# decisions follow the global loss). A run that leaves its minimum only through a too-high rate is
# no test of the stop: how many rollbacks it needs follows round-off (on an AVX2 machine --lr 0.05,
# which stopped on an AVX-512 one, rolled back three times and finished)
GC=(--data toy --batch 2 --width 4 --steps 500 --checkpoint-every 0 --val-every 1000 --warmup 450 --guard 1.3 --guard-window 10)
rm -f gd2.h5
expect_fail 'training collapsed at step [0-9]+: .* after every rollback the guard allows; gd2.h5 holds the last healthy state, the snapshot of step [0-9]+ \(--resume continues from it at 0.0625 times --lr' "" \
    mpirun -np 2 "$HB" train "${GC[@]}" --lr 0.3 --out gd2.h5
grep -Eo 'by step [0-9]+: the training left its minimum. Rolled back to step [0-9]+, learning rate now [0-9.]+' stdout.txt > gd2.rb
if [ "$(wc -l < gd2.rb)" -eq 4 ] && grep -q 'now 0.0625' gd2.rb \
    && grep -Eo 'back to step [0-9]+' gd2.rb | awk '$4 % 10 || $4 == 0 {bad = 1} END {exit bad}'; then
    echo "ok: --guard: four rollbacks (learning rate 0.5 to 0.0625 times --lr), each to a snapshot at a window's end, then a stop"
else
    echo "FAIL: --guard: expected four rollbacks to multiples of 20"; cat gd2.rb stdout.txt | tail -8; fail=1
fi
kept=$(grep -Eo 'the snapshot of step [0-9]+' stderr.txt | grep -Eo '[0-9]+$')
if [ -n "$kept" ] && [ $((kept % 10)) = 0 ] && h5dump -a /step gd2.h5 | grep -q "(0): $kept\$" \
    && h5dump -a /guard_rollbacks gd2.h5 | grep -q "(0): 4\$" && h5ls gd2.h5 | grep -q guard._weights; then
    echo "ok: --guard: the stopped training's file holds the snapshot of step $kept, its guard state and the snapshot"
else
    echo "FAIL: --guard: the stopped training's file (snapshot step '$kept')"; h5ls gd2.h5; fail=1
fi
# the stopped file emulates, with a warning that it is an unfinished training
emulate_ok gd2.h5 gd2_emu.h5 "emulate with the guard-stopped model"
grep -q "model: WARNING: gd2.h5 is a checkpoint at step $kept of 500, an unfinished training" gd2_emu.h5.log \
    && echo "ok: emulate warns that the guard-stopped model is a checkpoint at step $kept of 500" \
    || { echo "FAIL: emulate with a checkpoint: no warning"; cat gd2_emu.h5.log; fail=1; }
# resumed from it at a lower rate it trains to the end (no rollback left), and says that the
# guard's settings changed; a checkpoint whose guard state is corrupt is refused by name
cp gd2.h5 gd2_bad.h5 && "$BAD" setattr gd2_bad.h5 guard_lr_scale 2
timeout -k 5 300 mpirun -np 2 "$HB" train "${GC[@]}" --lr 0.002 --guard 2 --out gd2.h5 --resume > gd2.resume.log 2>&1
if [ $? = 0 ] && grep -q "resume: gd2.h5 at step $kept\$" gd2.resume.log \
    && grep -q 'the collapse guard was --guard 1.3 --guard-window 10; its state .* continues under --guard 2 --guard-window 10' gd2.resume.log \
    && h5dump -a /step gd2.h5 | grep -q '(0): 500$'; then
    echo "ok: --guard: resumed from the kept snapshot at a lower --lr, trained to the end; the changed guard settings logged"
    emulate_ok gd2.h5 gd2_emu2.h5 "emulate with the resumed model"
    ! grep -q "model: WARNING" gd2_emu2.h5.log && echo "ok: the finished model emulates without a checkpoint warning" \
        || { echo "FAIL: a finished model warned"; cat gd2_emu2.h5.log; fail=1; }
else
    echo "FAIL: --guard: resume from the kept snapshot"; tail -5 gd2.resume.log; fail=1
fi
expect_fail "gd2_bad.h5: the collapse guard's state is not valid \(lr scale 2" "" \
    mpirun -np 2 "$HB" train "${GC[@]}" --lr 0.002 --out gd2_bad.h5 --resume
for np in 1 3; do
    timeout -k 5 300 mpirun -np $np "$HB" train "${GC[@]}" --lr 0.3 --out gd$np.h5 > gd$np.log 2>&1
    grep -Eo 'Rolled back to step [0-9]+' gd$np.log | head -2 > gd$np.rb
done
if [ "$(wc -l < gd1.rb)" -eq 2 ] && cmp -s gd1.rb gd3.rb && grep -Eo 'Rolled back to step [0-9]+' gd2.rb | head -2 | cmp -s - gd1.rb; then
    echo "ok: --guard: the first two rollbacks to the same snapshots on 1, 2 and 3 ranks ($(tr '\n' ' ' < gd1.rb))"
else
    echo "FAIL: --guard: the first rollbacks differ between 1, 2 and 3 ranks"; head gd1.rb gd3.rb gd2.rb; fail=1
fi
# with a window of 20 steps at --lr 0.02 the training leaves its minimum as the warm-up's rate nears
# its peak (step 177 on an AVX2 machine, twice on an AVX-512 one) and recovers: rollbacks, then to
# the end. Stopped by SIGTERM after step 100 and resumed (the guard's averages and snapshots come
# back from the checkpoint), the rollbacks after it happen at the same steps and the model ends
# bitwise equal to the uninterrupted run's
GD=(--data toy --batch 2 --width 4 --steps 300 --checkpoint-every 0 --val-every 1000 --warmup 250 --guard 1.3 --guard-window 20)
timeout -k 5 300 mpirun -np 2 "$HB" train "${GD[@]}" --lr 0.02 --out gdf.h5 > gdf.log 2>&1 || { echo "FAIL: --guard at --lr 0.02"; tail -3 gdf.log; fail=1; }
timeout -k 5 300 mpirun -np 2 "$HB" train "${GD[@]}" --lr 0.02 --checkpoint-every 100 --out gdi.h5 > gdi.log 2>&1 &
pid=$!
wait_for_line gdi.log "checkpoint: step 100 "
signal_ranks TERM $pid
wait $pid
timeout -k 5 300 mpirun -np 2 "$HB" train "${GD[@]}" --lr 0.02 --out gdi.h5 --resume > gdi.resume.log 2>&1 \
    || { echo "FAIL: --guard: resume"; tail -3 gdi.resume.log; fail=1; }
same=1
for set in weights ema adam_m adam_v; do h5diff gdf.h5 gdi.h5 /$set /$set > /dev/null || same=0; done
nf=$(grep -c 'Rolled back' gdf.log); ni=$(cat gdi.log gdi.resume.log | grep -c 'Rolled back')
if [ $same = 1 ] && [ "$nf" -ge 1 ] && [ "$ni" = "$nf" ] && grep -q 'Rolled back' gdi.resume.log \
    && h5dump -a /guard_lr_scale gdi.h5 | grep -q "(0): $(awk "BEGIN{print 0.5^$nf}")" && ! h5ls gdi.h5 | grep -q guard0; then
    echo "ok: --guard: $nf rollbacks, one after a SIGTERM and resume; the model bitwise equal to the uninterrupted run's, its learning-rate scale stored, no snapshots in the finished file"
else
    echo "FAIL: --guard: interrupted and resumed (rollbacks $nf vs $ni, same $same)"; grep -h 'Rolled\|stop\|resume' gdf.log gdi.log gdi.resume.log; fail=1
fi
expect_fail 'option --guard: expected 0 \(off\) or a value within \(1, 100\], found 1' g.h5 mpirun -np 1 "$HB" train "${GD[@]}" --lr 0.05 --out g.h5 --guard 1
expect_fail 'option --guard-window: expected a positive integer, found 0' g.h5 mpirun -np 1 "$HB" train "${GD[@]}" --lr 0.05 --out g.h5 --guard-window 0

# divergence stops training with a clear error and writes no model
expect_fail 'training diverged at step [0-9]+' div.h5 mpirun -np 2 "$HB" train --data toy --batch 2 --width 4 \
    --steps 50 --lr 1e30 --clip 1e30 --warmup 0 --out div.h5
# emulate refuses a model with a non-finite weight
cp full.h5 poisoned.h5 && "$BAD" poison poisoned.h5
expect_fail 'holds a non-finite weight' g.h5 mpirun -np 2 "$HB" emulate --model poisoned.h5 --dm toy_test.h5 --out g.h5
cp full.h5 sloped.h5 && "$BAD" slope sloped.h5
expect_fail 'sloped.h5: /interp/noise_slope holds 5 for gas temperature, expected a value within \[-2, 2\]' g.h5 \
    mpirun -np 2 "$HB" emulate --model sloped.h5 --dm toy_test.h5 --out g.h5
cp full.h5 ntheta.h5 && "$BAD" ntheta ntheta.h5
expect_fail 'ntheta.h5: /interp/noise_theta holds 3 for gas density on a_agn2, expected a value within \[-2, 2\]' g.h5 \
    mpirun -np 2 "$HB" emulate --model ntheta.h5 --dm toy_test.h5 --out g.h5

# outputs never overwrite inputs; cell sizes must match the model's
expect_fail 'output full.h5 is the input full.h5' "" mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_test.h5 --out full.h5
cmp -s full.h5 full_before.h5 || { echo "FAIL: emulate --out MODEL changed the model"; fail=1; }
"$BAD" box big_cells.h5 16 50
expect_fail 'the model was trained on cells of' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm big_cells.h5 --out g.h5
expect_fail 'a 18\^3 box cannot be cut into slabs of multiples of 4 planes' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_dm18.h5 --out g.h5
expect_fail 'dataset /fields/dm_density not found' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm full.h5 --out g.h5
expect_fail 'is not a hydrobridge model file' g.h5 mpirun -np 2 "$HB" emulate --model toy_test.h5 --dm toy_test.h5 --out g.h5
expect_fail 'a_agn2 = 3 is outside the range the model was trained on' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_test.h5 --out g.h5 feedback.a_agn2=3
expect_fail 'need at least one sampler step' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_test.h5 --out g.h5 --steps 0
# the model keeps its training DM's mass assignment; a DM painted otherwise is refused, and so is a
# training set painted two ways; "none" (not recorded: the toy's, imported grids) matches any
rm -rf cicset mixed && mkdir cicset mixed
"$BAD" mas cicset/a.h5 cic && "$BAD" mas cicset/b.h5 cic && "$BAD" mas tsc_dm.h5 tsc
timeout -k 5 120 mpirun -np 2 "$HB" train --data cicset --out cic_model.h5 --steps 2 --batch 2 --width 4 --val-every 1000 \
    > cic_model.log 2>&1 || { echo "FAIL: training on CIC-painted boxes"; cat cic_model.log; fail=1; }
expect_fail 'tsc_dm.h5: its DM is painted with tsc \(/fields/dm_density.s mass_assignment\), but the model was trained on DM painted with cic' \
    g.h5 mpirun -np 2 "$HB" emulate --model cic_model.h5 --dm tsc_dm.h5 --out g.h5
timeout -k 5 120 mpirun -np 2 "$HB" emulate --model full.h5 --dm tsc_dm.h5 --out g.h5 --steps 1 > g.log 2>&1 && [ -s g.h5 ] \
    && echo "ok: a model trained on DM of no recorded painting emulates a TSC-painted DM" \
    || { echo "FAIL: emulate --model full.h5 (DM painting not recorded) --dm tsc_dm.h5"; cat g.log; fail=1; }
"$BAD" mas long_dm.h5 cic_deconvolved_v1
expect_fail 'long_dm.h5: attribute mass_assignment of /fields/dm_density is "cic_deconvolved_v1": expected a mass-assignment label of at most 15 characters' \
    g.h5 mpirun -np 2 "$HB" emulate --model cic_model.h5 --dm long_dm.h5 --out g.h5
cp cicset/*.h5 toy/box00.h5 mixed/ && cp tsc_dm.h5 mixed/zz_tsc.h5
expect_fail 'mixed/zz_tsc.h5: its DM is painted with tsc .*, but mixed/a.h5.s with cic: the network.s DM input must be painted alike' \
    m.h5 mpirun -np 2 "$HB" train --data mixed --out m.h5 --steps 2
mkdir -p empty
expect_fail 'no box files' m.h5 mpirun -np 2 "$HB" train --data empty --out m.h5
expect_fail 'option --loss-weight: expected slopes within \[-5, 5\], found 6' m.h5 mpirun -np 2 "$HB" train --data toy --out m.h5 --loss-weight 6
expect_fail 'option --loss-weight: expected slopes within \[-5, 5\], found 9' m.h5 mpirun -np 2 "$HB" train --data toy --out m.h5 --loss-weight 0.25,0.25,9
expect_fail 'option --loss-weight: expected at most 3 comma-separated numbers' m.h5 \
    mpirun -np 2 "$HB" train --data toy --out m.h5 --loss-weight 1,2,3,4
# --loss-weight's three slopes as stored in the model: one value is K = KV, KP = 0
lw_attrs() { for a in loss_weight loss_weight_voids loss_weight_peaks; do
    h5dump -a /$a "$1" | grep -Eo '\(0\): [-0-9.e]+' | sed 's/(0): //'; done | paste -sd' '; }
for spec in 0.3 0.3,-0.1,0.6; do
    timeout -k 5 120 mpirun -np 2 "$HB" train --data toy --batch 2 --width 4 --steps 3 --val-every 1000 \
        --loss-weight $spec --out lw_$spec.h5 > lw_$spec.log 2>&1 || { echo "FAIL: training with --loss-weight $spec"; cat lw_$spec.log; fail=1; }
done
if [ "$(lw_attrs lw_0.3.h5)" = "0.3 0.3 0" ] && [ "$(lw_attrs lw_0.3,-0.1,0.6.h5)" = "0.3 -0.1 0.6" ]; then
    echo "ok: --loss-weight 0.3 stored as 0.3 0.3 0, 0.3,-0.1,0.6 as given"
else
    echo "FAIL: --loss-weight stored as '$(lw_attrs lw_0.3.h5)' and '$(lw_attrs lw_0.3,-0.1,0.6.h5)'"; fail=1
fi
echo toy_dm18.h5 > dm_only.list
expect_fail 'dataset /fields/gas_density not found' m.h5 mpirun -np 2 "$HB" train --data dm_only.list --out m.h5
emulate_ok full.h5 ok.h5 "a good emulation"

# emulate warns when normalising the gas to mean 1 moves every cell by more than the PDF goal's 0.02 dex,
# and only then. The toy model's 5-step sample is far off; the same model with its gas channel's log mean
# shifted by the sample's departure (every cell times one factor) must not warn, and its normalised gas
# is the first's; a model whose gas std is tripled (samples three times as wide in dex) must warn
raw_gas_mean() { h5dump -a /gas_mean_before_normalisation $1 | awk '/\(0\):/ { print $2 }'; }
norm_warning() {   # norm_warning OUT WHAT WANT: the warning in OUT.log iff |log10 OUT's raw gas mean| > 0.02; WANT 0/1
    local m want have
    m=$(raw_gas_mean $1)
    want=$(awk -v m="$m" 'BEGIN { d = log(m) / log(10); print (d > 0.02 || d < -0.02) ? 1 : 0 }')
    have=$(grep -c "emulate: WARNING: $1: the normalisation moved every cell's gas by" $1.log)
    if [ -n "$m" ] && [ "$want" = "$have" ] && [ "$want" = "$3" ]; then
        echo "ok: $2: gas mean $m before normalisation, $have warning(s)"
    else
        echo "FAIL: $2: gas mean '$m' before normalisation, $have warning(s), expected $want (the test needs $3)"
        cat $1.log; fail=1
    fi
}
norm_warning ok.h5 "the toy model, 5 sampler steps" 1
cp full.h5 recentred.h5 && "$BAD" gas_interp recentred.h5 "$(awk -v m="$(raw_gas_mean ok.h5)" 'BEGIN { print -log(m) / log(10) }')" 1 \
    || { echo "FAIL: make_bad gas_interp"; fail=1; }
emulate_ok recentred.h5 recentred_emu.h5 "emulate with the gas log mean shifted"
norm_warning recentred_emu.h5 "the gas log mean shifted by the sample's departure" 0
h5diff -p 1e-5 ok.h5 recentred_emu.h5 /fields/gas_density > /dev/null \
    && echo "ok: the gas log mean shifted: the normalised gas is the same (1e-5)" \
    || { echo "FAIL: the gas log mean shifted: another normalised gas"; fail=1; }
cp full.h5 wide.h5 && "$BAD" gas_interp wide.h5 0 3 || { echo "FAIL: make_bad gas_interp"; fail=1; }
emulate_ok wide.h5 wide_emu.h5 "emulate with the gas std tripled"
norm_warning wide_emu.h5 "the gas std tripled" 1

# --best-of 3: each sample is, of the candidates drawn alone with sampler seeds s, s + 2^32 and s + 2^33,
# the one whose gas mean before normalisation is nearest 1 in dex, bit for bit, its seed recorded
timeout -k 5 120 mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_test.h5 --out best_s{seed}.h5 --steps 5 --seed 1 \
    --seeds 4 --best-of 3 > best.log 2>&1 || { echo "FAIL: emulate --best-of 3"; cat best.log; fail=1; }
later=0
for s in 1 2 3 4; do
    bestc="" bestd=""
    for k in 0 1 2; do
        cs=$((s + (k << 32)))
        emulate_ok full.h5 cand_$cs.h5 "the candidate of seed $cs alone" --seed $cs --best-of 1
        d=$(awk -v m="$(raw_gas_mean cand_$cs.h5)" 'BEGIN { d = log(m) / log(10); printf "%.9f", d < 0 ? -d : d }')
        if [ -z "$bestd" ] || awk -v a="$d" -v b="$bestd" 'BEGIN { exit !(a < b) }'; then bestc=$cs bestd=$d; fi
    done
    [ "$bestc" != "$s" ] && later=$((later + 1))
    if h5diff best_s$s.h5 cand_$bestc.h5 /fields/gas_density > /dev/null && h5diff best_s$s.h5 cand_$bestc.h5 \
            /fields/gas_temperature > /dev/null && h5dump -a /sampler_seed best_s$s.h5 | grep -q "(0): $bestc\$"; then
        echo "ok: --best-of 3, seed $s: the candidate of sampler seed $bestc (|log10 gas mean| $bestd), bit for bit"
    else
        echo "FAIL: --best-of 3, seed $s: not the candidate of sampler seed $bestc"; cat best.log; fail=1
    fi
done
[ $later -gt 0 ] && echo "ok: --best-of 3: $later of 4 samples are a later candidate" \
    || { echo "FAIL: --best-of 3: every sample is its first candidate (the choice is not exercised)"; fail=1; }
# the same choice on 1 and 3 ranks (the mean is reduced over the ranks), the samples within 1e-4
for np in 1 3; do
    timeout -k 5 120 mpirun -np $np "$HB" emulate --model full.h5 --dm toy_test.h5 --out best$np\_s{seed}.h5 --steps 5 \
        --seed 1 --seeds 4 --best-of 3 > best$np.log 2>&1 || { echo "FAIL: emulate --best-of 3 on $np ranks"; cat best$np.log; fail=1; }
done
same=0
for s in 1 2 3 4; do
    a=$(h5dump -a /sampler_seed best_s$s.h5 | grep -o '(0): [0-9]*')
    [ -n "$a" ] && [ "$a" = "$(h5dump -a /sampler_seed best1_s$s.h5 | grep -o '(0): [0-9]*')" ] \
        && [ "$a" = "$(h5dump -a /sampler_seed best3_s$s.h5 | grep -o '(0): [0-9]*')" ] \
        && h5diff -p 1e-4 best_s$s.h5 best1_s$s.h5 /fields/gas_density > /dev/null \
        && h5diff -p 1e-4 best_s$s.h5 best3_s$s.h5 /fields/gas_density > /dev/null && same=$((same + 1))
done
[ $same = 4 ] && echo "ok: --best-of 3 on 1, 2 and 3 ranks: the same candidates, the gas within 1e-4" \
    || { echo "FAIL: --best-of 3: 1, 2 and 3 ranks agree on $same of 4 samples"; fail=1; }
expect_fail '--best-of 17: expected 1 to 16 candidates' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_test.h5 \
    --out g.h5 --best-of 17

# the smoothed-DM channels (--dm-smooth, two radii): a network of 5 inputs
# trained on 1 and 3 ranks alike to round-off and emulated on 1 and 2 ranks
# alike; the radii are part of what a resume must match; a radius out of
# range, a repeated one or a third are refused
SM=(--data toy --batch 2 --width 4 --steps 20 --val-every 1000 --dm-smooth 1.5,0.8)
train_1_and_3 sm --dm-smooth "${SM[@]}"
if h5diff -d 1e-4 sm1.h5 sm3.h5 /ema /ema > /dev/null && h5diff -p 1e-9 sm1.h5 sm3.h5 /interp/dm_smooth /interp/dm_smooth > /dev/null \
    && h5dump -a /extra_in sm1.h5 | grep -q '(0): 2' \
    && h5dump -d /interp/dm_smooth sm1.h5 | grep -Eq '\(0\): 1.5, [^,]+, [^,]+, 0.8, [^,]+, [^,]+$'; then
    echo "ok: --dm-smooth 1.5,0.8: 5 inputs (extra_in 2), EMA weights on 1 and 3 ranks within 1e-4," \
         "/interp/dm_smooth within 1e-9"
else
    echo "FAIL: --dm-smooth: the models of 1 and 3 ranks differ, or no extra input"; h5diff -d 1e-4 sm1.h5 sm3.h5 | tail -3; fail=1
fi
for np in 1 2; do
    timeout -k 5 120 mpirun -np $np "$HB" emulate --model sm1.h5 --dm toy_test.h5 --out smg$np.h5 --steps 5 > smg$np.log 2>&1 \
        || { echo "FAIL: emulation with a smoothed-DM model on $np ranks"; cat smg$np.log; fail=1; }
done
if h5diff -p 1e-4 smg1.h5 smg2.h5 /fields/gas_density /fields/gas_density > /dev/null; then
    echo "ok: --dm-smooth: emulated gas on 1 and 2 ranks within 1e-4 (relative)"
else
    echo "FAIL: --dm-smooth: emulations on 1 and 2 ranks differ"; h5diff -p 1e-4 smg1.h5 smg2.h5 /fields/gas_density | tail -3; fail=1
fi
loglike_ranks smll "$HB" --model sm1.h5 --dm toy_test.h5 --gas toy_test.h5 --probes 4 --steps 8
expect_fail 'differs from the checkpoint.s in the smoothed-DM channels \(radius:threshold 1.5:0, 1:0 against 1.5:0, 0.8:0\)' "" \
    mpirun -np 2 "$HB" train "${SM[@]}" --out sm1.h5 --resume --dm-smooth 1.5,1
expect_fail 'sm1.h5 holds a network with .* extra_in=2 emb_layers=2, expected .* extra_in=1 emb_layers=2' "" \
    mpirun -np 2 "$HB" train "${SM[@]}" --out sm1.h5 --resume --dm-smooth 1.5
for r in 9 1,1 1,0; do
    expect_fail "expected --dm-smooth 0 or distinct radii within \\(0, 8\\] cells, .*found --dm-smooth $r --dm-halo \\(none\\)" m.h5 \
        mpirun -np 2 "$HB" train --data toy --out m.h5 --dm-smooth $r
done
expect_fail 'option --dm-smooth: expected at most 3 comma-separated numbers, found "1,2,3,4"' m.h5 \
    mpirun -np 2 "$HB" train --data toy --out m.h5 --dm-smooth 1,2,3,4
expect_fail 'dm-halo T,R with 0 < T <= 1e4 .*found --dm-smooth \(none\) --dm-halo 3' m.h5 mpirun -np 2 "$HB" train --data toy --out m.h5 --dm-halo 3
cp sm1.h5 smooth_bad.h5 && "$BAD" smooth smooth_bad.h5
expect_fail 'smooth_bad.h5: /interp/dm_smooth holds 6 values \(20, 0, 1 ...\) with thresholds \(0, 0\), expected \(radius, mean, std\) for each of 1 to 3 channels: radii within \(0, 8\] cells' g.h5 \
    mpirun -np 2 "$HB" emulate --model smooth_bad.h5 --dm toy_test.h5 --out g.h5
# bad DM reaches neither the smoothing nor an output: an emulation with the
# channel and a training with it (one box holds a negative DM cell; found by
# the statistics pass, which reads each box on one rank in turn; 3 ranks)
for v in nan inf; do
    "$BAD" cell dm_$v.h5 dm_density $v
    expect_fail "dm_$v.h5: /fields/dm_density\\[3\\]\\[4\\]\\[5\\] = $v; expected a finite density" g.h5 \
        mpirun -np 2 "$HB" emulate --model sm1.h5 --dm dm_$v.h5 --out g.h5 --steps 3
done
# a halo channel (--dm-halo T,R: the DM above T times the mean smoothed by
# R cells) after a plain one: trained on 1 and 3 ranks alike, its threshold
# stored beside the radii (a model without one stores none), emulated,
# part of what a resume must match
HL=(--data toy --batch 2 --width 4 --steps 20 --val-every 1000 --dm-smooth 1.5 --dm-halo 1,0.8)
train_1_and_3 hl --dm-halo "${HL[@]}"
if h5diff -d 1e-4 hl1.h5 hl3.h5 /ema /ema > /dev/null && h5dump -a /extra_in hl1.h5 | grep -q '(0): 2' \
    && h5dump -d /interp/dm_smooth_threshold hl1.h5 | grep -Eq '\(0\): 0, 1$' \
    && ! h5dump -d /interp/dm_smooth_threshold sm1.h5 > /dev/null 2>&1 \
    && grep -q 'smoothed-DM channels 1.5 cells, 0.8 cells of the DM above 1' hl1.log; then
    echo "ok: --dm-halo 1,0.8: extra_in 2, thresholds (0, 1) stored, EMA weights on 1 and 3 ranks within 1e-4"
else
    echo "FAIL: --dm-halo: the models of 1 and 3 ranks differ, or the threshold is not stored"; fail=1
fi
emulate_ok hl1.h5 hlg.h5 "emulation with a halo-channel model"
expect_fail 'differs from the checkpoint.s in the smoothed-DM channels \(radius:threshold 1.5:0, 0.8:2 against 1.5:0, 0.8:1\)' "" \
    mpirun -np 2 "$HB" train "${HL[@]}" --out hl1.h5 --resume --dm-halo 2,0.8
cp hl1.h5 threshold_bad.h5 && "$BAD" threshold threshold_bad.h5
expect_fail 'threshold_bad.h5: /interp/dm_smooth holds 6 values .* with thresholds \(0, -1\), expected .* thresholds within \[0, 10000\]' g.h5 \
    mpirun -np 2 "$HB" emulate --model threshold_bad.h5 --dm toy_test.h5 --out g.h5
# --emb E: the width of the embedding of t and the parameters, stored as /emb; trained on 1 and 3 ranks alike,
# emulated; a resume with another width refused, and widths outside 1-1024
EM=(--data toy --batch 2 --width 4 --steps 20 --val-every 1000 --emb 8)
train_1_and_3 em "--emb 8" "${EM[@]}"
if h5diff -d 1e-4 em1.h5 em3.h5 /ema /ema > /dev/null && h5dump -a /emb em1.h5 | grep -q '(0): 8$' \
    && h5dump -a /emb full.h5 | grep -q '(0): 64$' && grep -q 'embedding 8 ' em1.log; then
    echo "ok: --emb 8 stored (the default 64), EMA weights on 1 and 3 ranks within 1e-4"
else
    echo "FAIL: --emb: not stored, or the models of 1 and 3 ranks differ"; fail=1
fi
emulate_ok em1.h5 emg.h5 "emulation with an --emb 8 model"
expect_fail 'em1.h5 holds a network with .*emb=8 .*expected .*emb=16' "" \
    mpirun -np 2 "$HB" train "${EM[@]}" --out em1.h5 --resume --emb 16
for e in 0 1025; do
    expect_fail "option --emb: expected an integer within 1-1024, found $e" em_bad.h5 mpirun -np 2 "$HB" train "${EM[@]}" --emb $e --out em_bad.h5
done
# --emb-layers L: a deeper embedding MLP, stored as /emb_layers (absent in
# older files: 2); trained on 1 and 3 ranks alike, emulated; a resume with
# another depth refused, depths outside 2-4 refused. With it --lr-min 0:
# the cosine ends at zero at the last step, recorded as /lr_min_frac.
EL=(--data toy --batch 2 --width 4 --steps 20 --val-every 1000 --emb 8 --emb-layers 3 --lr-min 0)
train_1_and_3 el "--emb-layers 3" "${EL[@]}"
if h5diff -d 1e-4 el1.h5 el3.h5 /ema /ema > /dev/null && h5dump -a /emb_layers el1.h5 | grep -q '(0): 3$' \
    && h5dump -a /emb_layers full.h5 | grep -q '(0): 2$' && h5dump -d /ema/emb.h2.w el1.h5 > /dev/null 2>&1 \
    && ! h5dump -d /ema/emb.h2.w em1.h5 > /dev/null 2>&1 && grep -q 'embedding 8 in 3 layers' el1.log \
    && h5dump -a /lr_min_frac el1.h5 | grep -q '(0): 0$' && grep -q '20/20 steps .* lr 0.00e+00' el1.log \
    && h5dump -a /lr_min_frac em1.h5 | grep -q '(0): 0.05$'; then
    echo "ok: --emb-layers 3 stored (the default 2) with its extra layer, EMA weights on 1 and 3 ranks within 1e-4;" \
         "--lr-min 0 stored (the default 0.05), the last step's learning rate 0"
else
    echo "FAIL: --emb-layers/--lr-min: not stored, or the models of 1 and 3 ranks differ"; fail=1
fi
emulate_ok el1.h5 elg.h5 "emulation with an --emb-layers 3 model"
expect_fail 'el1.h5 holds a network with .*emb_layers=3, expected .*emb_layers=2' "" \
    mpirun -np 2 "$HB" train "${EL[@]}" --out el1.h5 --resume --emb-layers 2
cp el1.h5 el_attr.h5 && "$BAD" setattr el_attr.h5 emb_layers 7
expect_fail 'el_attr.h5: emb = [0-9]*, emb_layers = 7, expected emb 1 to 1024 and emb_layers 2 to 4' g.h5 mpirun -np 2 "$HB" emulate --model el_attr.h5 --dm toy_test.h5 --out g.h5
for e in 1 5; do
    expect_fail "option --emb-layers: expected an integer within 2-4, found $e" el_bad.h5 mpirun -np 2 "$HB" train "${EL[@]}" --emb-layers $e --out el_bad.h5
done
expect_fail 'option --lr-min: expected a fraction of --lr within \[0, 1\], found 1.5' el_bad.h5 mpirun -np 2 "$HB" train "${EL[@]}" --lr-min 1.5 --out el_bad.h5
# an ensemble (--model twice): two trainings of the toy emulated together,
# recorded as such; a model with itself is the model alone, bit for bit; a
# member of another architecture, of another training set's standardisation,
# or a ninth member refused, nothing written
timeout -k 5 120 mpirun -np 2 "$HB" emulate --model full.h5 --model lw_0.3.h5 --dm toy_test.h5 --out ens.h5 \
    --steps 5 > ens.log 2>&1 || { echo "FAIL: emulation with an ensemble of two models"; cat ens.log; fail=1; }
timeout -k 5 120 mpirun -np 2 "$HB" emulate --model full.h5 --model full.h5 --dm toy_test.h5 --out ens_self.h5 \
    --steps 5 > ens_self.log 2>&1 || { echo "FAIL: emulation with a model twice"; cat ens_self.log; fail=1; }
if h5dump -a /ensemble_models ens.h5 | grep -q '(0): 2$' && h5dump -a /emulated_by ens.h5 | grep -q '"full.h5, lw_0.3.h5"' \
    && grep -q 'with the mean drift of full.h5, lw_0.3.h5' ens.log && h5dump -a /ensemble_models ok.h5 | grep -q '(0): 1$' \
    && h5diff ok.h5 ens_self.h5 /fields /fields > /dev/null && ! h5diff ok.h5 ens.h5 /fields /fields > /dev/null; then
    echo "ok: an ensemble of two models emulates and is recorded as one; a model with itself equals it alone"
else
    echo "FAIL: ensemble: not recorded, or a model with itself is not the model alone"; fail=1
fi
# the batch script's MODELS (run without Slurm: jobs/common.sh's defaults)
mkdir -p jw/heldout && cp toy_test.h5 jw/heldout/
if WORK=$PWD/jw HB_BIN="$HB" MODELS="$PWD/full.h5 $PWD/lw_0.3.h5" EMU_STEPS=3 SEEDS=1 bash "$2/jobs/emulate.sbatch" \
        > jw.log 2>&1 && h5dump -a /ensemble_models jw/emulated/toy_test_s1.h5 | grep -q '(0): 2$'; then
    echo "ok: jobs/emulate.sbatch with MODELS of two files emulates with the ensemble"
else
    echo "FAIL: jobs/emulate.sbatch with MODELS"; cat jw.log; fail=1
fi
expect_fail 'sm1.h5 holds a network with .*extra_in=2.*, expected .*extra_in=0' g.h5 \
    mpirun -np 2 "$HB" emulate --model full.h5 --model sm1.h5 --dm toy_test.h5 --out g.h5
timeout -k 5 120 mpirun -np 2 "$HB" train --data toy8 --batch 2 --width 4 --steps 3 --val-every 1000 --out t8.h5 \
    > t8.log 2>&1 || { echo "FAIL: training on toy8"; cat t8.log; fail=1; }
expect_fail "t8.h5 differs from full.h5 in the DM channel's standardisation .*trainings of one recipe" g.h5 \
    mpirun -np 2 "$HB" emulate --model full.h5 --model t8.h5 --dm toy_test.h5 --out g.h5
expect_fail 'at most 8 models in an ensemble' g.h5 mpirun -np 2 "$HB" emulate $(printf -- '--model full.h5 %.0s' {1..9}) \
    --dm toy_test.h5 --out g.h5
mkdir -p toy_neg && cp toy/*.h5 toy_neg/ && "$BAD" cell toy_neg/box02.h5 dm_density -1
expect_fail 'toy_neg/box02.h5: /fields/dm_density\[3\]\[4\]\[5\] = -1; expected a finite density' m.h5 \
    mpirun -np 3 "$HB" train --data toy_neg --batch 2 --width 4 --steps 20 --val-every 1000 --dm-smooth 1.5 --out m.h5
exit $fail
