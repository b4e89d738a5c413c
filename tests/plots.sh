#!/usr/bin/env bash
# The plotting scripts run on a validation report and on box files and write
# non-empty PNGs; the scatter diagnostic gives the truths' own scatter (no
# bias, residual power ratio 1) when the truths stand in for the samples,
# reads the samples' normalisation, and its r2 table is exact on fields made
# to be explained (halved logs, a power of the local or smoothed DM); the run-to-run table is exact on
# runs made to agree or to oppose; the densest cells' table is exact on samples equal to the truths and on
# squared ones. Exit 77 (skipped)
# without matplotlib/h5py.
set -u
HB=$1
SRC=$2
/usr/bin/python3 -c "import matplotlib, h5py, numpy" 2> /dev/null \
    || { echo "SKIP: plots need python3-matplotlib python3-h5py python3-numpy"; exit 77; }
"$(dirname "$HB")/tests/make_toy" toy > /dev/null || exit 1
# two held-out boxes, each with a repaint (the floor) and two samples
mpirun -np 2 "$HB" validate --truth toy/box00.h5 --repaints toy/box03.h5 --emulated toy/box01.h5 toy/box02.h5 \
    --truth toy/box04.h5 --repaints toy/box05.h5 --emulated toy/box06.h5 toy/box07.h5 --out report > v.log 2>&1 \
    || { echo "FAIL: validate"; cat v.log; exit 1; }
fail=0
/usr/bin/python3 "$SRC/scripts/plot_pk.py" report.h5 --out pk.png || fail=1
/usr/bin/python3 "$SRC/scripts/plot_slices.py" toy/box00.h5 toy/box01.h5 --plane 3 --out slices.png || fail=1
mpirun -np 2 "$HB" pk toy/box00.h5 --field gas_density --out a.txt > /dev/null 2>&1
mpirun -np 2 "$HB" pk toy/box01.h5 --field gas_density --out b.txt > /dev/null 2>&1
/usr/bin/python3 "$SRC/scripts/plot_pk.py" a.txt b.txt --labels a b --out pk_text.png || fail=1
# the scatter diagnostic: the truths standing in for the samples give the truths' own scatter and no bias
/usr/bin/python3 "$SRC/scripts/scatter_by_dm.py" --truth toy/box00.h5 --repaints toy/box03.h5 \
    --emulated toy/box00.h5 toy/box03.h5 > sc.txt || fail=1
awk '!/^#/ && NF == 8 { n++; if ($3 != $4 || $5 + 0 != 0 || $3 + 0 <= 0 || $7 + 0 != 0 || $8 != "1.000") bad++ }
     !/^#/ && NF == 4 { m++; if ($4 != "1.000") bad++ } END { exit !(n == 18 && m == 8 && !bad) }' sc.txt \
    || { echo "FAIL: scatter_by_dm.py on the truths themselves"; cat sc.txt; fail=1; }
# a sample whose gas mean before normalisation was 0.5: every cell raised by log10 2
cp toy/box02.h5 toy/box02n.h5
/usr/bin/python3 -c "import h5py; h5py.File('toy/box02n.h5', 'r+').attrs['gas_mean_before_normalisation'] = 0.5"
/usr/bin/python3 "$SRC/scripts/scatter_by_dm.py" --truth toy/box00.h5 --repaints toy/box03.h5 \
    --emulated toy/box01.h5 toy/box02n.h5 > sc2.txt || fail=1
awk '!/^#/ && NF == 8 { n++; if ($3 == $4) same++ } END { exit !(n == 18 && same < n) }' sc2.txt \
    || { echo "FAIL: scatter_by_dm.py on other samples"; cat sc2.txt; fail=1; }
# samples that are the truths with every log10 halved: the gain is 1/2 in every bin
for b in 00 03; do
    cp toy/box$b.h5 toy/half$b.h5
    /usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+')
for k in ('gas_density', 'gas_temperature'): f['fields/' + k][...] = f['fields/' + k][...] ** 0.5" toy/half$b.h5
done
/usr/bin/python3 "$SRC/scripts/scatter_by_dm.py" --truth toy/box00.h5 --repaints toy/box03.h5 \
    --emulated toy/half00.h5 toy/half03.h5 > sc3.txt || fail=1
awk '!/^#/ && NF == 8 { n++; if ($8 != "0.500") bad++ } END { exit !(n == 18 && !bad) }' sc3.txt \
    || { echo "FAIL: scatter_by_dm.py gain of halved logs"; cat sc3.txt; fail=1; }
