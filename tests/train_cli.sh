#!/usr/bin/env bash
# hydrobridge train / emulate from the command line: a run stopped by SIGTERM
# or SIGUSR1 (sent to the ranks, as SLURM does; also when the parent blocked them) and resumed
# ends bitwise equal to an uninterrupted run; bad input fails clearly and
# writes nothing. Usage: train_cli.sh HYDROBRIDGE SRCDIR (make_toy next to HYDROBRIDGE's tests)
set -u
HB=$1
TOY=$(dirname "$HB")/tests/make_toy
fail=0
rm -rf toy ./*.h5 ./*.log
"$TOY" toy || { echo "FAIL: make_toy"; exit 1; }
COMMON=(--data toy --batch 2 --width 4 --steps 150 --checkpoint-every 50 --val-every 1000)

timeout -k 5 300 mpirun -np 2 "$HB" train "${COMMON[@]}" --out full.h5 > full.log 2>&1 || { echo "FAIL: uninterrupted run"; cat full.log; fail=1; }

interrupt() {   # interrupt NAME HOW: start, signal after step 50, resume, compare
    local name=$1 how=$2
    timeout -k 5 300 mpirun -np 2 "$HB" train "${COMMON[@]}" --out $name.h5 > $name.log 2>&1 &
    local pid=$!
    # signal once the first checkpoint is on disk: the run is then inside its step loop
    for _ in $(seq 1 600); do grep -q "checkpoint: step 50 " $name.log 2> /dev/null && break; sleep 0.05; done
    # to the ranks themselves, as Slurm's --signal does for job steps. (mpirun's own
    # forwarding, which jobs/train.sbatch uses, is exercised by slurm_pipeline: a
    # harness that blocks these signals in its children would stop it here.)
    pkill -$how -x hydrobridge
    wait $pid
    local rc=$?
    if ! grep -q "stop requested" $name.log; then echo "FAIL: $how: no stop message (rc $rc)"; tail -5 $name.log; fail=1; return; fi
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

expect_fail() {   # expect_fail REGEX OUT CMD...
    local want=$1 out=$2; shift 2
    rm -f "$out" "$out.tmp"
    timeout -k 5 120 "$@" > stdout.txt 2> stderr.txt
    local rc=$?
    if [ $rc -eq 0 ]; then echo "FAIL (exit 0): $*"; fail=1; return; fi
    grep -Eq "$want" stderr.txt || { echo "FAIL (message): $* -- wanted /$want/:"; cat stderr.txt; fail=1; return; }
    if [ -e "$out" ] || [ -e "$out.tmp" ]; then echo "FAIL (output left): $*"; fail=1; return; fi
    echo "ok: $(grep -Eo "$want" stderr.txt | head -1)"
}
expect_fail 'a 18\^3 box cannot be cut into slabs of multiples of 4 planes' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_dm18.h5 --out g.h5
expect_fail 'dataset /fields/dm_density not found' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm full.h5 --out g.h5
expect_fail 'is not a hydrobridge model file' g.h5 mpirun -np 2 "$HB" emulate --model toy_test.h5 --dm toy_test.h5 --out g.h5
expect_fail 'a_agn2 = 3 is outside the range the model was trained on' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_test.h5 --out g.h5 feedback.a_agn2=3
expect_fail 'need at least one sampler step' g.h5 mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_test.h5 --out g.h5 --steps 0
mkdir -p empty
expect_fail 'no box files' m.h5 mpirun -np 2 "$HB" train --data empty --out m.h5
echo toy_dm18.h5 > dm_only.list
expect_fail 'dataset /fields/gas_density not found' m.h5 mpirun -np 2 "$HB" train --data dm_only.list --out m.h5
timeout -k 5 120 mpirun -np 2 "$HB" emulate --model full.h5 --dm toy_test.h5 --out ok.h5 --steps 5 > emu.log 2>&1 \
    && [ -s ok.h5 ] || { echo "FAIL: a good emulation"; cat emu.log; fail=1; }
exit $fail
