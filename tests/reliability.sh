#!/usr/bin/env bash
# Bad data never passes silently and no output destroys an input (issue 11):
# each case below is a regression test with the bad input made here; each
# must exit non-zero with a message naming the file / key / dataset and the
# problem, and leave no output. Usage: reliability.sh HYDROBRIDGE SRCDIR
set -u
HB=$1
SRC=$2
BAD=$(dirname "$HB")/tests/make_bad
TOY=$(dirname "$HB")/tests/make_toy
fail=0
. "$SRC/tests/lib.sh"
R1=(mpirun -np 1 "$HB")
R2=(mpirun -np 2 "$HB")

"$TOY" toy > /dev/null || { echo "FAIL: make_toy"; exit 1; }
timeout -k 5 300 mpirun -np 2 "$HB" train --data toy --batch 2 --width 4 --steps 20 --val-every 1000 --out model.h5 \
    > train.log 2>&1 || { echo "FAIL: training the small model"; cat train.log; exit 1; }

# ---- non-finite or impossible values in boxes --------------------------------
"$BAD" cell inf_dm.h5 dm_density inf
expect_fail 'inf_dm.h5: /fields/dm_density\[3\]\[4\]\[5\] = inf; expected a finite density' g.h5 \
    "${R2[@]}" emulate --model model.h5 --dm inf_dm.h5 --out g.h5
for v in nan inf -1 zero; do
    "$BAD" cell dm_$v.h5 dm_density $v
    want="dm_$v.h5: /fields/dm_density\\[3\\]\\[4\\]\\[5\\] = $v"
    [ $v = zero ] && want="dm_zero.h5: /fields/dm_density is zero everywhere"
    expect_fail "$want" p.h5 "${R2[@]}" paint-mock dm_$v.h5 --out p.h5
done
"$BAD" attr om_nan.h5 omega_m nan
expect_fail 'om_nan.h5: omega_m = nan; expected a value in' p.h5 "${R2[@]}" paint-mock om_nan.h5 --out p.h5
"$BAD" attr om_big.h5 omega_m 5
expect_fail 'om_big.h5: omega_m = 5; expected a value in \[0.05, 1\]' p.h5 "${R2[@]}" paint-mock om_big.h5 --out p.h5
"$BAD" cell gas_inf.h5 gas_density inf
expect_fail 'gas_inf.h5: /fields/gas_density\[3\]\[4\]\[5\] = inf; expected a finite value' pk.txt \
    "${R2[@]}" pk gas_inf.h5 --field gas_density --out pk.txt
"$BAD" shape shape.h5
expect_fail 'shape.h5: /fields/dm_density has shape \(16, 160\) \(2 dimensions\)' pk.txt \
    "${R1[@]}" pk shape.h5 --field dm_density --out pk.txt

# ---- parameters read from files get the INI ranges ---------------------------
"$BAD" npy mcdm.npy 1; "$BAD" npy mgas.npy 2; "$BAD" npy temp.npy 3
printf '0.3 0.8 1 1 1 1\n0.25 0.7 2 0.5 1.5 0.8\n' > params_ok.txt
timeout -k 5 60 mpirun -np 2 "$HB" import-cmd --mcdm mcdm.npy --mgas mgas.npy --temp temp.npy --index 1 \
    --params params_ok.txt --out cmd.h5 > cmd.log 2>&1 || { echo "FAIL: import-cmd"; cat cmd.log; fail=1; }
got=$(h5dump -a /a_sn1 cmd.h5 2> /dev/null | grep -Eo '\(0\): [0-9.]+' | cut -d' ' -f2)
[ "$got" = 2 ] && echo "ok: import-cmd --index 1 --params: A_SN1 = 2 from row 1" || { echo "FAIL: import-cmd A_SN1 = '$got'"; fail=1; }
for row in '5 0.8 1 1 1 1' '0.3 -1 1 1 1 1' '0.3 0.8 1000 1 1 1'; do
    printf '0.3 0.8 1 1 1 1\n%s\n' "$row" > params_bad.txt
    expect_fail 'params_bad.txt row 1: [a-z_0-9]+ = [-0-9]+; expected a value in' c.h5 \
        "${R2[@]}" import-cmd --mcdm mcdm.npy --mgas mgas.npy --temp temp.npy --index 1 --params params_bad.txt --out c.h5
done

# ---- outputs never overwrite inputs, nor each other; paths checked first ------
cp toy_test.h5 box.h5 && cp box.h5 box_before.h5
expect_fail 'output box.h5 is the input box.h5' "" "${R1[@]}" pk box.h5 --field gas_density --out box.h5
ln -sf box.h5 link.h5
expect_fail 'output link.h5 is the input box.h5' "" "${R1[@]}" pk box.h5 --field gas_density --out link.h5
cmp -s box.h5 box_before.h5 || { echo "FAIL: pk --out INPUT changed the input"; fail=1; }
printf '[cosmology]\nomega_m = 0.3\nsigma_8 = 0.8\n' > run.ini && cp run.ini run_before.ini
expect_fail 'output run.ini is the input run.ini' "" "${R1[@]}" linear run.ini --out run.ini
cmp -s run.ini run_before.ini || { echo "FAIL: linear --out INI changed it"; fail=1; }
printf '[cosmology]\nomega_m = 0.3\nsigma_8 = 0.8\n[simulation]\nn_particles = 16\nz_out = 0.001, 0\n[output]\nfile = dm_z{z}.h5\n' > zz.ini
expect_fail 'outputs dm_z0.00.h5 and dm_z0.00.h5 are the same file' dm_z0.00.h5 "${R1[@]}" simulate zz.ini
long=$(printf 'a%.0s' $(seq 1 243))
start=$(date +%s)
expect_fail "the file name has 246 characters; at most 200" "$long.h5" "${R2[@]}" paint-mock box.h5 --out "$long.h5"
[ $(( $(date +%s) - start )) -lt 20 ] || { echo "FAIL: the long name was refused only after the work"; fail=1; }
expect_fail 'directory nodir does not exist' "" "${R1[@]}" pk box.h5 --field gas_density --out nodir/pk.txt