# the same halved logs leave 1 - 1/4 of the truths' per-cell variance explained in the predictability table,
# and samples that are the truths explain all of it
awk '!/^#/ && NF == 9 { n++; if ($9 != "0.750") bad++ } END { exit !(n == 8 && !bad) }' sc3.txt \
    || { echo "FAIL: scatter_by_dm.py r2 of halved logs"; cat sc3.txt; fail=1; }
awk '!/^#/ && NF == 9 { n++; if ($9 != "1.000") bad++ } END { exit !(n == 8 && !bad) }' sc.txt \
    || { echo "FAIL: scatter_by_dm.py r2 of the truths themselves"; cat sc.txt; fail=1; }
# a gas density that is a power of the floored local DM is explained by the local cubic exactly
# (its repaint is a copy: the truths' mean is the field itself)
cp toy/box00.h5 toy/pow00.h5
/usr/bin/python3 -c "import h5py, numpy as np, sys; f = h5py.File(sys.argv[1], 'r+'); d = f['fields/dm_density'][...]
f['fields/gas_density'][...] = np.maximum(d, 0.1 * d.mean()) ** 0.7" toy/pow00.h5
cp toy/pow00.h5 toy/pow03.h5
/usr/bin/python3 "$SRC/scripts/scatter_by_dm.py" --dm-floor 0.1 --truth toy/pow00.h5 --repaints toy/pow03.h5 \
    --emulated toy/box01.h5 toy/box02.h5 > sc4.txt || fail=1
awk '/^# gas_density: r2/ { on = 1 } /^# gas_temperature: r2/ { on = 0 }
     on && !/^#/ && NF == 9 { n++; if ($4 != "1.000" || $8 != "1.000") bad++ } END { exit !(n == 4 && !bad) }' sc4.txt \
    || { echo "FAIL: scatter_by_dm.py r2 of a power of the local DM"; cat sc4.txt; fail=1; }
# and a power of the DM smoothed over 2 cells (a periodic sum in real space here, by FFT in the script) by the r=2 one
cp toy/box00.h5 toy/sm00.h5
/usr/bin/python3 -c "import h5py, numpy as np, sys; f = h5py.File(sys.argv[1], 'r+'); s = f['fields/dm_density'][...]
n = s.shape[0]; d = np.arange(n) - n // 2; w = np.exp(-d * d / 8.0); w /= w.sum()
for ax in range(3): s = sum(wi * np.roll(s, di, axis=ax) for wi, di in zip(w, d))
f['fields/gas_density'][...] = s ** 0.7" toy/sm00.h5
cp toy/sm00.h5 toy/sm03.h5
/usr/bin/python3 "$SRC/scripts/scatter_by_dm.py" --truth toy/sm00.h5 --repaints toy/sm03.h5 \
    --emulated toy/box01.h5 toy/box02.h5 > sc5.txt || fail=1
awk '/^# gas_density: r2/ { on = 1 } /^# gas_temperature: r2/ { on = 0 }
     on && !/^#/ && NF == 9 { n++; if ($6 != "1.000" || $4 == "1.000") bad++ } END { exit !(n == 4 && !bad) }' sc5.txt \
    || { echo "FAIL: scatter_by_dm.py r2 of a power of the smoothed DM"; cat sc5.txt; fail=1; }
/usr/bin/python3 "$SRC/scripts/scatter_by_dm.py" --dm-floor -1 --truth toy/pow00.h5 > /dev/null 2> e.txt
grep -q "dm-floor expects a number > 0" e.txt || { echo "FAIL: scatter_by_dm.py --dm-floor -1"; cat e.txt; fail=1; }
grep -q "^# normalisation shift .*: n/a +0.3010$" sc2.txt \
    || { echo "FAIL: scatter_by_dm.py normalisation shifts"; cat sc2.txt; fail=1; }
# frozen_by_run.py: a run repeated correlates with itself (1); runs with the truths' logs halved and doubled err by
# -1/2 and +1 of the truths' mean (correlation -1; the runs' mean errs by 1/4, a third of one run's 3/4)
for b in 00 03; do
    cp toy/box$b.h5 toy/dbl$b.h5
    /usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+')
for k in ('gas_density', 'gas_temperature'): f['fields/' + k][...] = f['fields/' + k][...].astype('f8') ** 2" toy/dbl$b.h5
done
/usr/bin/python3 "$SRC/scripts/frozen_by_run.py" --truth toy/box00.h5 --repaints toy/box03.h5 \
    --run toy/half00.h5 toy/half03.h5 --run toy/half00.h5 toy/half03.h5 > fr1.txt || fail=1
