#!/usr/bin/env bash
# Submit the whole pipeline, chained with --dependency=afterok, and print the
# job ids: suite (a job array) -> split train / held out -> train -> emulate
# -> validate. SOURCE=camels: the boxes imported from CAMELS instead of the
# suite's mock boxes (jobs/import.sbatch: TABLE and CMD_MCDM, CMD_MGAS,
# CMD_TEMP or SNAPSHOT), validated without repaints (REPAINTS=0: a hydro
# truth has no mock to repaint). Tunables (environment): SOURCE, WORK, N_BOXES, N_HELDOUT, TABLE, GRID,
# ROWS_PER_TASK, STEPS, BATCH, GROUP, WIDTH, LR, RECIPE, TRAIN_ARGS, EMU_STEPS, SEEDS, FAIL_ABOVE,
# HB_LAUNCH (mpirun|srun), PARTITION; SUITE_SBATCH, IMPORT_SBATCH, TRAIN_SBATCH,
# EMULATE_SBATCH, VALIDATE_SBATCH: extra sbatch options of that stage (they
# override its #SBATCH lines), e.g. TRAIN_SBATCH="--ntasks=128 --time=24:00:00".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export HB_ROOT=${HB_ROOT:-$(cd "$here/.." && pwd)}
export WORK=${WORK:-$HB_ROOT/pipeline_out}
# the jobs run in WORK (--chdir): paths given relative to here are made absolute
abspath() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
WORK=$(abspath "$WORK")
for v in TABLE CMD_MCDM CMD_MGAS CMD_TEMP SNAPSHOT MODEL HB_BIN; do
    [ -n "${!v:-}" ] && export "$v=$(abspath "${!v}")"
done
if [ -n "${MODELS:-}" ]; then
    m=(); for f in $MODELS; do m+=("$(abspath "$f")"); done
    export MODELS="${m[*]}"
fi
SOURCE=${SOURCE:-suite}
case "$SOURCE" in
suite) export N_BOXES=${N_BOXES:-18} ;;
camels)
    [ -n "${TABLE:-}" ] && [ -r "$TABLE" ] \
        || { echo "pipeline: SOURCE=camels needs TABLE, a CAMELS table with names (found '${TABLE:-}')" >&2; exit 1; }
    export N_BOXES=${N_BOXES:-$(awk '!/^#/ && NF' "$TABLE" | wc -l)}
    export REPAINTS=${REPAINTS:-0}
    [ "$REPAINTS" = 0 ] || {
        echo "pipeline: SOURCE=camels needs REPAINTS=0 (found $REPAINTS): the mock cannot repaint a hydro truth" >&2
        exit 1
    }
    ;;
*) echo "pipeline: SOURCE must be suite or camels (found '$SOURCE')" >&2; exit 1 ;;
esac
export N_HELDOUT=${N_HELDOUT:-2} ROWS_PER_TASK=${ROWS_PER_TASK:-4}
mkdir -p "$WORK"
part=(); [ -n "${PARTITION:-}" ] && part=(--partition "$PARTITION")
sub() { sbatch --parsable --chdir "$WORK" --export=ALL "${part[@]}" "$@" | cut -d';' -f1; }
ntask=$(( (N_BOXES + ROWS_PER_TASK - 1) / ROWS_PER_TASK ))
if [ "$SOURCE" = camels ]; then
    boxes=$(sub --array=0-$((ntask - 1)) ${IMPORT_SBATCH:-} "$here/import.sbatch")
else
    boxes=$(sub --array=0-$((ntask - 1)) ${SUITE_SBATCH:-} "$here/suite.sbatch")
fi
# held out: N_HELDOUT boxes inside the training set's parameter range (jobs/split.sh)
split=$(sub --dependency=afterok:$boxes --ntasks=1 --job-name=hb-split --output=%x-%j.out "$here/split.sh")
train=$(sub --dependency=afterok:$split ${TRAIN_SBATCH:-} "$here/train.sbatch")
emulate=$(sub --dependency=afterok:$train ${EMULATE_SBATCH:-} "$here/emulate.sbatch")
validate=$(sub --dependency=afterok:$emulate ${VALIDATE_SBATCH:-} "$here/validate.sbatch")
echo "$SOURCE=$boxes split=$split train=$train emulate=$emulate validate=$validate"
