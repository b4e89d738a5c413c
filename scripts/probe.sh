#!/usr/bin/env bash
# One box, one parameter varied: does a model's answer follow the mock's?
# (a diagnostic, README "The cores' scatter does not answer A_AGN2")
#
#   scripts/probe.sh --model M.h5 --box B.h5 --out DIR [--param feedback.a_agn2]
#                    [--values 0.55,1,1.9] [--repaints 8] [--seeds 4] [--top 0.01]
#                    [--np 2] [-- emulate options, e.g. --steps 100]
#
# For each value the box's DM is painted by the mock at that value (the
# truth, then --repaints more with mock.seed 1001, 1002, ...: the truth's own
# scatter) and emulated by the model with --seeds sampler seeds, everything
# else the box's own. DIR/v<value>/ holds the demo's layout (heldout/,
# floor/, emulated/; `validate` and the scripts read it as they read a demo's
# output), DIR/cores.txt scripts/cores.py's table over the values (the
# densest --top of cells), DIR/probe.txt, also printed:
#
#   value sd_truths sd_samples bias_dex level_truths pk_mid_ratio
#
# and least-squares slopes over ln(value): d ln sd / d ln value of the
# truths and of the samples (their ratio, where the truths' is at least 0.02:
# 1 when the samples' per-cell scatter answers the parameter as the truths'
# does), d bias_dex / d ln value (0 when
# the samples' mean level in those cells follows the truths'), and the truths'
# own d level_truths / d ln value for scale. The feedback parameters change
# the gas and leave the DM: they are the clean probes; the cosmological ones
# are accepted, but the DM box is not remade for them.
#
# DIR must not exist; the run writes DIR.tmp.PID and renames it when complete.
# Uses $HB (default build/hydrobridge beside this script), mpirun and
# /usr/bin/python3 with numpy and h5py; installs and builds nothing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"   # HB_ROOT and mpirun's environment (hb_setup not called)
HB=${HB:-$HB_ROOT/build/hydrobridge}

die() { echo "probe.sh: $*" >&2; exit 1; }
count() {   # count NAME VALUE: VALUE must be a whole number >= 1
    [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 expects a whole number >= 1, found \"$2\""
}

model= box= out= param=feedback.a_agn2 values=0.55,1,1.9 repaints=8 seeds=4 top=0.01 np=2
while [ $# -gt 0 ]; do
    case $1 in
        --model|--box|--out|--param|--values|--repaints|--seeds|--top|--np)
            [ $# -ge 2 ] || die "$1 expects a value"
            declare "${1#--}=$2"; shift 2 ;;
        --) shift; break ;;
        *) die "unknown option \"$1\" (see the usage at the top of $0)" ;;
    esac
done
[ -n "$model" ] && [ -n "$box" ] && [ -n "$out" ] || die "--model, --box and --out are required"
[ -f "$model" ] || die "--model $model: no such file"
[ -f "$box" ] || die "--box $box: no such file"
[ -x "$HB" ] || die "no hydrobridge at $HB (build it, or set HB=)"
[[ $param =~ ^(cosmology|feedback)\.[a-z0-9_]+$ ]] \
    || die "--param expects section.key in [cosmology] or [feedback], e.g. feedback.a_agn2; found \"$param\""
count --repaints "$repaints"; count --seeds "$seeds"; count --np "$np"
awk -v q="$top" 'BEGIN { exit !(q ~ /^[0-9.eE+-]+$/ && q + 0 > 0 && q + 0 < 1) }' \
    || die "--top expects a fraction in (0, 1), found \"$top\""