# ---- parameters: duplicates and overrides a command ignores -------------------
printf '[cosmology]\nomega_m = 0.3\nsigma_8 = 0.8\nomega_m = 0.25\n' > dup.ini
expect_fail 'dup.ini:4: cosmology.omega_m is set twice \(also on line 2\)' plin.txt "${R1[@]}" linear dup.ini --out plin.txt
expect_fail 'emulate does not use mock.seed' g.h5 "${R2[@]}" emulate --model model.h5 --dm toy_test.h5 --out g.h5 mock.seed=3
expect_fail 'paint-mock does not use simulation.n_grid' p.h5 "${R2[@]}" paint-mock box.h5 --out p.h5 simulation.n_grid=32
expect_fail 'linear does not use mock.f0' plin.txt "${R1[@]}" linear run.ini --out plin.txt mock.f0=0.5
expect_fail 'mock.seed is given twice' p.h5 "${R2[@]}" paint-mock box.h5 --out p.h5 mock.seed=1 mock.seed=2

# ---- validate's gates ----------------------------------------------------------
"$BAD" flat flat.h5
expect_fail 'exceeds --fail-above 0.5 \(or is NaN\)' "" "${R2[@]}" validate --truth flat.h5 --emulated toy_test.h5 \
    --out nan_report --fail-above 0.5
expect_fail '--fail-above -1: expected a threshold >= 0' nr.txt "${R2[@]}" validate --truth box.h5 --emulated box.h5 \
    --out nr --fail-above -1
timeout -k 5 60 mpirun -np 2 "$HB" validate --truth box.h5 --emulated box.h5 --out same --fail-above 1e-6 > same.log 2>&1 \
    && echo "ok: validate --fail-above passes identical boxes" || { echo "FAIL: identical boxes fail the gate"; cat same.log; fail=1; }
expect_fail 'exceeds --fail-above 0.01' "" "${R2[@]}" validate --truth box.h5 --emulated toy/box00.h5 --out diff --fail-above 0.01
grep -q '^gas_density ' diff.txt || { echo "FAIL: the failing validation wrote no report"; fail=1; }
# four equal samples have no scatter: the spread checks miss, and --fail-spread says so; without
# the flag the same exits 0, and with one sample nothing is measured (no failure)
expect_fail '4 spread checks not met' "" "${R2[@]}" validate --truth box.h5 --repaints toy/box00.h5 toy/box01.h5 \
    --emulated box.h5 box.h5 box.h5 box.h5 --out spr --fail-spread
grep -q '^spread gas density kF..kN/4.*NOT MET$' spr.txt || { echo "FAIL: the spread report"; cat spr.txt; fail=1; }
timeout -k 5 60 mpirun -np 2 "$HB" validate --truth box.h5 --repaints toy/box00.h5 toy/box01.h5 \
    --emulated box.h5 box.h5 box.h5 box.h5 --out spr2 > spr2.log 2>&1 \
    && echo "ok: unmet spread checks fail only with --fail-spread" || { echo "FAIL: spread without the flag"; cat spr2.log; fail=1; }
timeout -k 5 60 mpirun -np 2 "$HB" validate --truth box.h5 --repaints toy/box00.h5 --emulated box.h5 --out spr3 \
    --fail-spread > spr3.log 2>&1 && grep -q 'n/a (needs 2 samples and a repaint)' spr3.txt \
    && echo "ok: --fail-spread passes what it cannot measure" || { echo "FAIL: one sample and --fail-spread"; cat spr3.log; fail=1; }

# ---- the pipeline's held-out boxes lie inside the training range -------------
head -5 "$SRC/data/camels/CosmoAstroSeed_IllustrisTNG_L25n256_LH.txt" > t4.txt
expect_fail 'cannot hold out 2 without extrapolating' "" "${R1[@]}" holdout t4.txt 2
held=$(mpirun -np 1 "$HB" holdout "$SRC/data/camels/CosmoAstroSeed_IllustrisTNG_L25n256_LH.txt" 3 2> /dev/null | tr '\n' ' ')
[ "$(echo $held | wc -w)" = 3 ] && echo "ok: holdout picked $held" || { echo "FAIL: holdout: '$held'"; fail=1; }

# ---- a width no machine holds: the message gives the real size ----------------
expect_fail 'network parameters \(width 100000: [0-9]+ floats' m.h5 "${R1[@]}" train --data toy --width 100000 --steps 1 --out m.h5

ls ./*.tmp > /dev/null 2>&1 && { echo "FAIL: temporary files left: $(ls ./*.tmp)"; fail=1; }
exit $fail
