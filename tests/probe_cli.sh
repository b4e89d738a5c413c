#!/usr/bin/env bash
# scripts/probe.sh on a toy model: the parameter reaches both the mock's truths
# (their per-cell scatter grows with A_AGN2, as sigma_g does; Omega_m leaves it)
# and the samples (their files carry the value); its table is scripts/cores.py's
# on the files it wrote, its slopes least-squares fits of that table; bad input
# and a failing emulation exit non-zero and leave no directory. Exit 77
# (skipped) without numpy/h5py. Usage: probe_cli.sh HYDROBRIDGE SRCDIR
set -u
HB=$1
SRC=$2
/usr/bin/python3 -c "import h5py, numpy" 2> /dev/null \
    || { echo "SKIP: probe.sh needs python3-h5py python3-numpy"; exit 77; }
fail=0
. "$SRC/tests/lib.sh"
export HB
"$(dirname "$HB")/tests/make_toy" toy > /dev/null || { echo "FAIL: make_toy"; exit 1; }
timeout -k 5 300 mpirun -np 2 "$HB" train --data toy --batch 2 --width 4 --steps 20 --val-every 1000 \
    --out m.h5 > train.log 2>&1 || { echo "FAIL: training the toy model"; cat train.log; exit 1; }
PROBE=("$SRC/scripts/probe.sh" --model m.h5 --box toy_test.h5 --repaints 3 --seeds 2 --top 0.02)

# check_run DIR PARAM VALUES...: the layout, the values in the samples' files, and the table against
# cores.py run again on the files and least-squares slopes computed here
check_run() {
    local d=$1 p=$2; shift 2
    /usr/bin/python3 - "$SRC" "$d" "$p" "$@" << 'EOF' || fail=1
import glob, re, subprocess, sys
import h5py
import numpy as np
src, d, param, vals = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
bad = []
args = []
for v in vals:
    e = sorted(glob.glob("%s/v%s/emulated/toy_test_s*.h5" % (d, v)))
    r = sorted(glob.glob("%s/v%s/floor/toy_test_m*.h5" % (d, v)))
    t = "%s/v%s/heldout/toy_test.h5" % (d, v)
    if len(e) != 2 or len(r) != 3:
        bad.append("v%s: %d samples, %d repaints (2, 3 expected)" % (v, len(e), len(r)))
    for f in e + r + [t]:
        got = h5py.File(f, "r").attrs[param.split(".")[1]]
        if abs(got - float(v)) > 1e-12 * float(v):
            bad.append("%s holds %s = %r, not %s" % (f, param, got, v))
    args += ["--truth", t, "--repaints"] + r + ["--emulated"] + e
out = subprocess.run(["/usr/bin/python3", src + "/scripts/cores.py", "--top", "0.02"] + args,
                     capture_output=True, text=True, check=True).stdout
cores = [l.split() for l in out.splitlines() if not l.startswith("#")]
rows = [l.split() for l in open(d + "/probe.txt") if not l.startswith("#")]
if [r[0] for r in rows] != vals:
    bad.append("probe.txt's values %s, not %s" % ([r[0] for r in rows], vals))
for r, c in zip(rows, cores):   # value sd_truths sd_samples bias_dex level_truths pk_mid_ratio
    if r[1:] != [c[7], c[6], c[3], c[9], c[8]]:
        bad.append("row %s differs from cores.py's %s" % (r, c))
x = np.log([float(v) for v in vals])
fit = lambda y: np.polyfit(x, y, 1)[0]
a = np.array([[float(t) for t in r[1:]] for r in rows])
want = [fit(np.log(a[:, 0])), fit(np.log(a[:, 1])), fit(a[:, 2]), fit(a[:, 3])]
text = open(d + "/probe.txt").read()
got = [float(g) for g in re.findall(r"truths ([-0-9.]+), samples ([-0-9.]+)", text)[0]]
got += [float(re.search(r"d bias_dex / d ln value: ([-+0-9.]+)", text).group(1)),
        float(re.search(r"d level_truths / d ln value: ([-+0-9.]+)", text).group(1))]
if not np.allclose(got, want, atol=[6e-4, 6e-4, 6e-5, 6e-5], rtol=0):
    bad.append("slopes %s, least squares over the table %s" % (got, want))
print("\n".join("FAIL: %s: %s" % (d, b) for b in bad) if bad else
      "ok: %s: %s, the table is cores.py's on its files, the slopes least squares (%s)"
      % (d, " ".join("v" + v for v in vals), " ".join("%.3f" % w for w in want)))
sys.exit(1 if bad else 0)
EOF
}
truth_slope() { sed -n 's/.*truths \([-0-9.]*\), samples.*/\1/p' "$1/probe.txt"; }

