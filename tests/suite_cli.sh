#!/usr/bin/env bash
# hydrobridge suite / paint-mock / import-cmd from the command line: a suite's
# files match its table rows; a Latin-hypercube suite writes its table; a suite
# killed mid-way and restarted ends with the same files as an uninterrupted
# one (h5diff); bad tables fail clearly. Usage: suite_cli.sh HYDROBRIDGE SRCDIR
set -u
HB=$1
SRC=$2
fail=0
rm -rf full part lh ./*.txt ./*.h5
SMALL=(simulation.n_particles=16 simulation.n_steps=4 simulation.box_size=25)
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
        h5dump -H -d /fields/$d "$f" | grep -q "( 16, 16, 16 )" || { echo "FAIL: $f /fields/$d"; fail=1; }
    done
done
diff <(tail -n +2 table.txt | awk '{print $1}') <(tail -n +2 full/params.txt | awk '{print $1}') > /dev/null \
    || { echo "FAIL: params.txt rows differ from the table"; fail=1; }
echo "ok: suite rows match the table"

# interrupted after the first box, then restarted: the same files
timeout -k 5 300 mpirun -np 2 "$HB" suite --table table.txt --out part "${SMALL[@]}" > part.log 2>&1 &
pid=$!
for i in $(seq 1 600); do [ -f part/LH_0.h5 ] && break; sleep 0.05; done
# SIGKILL to the ranks, as a node failure or a time limit would: nothing can catch it
pkill -KILL -x hydrobridge; wait $pid
[ -f part/LH_0.h5 ] || { echo "FAIL: the first box never appeared"; fail=1; }
timeout -k 5 300 mpirun -np 2 "$HB" suite --table table.txt --out part "${SMALL[@]}" > part2.log 2>&1 \
    || { echo "FAIL: restart"; cat part2.log; fail=1; }
grep -q "exists, skipped" part2.log || { echo "FAIL: the restart did not skip the complete box"; fail=1; }
for name in LH_0 LH_1 LH_2; do
    h5diff full/$name.h5 part/$name.h5 > /dev/null || { echo "FAIL: $name differs after the restart"; fail=1; }
done
ls part/*.tmp > /dev/null 2>&1 && { echo "FAIL: temporary files left"; fail=1; }
echo "ok: an interrupted suite restarted equals the uninterrupted one"

timeout -k 5 300 mpirun -np 2 "$HB" suite --lh 3 --seed 11 --out lh --rows 1:2 "${SMALL[@]}" > lh.log 2>&1 \
    || { echo "FAIL: LH suite"; cat lh.log; fail=1; }
[ "$(grep -c '^LH_' lh/params.txt)" = 3 ] && [ -f lh/LH_1.h5 ] && [ ! -f lh/LH_0.h5 ] \
    || { echo "FAIL: --lh 3 --rows 1:2"; ls lh; fail=1; }

# paint-mock on a suite's DM field gives the same gas (same seed, same code)
timeout -k 5 120 mpirun -np 3 "$HB" paint-mock full/LH_1.h5 --out repaint.h5 > paint.log 2>&1 \
    || { echo "FAIL: paint-mock"; cat paint.log; fail=1; }
h5diff -d 1e-5 full/LH_1.h5 repaint.h5 /fields/gas_density > /dev/null || { echo "FAIL: paint-mock differs from the suite's gas"; fail=1; }

printf '#Name Omega0 sigma8\nX 0.3 0.8\n' > bad.txt
timeout -k 5 60 mpirun -np 2 "$HB" suite --table bad.txt --out bad > bad.log 2>&1 && { echo "FAIL: bad table accepted"; fail=1; }
grep -q "expected the header" bad.log || { echo "FAIL: bad table message"; cat bad.log; fail=1; }
exit $fail