IFS=, read -r -a vals <<< "$values"
[ ${#vals[@]} -ge 2 ] || die "--values expects at least two comma-separated values, found \"$values\""
for v in "${vals[@]}"; do
    awk -v v="$v" 'BEGIN { exit !(v ~ /^[0-9.eE+-]+$/ && v + 0 > 0) }' \
        || die "--values: \"$v\" is not a positive number (the slopes are over ln value)"
done
printf '%s\n' "${vals[@]}" | awk '{ if (seen[$1 + 0]++) exit 1 }' || die "--values holds a value twice: $values"
[ ! -e "$out" ] || die "--out $out exists (the probe never reuses an earlier run's files: give a new directory)"

name=$(basename "$box" .h5)
tmp=$out.tmp.$$
mkdir -p "$tmp" || die "cannot create $tmp"
trap 'rm -rf "$tmp"' EXIT
run() {   # run LOG ARGS...: hydrobridge on --np ranks; on failure its log and the step
    local log=$1; shift
    mpirun -np "$np" "$HB" "$@" > "$log" 2>&1 || { cat "$log" >&2; die "failed: hydrobridge $*"; }
}
cores_args=()
for v in "${vals[@]}"; do
    d=$tmp/v$v
    mkdir -p "$d/heldout" "$d/floor" "$d/emulated"
    echo "== $param = $v: the truth and $repaints repaints, $seeds samples"
    run "$d/paint.log" paint-mock "$box" --out "$d/heldout/$name.h5" "$param=$v"
    for k in $(seq 1 "$repaints"); do
        run "$d/paint.log" paint-mock "$box" --out "$d/floor/${name}_m$((1000 + k)).h5" mock.seed=$((1000 + k)) \
            "$param=$v"
    done
    run "$d/emulate.log" emulate --model "$model" --dm "$d/heldout/$name.h5" \
        --out "$d/emulated/${name}_s{seed}.h5" --seeds "$seeds" "$@" "$param=$v"
    cores_args+=(--truth "$d/heldout/$name.h5" --repaints "$d"/floor/*.h5 --emulated "$d"/emulated/*.h5)
done
/usr/bin/python3 "$HB_ROOT/scripts/cores.py" --top "$top" "${cores_args[@]}" > "$tmp/cores.txt" \
    || die "scripts/cores.py failed on $tmp"
# cores.py's rows come in the order of the values: value, then its columns sd_samples ($7), sd_truths ($8),
# bias_dex ($4), level_truths ($10), pk_mid_ratio ($9)
grep -v '^#' "$tmp/cores.txt" | paste -d ' ' <(printf '%s\n' "${vals[@]}") - | awk -v param="$param" \
    -v model="$model" -v box="$box" -v top="$top" '
    function slope(y,   i, sx, sy, sxx, sxy) {
        for (i = 1; i <= n; i++) { sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i] }
        return (n * sxy - sx * sy) / (n * sxx - sx * sx)
    }
    BEGIN { printf "# %s on %s: %s varied; the densest %g%% of cells by the truths\x27 mean (scripts/cores.py)\n",
                   model, box, param, 100 * top
            printf "# %-8s %10s %10s %9s %12s %12s\n", "value", "sd_truths", "sd_samples", "bias_dex",
                   "level_truths", "pk_mid_ratio" }
    { n++; x[n] = log($1); lt[n] = log($9); ls[n] = log($8); b[n] = $5; lv[n] = $11
      printf "%-10s %10s %10s %9s %12s %12s\n", $1, $9, $8, $5, $11, $10 }
    END { st = slope(lt); ss = slope(ls)
          ratio = "the truths\x27 scatter hardly answers it"
          if (st >= 0.02 || st <= -0.02) ratio = sprintf("%.2f of the truths\x27", ss / st)
          printf "# d ln sd / d ln value: truths %.3f, samples %.3f (%s)\n", st, ss, ratio
          printf "# d bias_dex / d ln value: %+.4f (0: the samples\x27 level follows the truths\x27); ", slope(b)
          printf "the truths\x27 d level_truths / d ln value: %+.4f\n", slope(lv) }' > "$tmp/probe.txt"
mv "$tmp" "$out"
trap - EXIT
cat "$out/probe.txt"
