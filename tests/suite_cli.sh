#!/usr/bin/env bash
# hydrobridge suite / paint-mock / import-cmd from the command line: a suite's
# files match its table rows; a Latin-hypercube suite writes its table; a suite
# killed mid-way and restarted ends with the same files as an uninterrupted
# one (h5diff), and one made on 3 ranks equals one made on 2; an existing
# file is skipped only when it is that row's box; bad tables fail clearly.
# Usage: suite_cli.sh HYDROBRIDGE SRCDIR
set -u
HB=$1
SRC=$2
fail=0
. "$SRC/tests/lib.sh"
SMALL=(simulation.n_particles=32 simulation.n_grid=32 simulation.n_steps=24 simulation.box_size=25)
head -4 "$SRC/data/camels/CosmoAstroSeed_IllustrisTNG_L25n256_LH.txt" > table.txt   # header + LH_0..LH_2

timeout -k 5 300 mpirun -np 2 "$HB" suite --table table.txt --out full "${SMALL[@]}" > full.log 2>&1 \
    || { echo "FAIL: suite"; cat full.log; exit 1; }
for row in 0 1 2; do
    read -r name om s8 sn1 agn1 sn2 agn2 seed < <(sed -n "$((row + 2))p" table.txt)
    f=full/$name.h5
    [ -f "$f" ] || { echo "FAIL: $f missing"; fail=1; continue; }
    for pair in "omega_m $om" "sigma_8 $s8" "a_sn1 $sn1" "a_agn1 $agn1" "a_sn2 $sn2" "a_agn2 $agn2" "seed $seed"; do
        set -- $pair
        got=$(h5dump -a /$1 "$f" | grep -Eo '\(0\): [-0-9.e+]+' | cut -d' ' -f2)
        awk -v a="$got" -v b="$2" 'BEGIN { exit !(a - b < 1e-9 && b - a < 1e-9) }' \
            || { echo "FAIL: $f /$1 = $got, table says $2"; fail=1; }
    done
    for d in dm_density gas_density gas_temperature; do
        h5dump -H -d /fields/$d "$f" | grep -q "( 32, 32, 32 )" || { echo "FAIL: $f /fields/$d"; fail=1; }
    done
done
diff <(tail -n +2 table.txt | awk '{print $1}') <(tail -n +2 full/params.txt | awk '{print $1}') > /dev/null \
    || { echo "FAIL: params.txt rows differ from the table"; fail=1; }
echo "ok: suite rows match the table"

# interrupted after the first box, while the second is being made, then restarted: the same files
timeout -k 5 300 mpirun -np 2 "$HB" suite --table table.txt --out part "${SMALL[@]}" > part.log 2>&1 &
pid=$!
wait_for_line part.log "part/LH_0.h5 in"
# SIGKILL to this run's ranks, as a node failure or a time limit would: nothing can catch it
signal_ranks KILL $pid; wait $pid
[ -f part/LH_0.h5 ] || { echo "FAIL: the first box never appeared"; fail=1; }
[ -f part/LH_2.h5 ] && { echo "FAIL: the run was not interrupted mid-way (all boxes done before the kill)"; fail=1; }
timeout -k 5 300 mpirun -np 2 "$HB" suite --table table.txt --out part "${SMALL[@]}" > part2.log 2>&1 \
    || { echo "FAIL: restart"; cat part2.log; fail=1; }
grep -q "part/LH_0.h5 exists (this row's box), skipped" part2.log || { echo "FAIL: the restart did not skip the complete box"; fail=1; }
grep -q "part/LH_2.h5 in" part2.log || { echo "FAIL: the restart did not make the missing boxes"; fail=1; }
for name in LH_0 LH_1 LH_2; do
    h5diff full/$name.h5 part/$name.h5 > /dev/null || { echo "FAIL: $name differs after the restart"; fail=1; }
done
ls part/*.tmp > /dev/null 2>&1 && { echo "FAIL: temporary files left"; fail=1; }
echo "ok: a suite killed mid-way and restarted equals the uninterrupted one"

# the same suite on 3 ranks: the same boxes to round-off
timeout -k 5 300 mpirun -np 3 "$HB" suite --table table.txt --out three "${SMALL[@]}" > three.log 2>&1 \
    || { echo "FAIL: suite on 3 ranks"; cat three.log; fail=1; }
for name in LH_0 LH_1 LH_2; do
    h5diff -p 1e-4 full/$name.h5 three/$name.h5 /fields /fields > /dev/null \
        || { echo "FAIL: $name on 3 ranks differs from 2 ranks by more than 1e-4 (relative)"; fail=1; }
done
echo "ok: a suite on 3 ranks equals the one on 2 (relative 1e-4)"

# an existing file is skipped only when it is that row's box
mkdir -p resume && echo x > resume/LH_0.h5
expect_fail 'resume/LH_0.h5 exists but is not a readable box file' "" \
    mpirun -np 2 "$HB" suite --table table.txt --out resume "${SMALL[@]}"
cp full/LH_1.h5 resume/LH_0.h5
expect_fail 'resume/LH_0.h5 exists but holds another box' "" mpirun -np 2 "$HB" suite --table table.txt --out resume "${SMALL[@]}"
cmp -s full/LH_1.h5 resume/LH_0.h5 || { echo "FAIL: a foreign file was overwritten"; fail=1; }
(head -2 table.txt; sed -n 2p table.txt) > dup.txt
expect_fail 'row name LH_0 appears twice' "" mpirun -np 1 "$HB" suite --table dup.txt --out dup "${SMALL[@]}"
(head -1 table.txt; sed -n 2p table.txt | sed 's/LH_0/..\/..\/escape/') > esc.txt
expect_fail 'is not a plain file name' "" mpirun -np 1 "$HB" suite --table esc.txt --out esc "${SMALL[@]}"
(head -1 table.txt; echo "LH_9 5.0 0.8 1 1 1 1 9") > range.txt
expect_fail 'omega_m = 5; expected a value in \[0.05, 1\]' "" mpirun -np 1 "$HB" suite --table range.txt --out range "${SMALL[@]}"
expect_fail 'suite .* does not use cosmology.sigma_8' "" mpirun -np 1 "$HB" suite --table table.txt --out x cosmology.sigma_8=0.9
[ -e ../escape.h5 ] || [ -e escape.h5 ] && { echo "FAIL: a row name escaped the output directory"; fail=1; }

timeout -k 5 300 mpirun -np 2 "$HB" suite --lh 3 --seed 11 --out lh --rows 1:2 simulation.n_particles=16 \
    simulation.n_steps=4 > lh.log 2>&1 \
    || { echo "FAIL: LH suite"; cat lh.log; fail=1; }
[ "$(grep -c '^LH_' lh/params.txt)" = 3 ] && [ -f lh/LH_1.h5 ] && [ ! -f lh/LH_0.h5 ] \
    || { echo "FAIL: --lh 3 --rows 1:2"; ls lh; fail=1; }

# paint-mock on a suite's DM field gives the same gas (same seed, same code)
timeout -k 5 120 mpirun -np 3 "$HB" paint-mock full/LH_1.h5 --out repaint.h5 > paint.log 2>&1 \
    || { echo "FAIL: paint-mock"; cat paint.log; fail=1; }
h5diff -d 1e-5 full/LH_1.h5 repaint.h5 /fields/gas_density > /dev/null || { echo "FAIL: paint-mock differs from the suite's gas"; fail=1; }

printf '#Name Omega0 sigma8\nX 0.3 0.8\n' > bad.txt
expect_fail 'expected the header' "" mpirun -np 2 "$HB" suite --table bad.txt --out bad
exit $fail
