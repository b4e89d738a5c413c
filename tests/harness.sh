#!/usr/bin/env bash
# The Check harness on several ranks (tests/hbtest.h, tests/test_harness.c):
# an assertion every rank fails is a failure and the suite goes on; one that
# rank 0 alone fails while the others wait in a collective ends the run
# within HB_TEST_FAIL_WAIT seconds, naming the rank and the assertion,
# instead of waiting for ctest's timeout. Usage: harness.sh HYDROBRIDGE SRCDIR
set -u
H=$(dirname "$1")/tests/test_harness
fail=0
for np in 2 3; do
    timeout -k 5 120 mpirun -np $np "$H" > out$np.txt 2> err$np.txt
    rc=$?
    if [ $rc = 1 ] && grep -q "50%: Checks: 2, Failures: 1, Errors: 0" out$np.txt \
        && [ "$(grep -c 'test_harness.c:[0-9]*: Assertion .one < 0. failed: every rank fails this' err$np.txt)" = $np ]; then
        echo "ok: $np ranks: an assertion every rank fails is one failure of two, printed by each rank"
    else
        echo "FAIL: $np ranks, every rank failing: exit $rc"; cat out$np.txt err$np.txt; fail=1
    fi
    t0=$(date +%s)
    HB_HARNESS_STUCK=1 HB_TEST_FAIL_WAIT=3 timeout -k 5 120 mpirun -np $np "$H" > stuck$np.txt 2>&1
    rc=$?
    dt=$(( $(date +%s) - t0 ))
    if [ $rc != 0 ] && [ $rc != 124 ] && [ $dt -lt 60 ] \
        && grep -q "rank 0: .*test_harness.c:[0-9]*: Assertion 'v == 1' failed: rank 0 alone fails this" stuck$np.txt \
        && grep -q "rank 0: the other ranks did not fail within 3 s" stuck$np.txt; then
        echo "ok: $np ranks: rank 0 failing alone ends the run in $dt s (exit $rc), naming the rank and the assertion"
    else
        echo "FAIL: $np ranks, rank 0 failing alone: exit $rc after $dt s"; cat stuck$np.txt; fail=1
    fi
done
exit $fail
