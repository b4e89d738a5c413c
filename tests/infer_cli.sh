#!/usr/bin/env bash
# hydrobridge loglike / infer from the command line: the result line, the same
# log-likelihood on 1 and 2 ranks, a grid and a chain interrupted (SIGTERM to
# the ranks) and started again end with the same table as uninterrupted runs,
# an ensemble of two trainings (--model twice) is their mean drift,
# a progress file of another problem is refused, bad input fails clearly and
# writes nothing, and the plot script draws the result.
# Usage: infer_cli.sh HYDROBRIDGE SRCDIR (make_toy next to HYDROBRIDGE's tests)
set -u
HB=$1
TOY=$(dirname "$HB")/tests/make_toy
fail=0
. "$2/tests/lib.sh"
"$TOY" toy > /dev/null || { echo "FAIL: make_toy"; exit 1; }
timeout -k 5 300 mpirun -np 2 "$HB" train --data toy --batch 2 --width 4 --steps 30 --val-every 1000 --out model.h5 \
    > train.log 2>&1 || { echo "FAIL: train"; tail -5 train.log; exit 1; }
BOX=(--model model.h5 --dm toy_test.h5 --gas toy_test.h5)

# loglike on 1 and 2 ranks: the same number to round-off
loglike_ranks ll "$HB" "${BOX[@]}" --probes 4 --steps 8

# run_infer NAME ARGS...: uninterrupted (NAME_full) and interrupted after 3 rows, started again (NAME)
run_infer() {
    local name=$1; shift
    timeout -k 5 300 mpirun -np 2 "$HB" infer "${BOX[@]}" "$@" --out ${name}_full > ${name}_full.log 2>&1 \
        || { echo "FAIL: infer $name"; tail -5 ${name}_full.log; fail=1; return; }
    timeout -k 5 300 mpirun -np 2 "$HB" infer "${BOX[@]}" "$@" --out $name > $name.log 2>&1 &
    local pid=$!
    wait_for_line $name.partial '^2 ' 2400
    signal_ranks TERM $pid
    wait $pid
    [ -f $name.txt ] && { echo "FAIL: infer $name finished before it was stopped"; fail=1; return; }
    timeout -k 5 300 mpirun -np 2 "$HB" infer "${BOX[@]}" "$@" --out $name > $name.resume.log 2>&1 \
        || { echo "FAIL: infer $name resumed"; tail -5 $name.resume.log; fail=1; return; }
    local done
    done=$(grep -Eo '[0-9]+ of [0-9]+ points done already' $name.resume.log)
    [ -n "$done" ] || { echo "FAIL: infer $name: the restart did not reuse the finished points"; fail=1; }
    [ -f $name.partial ] && { echo "FAIL: infer $name left $name.partial"; fail=1; }
    if cmp -s ${name}_full.txt $name.txt && cmp -s ${name}_full_summary.txt ${name}_summary.txt; then
        echo "ok: infer $name stopped and started again ($done): table and summary equal to the uninterrupted run's"
    else
        echo "FAIL: infer $name: resumed table or summary differ"; diff ${name}_full.txt $name.txt | head -5; fail=1
    fi
}
run_infer grid --vary omega_m,a_agn2 --grid 3 --probes 2 --steps 12
run_infer chain --vary a_agn2 --mcmc 12 --probes 2 --steps 12
rows=$(grep -vc '^#' grid.txt)
[ "$rows" = 9 ] || { echo "FAIL: a 3 x 3 grid has $rows rows"; fail=1; }
grep -q '^omega_m 0.35 ' grid_summary.txt && grep -q '^a_agn2 1.41 ' grid_summary.txt \
    || { echo "FAIL: the summary does not carry the gas box's parameters"; cat grid_summary.txt; fail=1; }

# an ensemble (a second training with another seed): the mean drift, named in
# the log and in the progress header; a model with itself is the model alone
timeout -k 5 300 mpirun -np 2 "$HB" train --data toy --batch 2 --width 4 --steps 30 --val-every 1000 --seed 2 \
    --out model2.h5 > train2.log 2>&1 || { echo "FAIL: train seed 2"; tail -5 train2.log; fail=1; }
ENS=(--model model.h5 --model model2.h5 --dm toy_test.h5 --gas toy_test.h5)
loglike_ranks lle "$HB" "${ENS[@]}" --probes 4 --steps 8
timeout -k 5 300 mpirun -np 2 "$HB" loglike --model model.h5 --model model.h5 --dm toy_test.h5 --gas toy_test.h5 \
    --probes 4 --steps 8 > llself.log 2>&1 || { echo "FAIL: loglike with a model twice"; tail -5 llself.log; fail=1; }
timeout -k 5 300 mpirun -np 2 "$HB" loglike --model model2.h5 --dm toy_test.h5 --gas toy_test.h5 \
    --probes 4 --steps 8 > ll2only.log 2>&1 || { echo "FAIL: loglike model2"; tail -5 ll2only.log; fail=1; }