awk '!/^#/ && NF == 9 { n++; if ($6 != "1.000" || $3 != $5) bad++ } END { exit !(n == 8 && !bad) }' fr1.txt \
    || { echo "FAIL: frozen_by_run.py on a run repeated"; cat fr1.txt; fail=1; }
/usr/bin/python3 "$SRC/scripts/frozen_by_run.py" --truth toy/box00.h5 --repaints toy/box03.h5 \
    --run toy/half00.h5 toy/half03.h5 --run toy/dbl00.h5 toy/dbl03.h5 > fr2.txt || fail=1
awk '!/^#/ && NF == 9 { n++; if ($6 != "-1.000" || ($5 / $3 - 1 / 3) ^ 2 > 4e-4) bad++ } END { exit !(n == 8 && !bad) }' \
    fr2.txt || { echo "FAIL: frozen_by_run.py on opposite runs"; cat fr2.txt; fail=1; }
/usr/bin/python3 "$SRC/scripts/frozen_by_run.py" --truth toy/box00.h5 --run toy/half00.h5 toy/half03.h5 \
    > /dev/null 2> e2.txt && fail=1
grep -q "expected one --truth, at least one repaint" e2.txt || { echo "FAIL: frozen_by_run.py refusal"; cat e2.txt; fail=1; }
# cores.py: the truths standing in for the samples are exact (ratios 1, no bias, the samples' per-cell scatter the
# truths'); samples whose gas is the truth's squared against the direct sums over the densest cells, and the truths'
# level there against its direct mean; two samples, the truth and its square, against their direct per-cell standard
# deviation; the slope of sd_samples on sd_truths against a least-squares fit of the printed columns; a --top outside
# (0, 1) refused
/usr/bin/python3 "$SRC/scripts/cores.py" --top 0.01 --truth toy/box00.h5 --repaints toy/box03.h5 \
    --emulated toy/box00.h5 toy/box03.h5 --truth toy/box00.h5 --repaints toy/box00.h5 \
    --emulated toy/dbl00.h5 toy/dbl00.h5 --truth toy/box04.h5 --repaints toy/box05.h5 \
    --emulated toy/box04.h5 toy/box05.h5 --truth toy/box00.h5 --repaints toy/box00.h5 \
    --emulated toy/box00.h5 toy/dbl00.h5 > co.txt || fail=1
want=$(/usr/bin/python3 -c "import h5py, numpy as np
g = h5py.File('toy/box00.h5', 'r')['fields/gas_density'][...].astype('f8').ravel()
r, s = g / g.mean(), g ** 2 / (g ** 2).mean()
top = r >= np.sort(r)[-int(round(0.01 * r.size))]
d = np.log10(s[top] / r[top])
print('%d %.3f %+.4f %.4f %.4f' % (top.sum(), (s[top] ** 2).sum() / (r[top] ** 2).sum(), d.mean(), np.sqrt(np.mean(d * d / 2)),
                                 np.log10(r[top]).mean()))")
awk -v want="$want" 'BEGIN { split(want, w, " ") }
     !/^#/ { n++; x[n] = $8; y[n] = $7
             if (n == 1 || n == 3) { if ($3 != "1.000" || $4 + 0 != 0 || $9 != "1.000" || $7 != $8) bad++ }
             if (n == 2 && ($2 " " $3 " " $4 " " $10 != w[1] " " w[2] " " w[3] " " w[5] || $7 + 0 != 0 || $8 + 0 != 0)) bad++
             if (n == 4 && ($7 != w[4] || $8 + 0 != 0)) bad++ }
     /^# correlation .* over 4 boxes: / { c++ }
     /^# slope of sd_samples on sd_truths over 4 boxes: / { c++; slope = $NF }
     END { for (i = 1; i <= n; i++) { sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i] }
           fit = (n * sxy - sx * sy) / (n * sxx - sx * sx)
           exit !(n == 4 && c == 2 && !bad && (slope - fit) ^ 2 < 1e-6) }' co.txt \
    || { echo "FAIL: cores.py (squared gas expected: $want)"; cat co.txt; fail=1; }
/usr/bin/python3 "$SRC/scripts/cores.py" --top 2 --truth toy/box00.h5 > /dev/null 2> e3.txt && fail=1
grep -q "top expects a fraction in (0, 1), found 2" e3.txt || { echo "FAIL: cores.py --top 2"; cat e3.txt; fail=1; }
for f in pk.png slices.png pk_text.png; do
    [ -s $f ] && [ "$(head -c 4 $f | tail -c 3)" = PNG ] || { echo "FAIL: $f is not a PNG"; fail=1; }
done
[ $fail = 0 ] && echo "ok: three non-empty PNGs, the scatter, frozen-error and densest-cells tables"
exit $fail
