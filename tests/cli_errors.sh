#!/usr/bin/env bash
# Bad input to the command line: a clear message naming the problem, a
# non-zero exit, and no output file. Usage: cli_errors.sh HYDROBRIDGE SRCDIR
set -u
HB=$1
fail=0
run() {   # run EXPECTED_REGEX OUTFILE CMD...: expects failure, message, no OUTFILE
    local want=$1 out=$2; shift 2
    rm -f "$out" "$out.tmp"
    timeout -k 5 120 "$@" >stdout.txt 2>stderr.txt
    local rc=$?
    if [ $rc -eq 0 ]; then echo "FAIL (exit 0): $*"; fail=1; return; fi
    if ! grep -Eq "$want" stderr.txt; then
        echo "FAIL (message): $* -- wanted /$want/, got:"; cat stderr.txt; fail=1; return
    fi
    if [ -n "$out" ] && { [ -e "$out" ] || [ -e "$out.tmp" ]; }; then
        echo "FAIL (output left behind): $*"; fail=1; return
    fi
    echo "ok: $* -> $(grep -Eo "$want" stderr.txt | head -1)"
}
printf '[cosmology]\nomega_m = 0.3\nsigma_8 = 0.8\n' > good.ini
printf '[cosmology]\nomega_m = 0.3\nsigma_8 = 0.8\nomega_nu = 0.1\n' > unknown.ini
printf '[cosmology]\nomega_m = 3\nsigma_8 = 0.8\n' > range.ini
printf '[cosmology]\nomega_m = 0.3\n' > nosigma.ini

run 'unknown.ini:4: unknown parameter "omega_nu"' plin.txt mpirun -np 2 "$HB" linear unknown.ini --out plin.txt
run 'cosmology.omega_m: 3 is outside the allowed range' plin.txt mpirun -np 2 "$HB" linear range.ini --out plin.txt
run 'missing required parameter cosmology.sigma_8' plin.txt mpirun -np 2 "$HB" linear nosigma.ini --out plin.txt
run 'cannot open parameter file missing.ini' plin.txt mpirun -np 2 "$HB" linear missing.ini --out plin.txt
run 'unknown parameter "cosmology.sigma8"' plin.txt mpirun -np 2 "$HB" linear good.ini cosmology.sigma8=0.8 --out plin.txt
run 'unknown command' "" "$HB" frobnicate
run 'cannot read nothing.h5' pk.txt mpirun -np 2 "$HB" pk nothing.h5 --field dm_density --out pk.txt
echo "junk" > junk.h5
run 'cannot open junk.h5 as HDF5' pk.txt mpirun -np 2 "$HB" pk junk.h5 --field dm_density --out pk.txt
run 'option --seeds: expected 1-64 sampler seeds, found 65' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --seeds 65
run 'option --best-of: expected 1-16 candidates, found 0' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --best-of 0
run 'option --loss-weight: expected slopes within \[-5, 5\], found -40' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --loss-weight 0.5,-40
run 'dm-smooth 0 or distinct radii within \(0, 8\] cells.*found --dm-smooth 8.5 --dm-halo 3,1.5' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --dm-smooth 8.5
run 'dm-smooth 0 or distinct radii within \(0, 8\] cells.*found --dm-smooth 2,2 --dm-halo 3,1.5' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --dm-smooth 2,2
run 'up to 3 smoothed channels in all, found --dm-smooth 1,2,4 --dm-halo 3,1.5' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --dm-smooth 1,2,4 --dm-halo 3,1.5
run 'dm-halo T,R with 0 < T <= 1e4.*found --dm-smooth 1 --dm-halo 0,1.5' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --dm-halo 0,1.5
run 'option --dm-halo: expected at most 2 comma-separated numbers' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --dm-halo 3,1,2
run 'option --weight-decay: expected a value within \[0, 1\], found -0.1' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --weight-decay -0.1
run 'option --lr: expected a value > 0, found 0' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --lr 0
run 'option --train-steps: expected a positive integer, found 0' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --train-steps 0
run 'option --sigma-c: expected a value > 0, found 0' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --sigma-c 0
run 'option --noise-theta: expected values within \[-2, 2\], found 2.5 for gas temperature on a_agn2' demo_bad \
    mpirun -np 2 "$HB" demo --out demo_bad --noise-theta a_agn2:0.3,2.5
run 'option --batch: expected an integer within \[-2147483648, 2147483647\], found "4294967297"' demo_bad \
    mpirun -np 2 "$HB" demo --out demo_bad --batch 4294967297
run 'option --grid: expected a multiple of 4, at least 8, found 30' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --grid 30
run 'demo: unexpected argument "extra"' demo_bad mpirun -np 2 "$HB" demo --out demo_bad extra
run 'option --recipe: expected demo or none, found "demo2"' m.h5 mpirun -np 2 "$HB" train --data . --out m.h5 --recipe demo2
# --threads: one check for train, emulate and bench-net
run 'option --threads: expected a positive integer, found 0' '' mpirun -np 1 "$HB" bench-net --threads 0 --steps 1
run 'option --threads: expected a positive integer, found -2' m.h5 mpirun -np 2 "$HB" train --data . --out m.h5 --threads -2
# emulate's options are not train's: refused by name (they used to print the usage and exit 1 silently)
run "train: unrecognized option '--best-of'" m.h5 mpirun -np 2 "$HB" train --data . --out m.h5 --best-of 3
run 'no row "LH_xx" in' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --held LH_67,LH_xx
run 'LH_64 has a_sn1 = 3.9834, outside the range \[0.27282, 3.86375\] of the 64 training rows' demo_bad \
    mpirun -np 2 "$HB" demo --out demo_bad --held LH_64
run 'row LH_68 named twice' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --held LH_68,LH_67,LH_68
run 'at most 8 rows' demo_bad mpirun -np 2 "$HB" demo --out demo_bad --held LH_67,LH_68,LH_69,LH_70,LH_71,LH_72,LH_74,LH_78,LH_133
run 'has 1000 rows; the demo needs 1001' demo_big mpirun -np 2 "$HB" demo --out demo_big --boxes 999 \
    --table "$2/data/camels/CosmoAstroSeed_IllustrisTNG_L25n256_LH.txt"

# a good run writes its output
timeout 60 mpirun -np 2 "$HB" linear good.ini --z 1 --out plin.txt >/dev/null 2>&1 && [ -s plin.txt ] \
    || { echo "FAIL: linear did not write plin.txt"; fail=1; }
grep -q "^# cosmology.omega_m = 0.3" plin.txt || { echo "FAIL: parameters missing from plin.txt header"; fail=1; }
exit $fail