lp() { grep -Eo 'result: logp=[-0-9.e+]+' "$1" | cut -d= -f2; }
if grep -q 'the mean drift of model.h5, model2.h5' lle2.log && [ -n "$(lp ll2.log)" ] \
        && [ "$(lp llself.log)" = "$(lp ll2.log)" ] && [ "$(lp lle2.log)" != "$(lp ll2.log)" ] \
        && [ "$(lp lle2.log)" != "$(lp ll2only.log)" ]; then
    echo "ok: loglike ensemble: $(lp lle2.log) (alone $(lp ll2.log) and $(lp ll2only.log); a model with itself" \
         "$(lp llself.log))"
else
    echo "FAIL: loglike ensemble: $(lp lle2.log), alone $(lp ll2.log) / $(lp ll2only.log), with itself $(lp llself.log)"
    fail=1
fi
if timeout -k 5 300 mpirun -np 2 "$HB" infer "${ENS[@]}" --vary a_agn2 --grid 2 --probes 2 --steps 4 --out ens \
        > ens.log 2>&1 && head -1 ens.txt | grep -q 'model=model.h5, model2.h5 '; then
    echo "ok: infer with an ensemble: its header names both models"
else
    echo "FAIL: infer with an ensemble"; tail -3 ens.log; head -1 ens.txt; fail=1
fi
expect_fail 'at most 8 models in an ensemble' "" mpirun -np 1 "$HB" loglike \
    $(for i in 1 2 3 4 5 6 7 8 9; do printf -- '--model model.h5 '; done) --dm toy_test.h5 --gas toy_test.h5
cp model.h5 model_sc.h5 && "$(dirname "$HB")/tests/make_bad" setattr model_sc.h5 sigma_c 0.7
expect_fail 'model_sc.h5 differs from model.h5 in the interpolant \(sigma_c 0.7' "" mpirun -np 1 "$HB" loglike \
    --model model.h5 --model model_sc.h5 --dm toy_test.h5 --gas toy_test.h5

# a progress file of another problem is refused
printf '# hydrobridge infer: something else\n0 1 2 3 4\n' > other.partial
expect_fail 'other.partial is the progress of another problem' other.txt \
    mpirun -np 1 "$HB" infer "${BOX[@]}" --vary a_agn2 --grid 3 --out other

# bad input
expect_fail 'probes 1: expected 2..10000' "" mpirun -np 1 "$HB" loglike "${BOX[@]}" --probes 1
expect_fail 'toy_dm18.h5.*gas_density' "" mpirun -np 1 "$HB" loglike --model model.h5 --dm toy_test.h5 --gas toy_dm18.h5
expect_fail 'a_agn2 = 3 is outside the range the model was trained on' "" \
    mpirun -np 1 "$HB" loglike "${BOX[@]}" feedback.a_agn2=3
expect_fail 'unknown parameter "a_foo"' bad.txt mpirun -np 1 "$HB" infer "${BOX[@]}" --vary a_foo --out bad
expect_fail 'a_sn1: the model was trained at one value of it' bad.txt \
    mpirun -np 1 "$HB" infer "${BOX[@]}" --vary a_sn1 --out bad
expect_fail 'grid and --mcmc: choose one' bad.txt mpirun -np 1 "$HB" infer "${BOX[@]}" --vary a_agn2 --grid 3 --mcmc 20 --out bad
[ -e bad.partial ] && { echo "FAIL: a refused infer left bad.partial"; fail=1; }

# the batch script, run directly (SLURM_NTASKS unset: 2 ranks)
mkdir -p wk/heldout && cp toy_test.h5 wk/heldout/ && cp model.h5 wk/
if WORK=$PWD/wk HB_BIN=$HB VARY=a_agn2 GRID=3 PROBES=2 STEPS=4 timeout -k 5 300 bash "$2/jobs/infer.sbatch" \
        > job.log 2>&1 && [ -s wk/posterior/toy_test_summary.txt ]; then
    echo "ok: jobs/infer.sbatch wrote wk/posterior/toy_test.txt and its summary"
else
    echo "FAIL: jobs/infer.sbatch"; tail -5 job.log; fail=1
fi
mkdir -p wke/heldout && cp toy_test.h5 wke/heldout/
if MODELS="$PWD/model.h5 $PWD/model2.h5" WORK=$PWD/wke HB_BIN=$HB VARY=a_agn2 GRID=2 PROBES=2 STEPS=4 \
        timeout -k 5 300 bash "$2/jobs/infer.sbatch" > jobe.log 2>&1 \
        && head -1 wke/posterior/toy_test.txt | grep -q "model=$PWD/model.h5, $PWD/model2.h5 "; then
    echo "ok: jobs/infer.sbatch with MODELS (an ensemble)"
else
    echo "FAIL: jobs/infer.sbatch with MODELS"; tail -5 jobe.log; fail=1
fi

if /usr/bin/python3 -c "import matplotlib, h5py" 2> /dev/null; then
    /usr/bin/python3 "$2/scripts/plot_posterior.py" grid > /dev/null && [ -s grid.png ] \
        && /usr/bin/python3 "$2/scripts/plot_posterior.py" chain > /dev/null && [ -s chain.png ] \
        && echo "ok: plot_posterior.py drew the grid and the chain" || { echo "FAIL: plot_posterior.py"; fail=1; }
else
    echo "skipped: plot_posterior.py (no matplotlib)"
fi
exit $fail
