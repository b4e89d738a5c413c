#!/usr/bin/env bash
# The shipped mock constants (issue 6): the total-matter suppression follows
# the syren-baryon TNG fit within 5% at k = 1-10 h/Mpc for A_AGN2 = 1, 0.5
# and 2 on the realisation they were fitted on (seed 42, 128^3 in 25 Mpc/h,
# z = 0; scripts/calibrate_mock.sh). Other realisations (seeds 7, 11) show the
# box-to-box scatter of a 25 Mpc/h box: within 8% (6.1% measured for seed 7;
# the fit's own typical error is 3-5%; README "The mock hydro model").
set -u
HB=$1
SRC=$2
for seed in 42 7 11; do
    timeout -k 5 300 mpirun -np 2 "$HB" simulate "$SRC/scripts/calibration_box.ini" simulation.seed=$seed \
        "output.file=fid${seed}_z{z}.h5" > sim$seed.log 2>&1 || { echo "FAIL: simulate seed $seed"; cat sim$seed.log; exit 1; }
done
worst() { grep -o "largest |S_mock / S_TNG - 1| at k = 1-10 h/Mpc: [0-9.]*" "$1" | awk '{print $NF}'; }
# below LIMIT: a number must be there (a missing or garbled figure fails)
below() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v w="$1" -v l="$2" 'BEGIN { exit !(w < l) }'; }
fail=0
timeout -k 5 300 mpirun -np 2 "$HB" calibrate-mock fid42_z0.00.h5 --iterations 0 > cal.log 2>&1 || { echo "FAIL: calibrate-mock"; cat cal.log; exit 1; }
w=$(worst cal.log)
below "$w" 0.05 && echo "ok: the calibration realisation: largest deviation $w" \
    || { echo "FAIL: largest deviation $w >= 0.05 on the calibration realisation"; grep -A 26 "k\[h/Mpc\]" cal.log; fail=1; }
timeout -k 5 300 mpirun -np 2 "$HB" calibrate-mock fid7_z0.00.h5 fid11_z0.00.h5 --iterations 0 > cal2.log 2>&1 || { echo "FAIL: calibrate-mock"; exit 1; }
w=$(worst cal2.log)
below "$w" 0.08 && echo "ok: two other realisations: largest deviation $w" \
    || { echo "FAIL: largest deviation $w >= 0.08 on other realisations"; grep -A 26 "k\[h/Mpc\]" cal2.log; fail=1; }
exit $fail