"${PROBE[@]}" --out agn2 --values 0.6,1,1.7 > agn2.log 2>&1 || { echo "FAIL: probe of a_agn2"; cat agn2.log; fail=1; }
[ -f agn2/probe.txt ] && check_run agn2 feedback.a_agn2 0.6 1 1.7
"${PROBE[@]}" --out om --param cosmology.omega_m --values 0.25,0.38 -- --steps 4 > om.log 2>&1 \
    || { echo "FAIL: probe of omega_m"; cat om.log; fail=1; }
[ -f om/probe.txt ] && check_run om cosmology.omega_m 0.25 0.38
grep -q ' 4 Heun steps' om/v0.25/emulate.log 2> /dev/null || { echo "FAIL: the options after -- did not reach emulate"; fail=1; }
# the mock's sigma_g = 0.15 + 0.25 S sqrt(A_AGN2) (the toy set varies Omega_m and A_AGN2): the truths' scatter
# answers A_AGN2 and not Omega_m (which sets only the gas's mean, divided out)
s_agn2=$(truth_slope agn2) s_om=$(truth_slope om)
if [ -n "$s_agn2" ] && [ -n "$s_om" ] && awk -v a="$s_agn2" -v b="$s_om" 'BEGIN { exit !(a > 0.1 && (b < 0 ? -b : b) < 0.05) }'; then
    echo "ok: the truths' d ln sd / d ln value: $s_agn2 for A_AGN2, $s_om for Omega_m"
else
    echo "FAIL: the truths' d ln sd / d ln value: '$s_agn2' for A_AGN2 (> 0.1 expected), '$s_om' for Omega_m (~0)"
    fail=1
fi

# refusals, and nothing left behind
probe_fails() {   # probe_fails REGEX OUT ARGS...: refused, and neither OUT (unless it was there) nor OUT.tmp.* left
    local want=$1 out=$2 was=0; shift 2
    [ -e "$out" ] && was=1
    expect_fail "$want" "" "$@" --out "$out"
    if compgen -G "$out.tmp.*" > /dev/null || { [ $was = 0 ] && [ -e "$out" ]; }; then
        echo "FAIL: $* --out $out left files behind"; fail=1
    fi
}
probe_fails 'exists .*never reuses' agn2 "${PROBE[@]}"
probe_fails '"0" is not a positive number' bad "${PROBE[@]}" --values 0,1
probe_fails 'at least two comma-separated values' bad "${PROBE[@]}" --values 1
probe_fails 'holds a value twice' bad "${PROBE[@]}" --values 1,2,1
probe_fails 'holds a value twice' bad "${PROBE[@]}" --values 1,1.0
probe_fails 'section.key in \[cosmology\] or \[feedback\]' bad "${PROBE[@]}" --param mock.seed
probe_fails 'whole number >= 1, found "0"' bad "${PROBE[@]}" --seeds 0
probe_fails 'fraction in \(0, 1\), found "1"' bad "${PROBE[@]}" --top 1
probe_fails 'no such file' bad "${PROBE[@]/m.h5/missing.h5}"
# a value outside the model's training range: emulate's error, then the probe's
probe_fails 'outside the range the model was trained on' bad "${PROBE[@]}" --values 1,2.5
exit $fail
