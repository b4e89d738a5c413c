#!/usr/bin/env bash
# Submit the whole pipeline, chained with --dependency=afterok, and print the
# job ids: suite (a job array) -> split train / held out -> train -> emulate
# -> validate. Tunables (environment): WORK, N_BOXES, N_HELDOUT, TABLE, GRID,
# ROWS_PER_TASK, STEPS, BATCH, GROUP, WIDTH, EMU_STEPS, SEEDS, FAIL_ABOVE,
# HB_LAUNCH (mpirun|srun), PARTITION.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export HB_ROOT=${HB_ROOT:-$(cd "$here/.." && pwd)}
export WORK=${WORK:-$HB_ROOT/pipeline_out}
export N_BOXES=${N_BOXES:-18} N_HELDOUT=${N_HELDOUT:-2} ROWS_PER_TASK=${ROWS_PER_TASK:-4}
mkdir -p "$WORK"
part=(); [ -n "${PARTITION:-}" ] && part=(--partition "$PARTITION")
sub() { sbatch --parsable --chdir "$WORK" --export=ALL "${part[@]}" "$@" | cut -d';' -f1; }
ntask=$(( (N_BOXES + ROWS_PER_TASK - 1) / ROWS_PER_TASK ))
suite=$(sub --array=0-$((ntask - 1)) "$here/suite.sbatch")
# the last N_HELDOUT boxes are held out (a small serial job moves them)
split=$(sub --dependency=afterok:$suite --ntasks=1 --job-name=hb-split --output=%x-%j.out --wrap \
    "mkdir -p '$WORK/train' '$WORK/heldout' && ls '$WORK'/boxes/*.h5 | sort -V | head -n $((N_BOXES - N_HELDOUT)) | xargs -r -I{} ln -sf {} '$WORK/train/' && ls '$WORK'/boxes/*.h5 | sort -V | tail -n $N_HELDOUT | xargs -r -I{} ln -sf {} '$WORK/heldout/'")
train=$(sub --dependency=afterok:$split "$here/train.sbatch")
emulate=$(sub --dependency=afterok:$train "$here/emulate.sbatch")
validate=$(sub --dependency=afterok:$emulate "$here/validate.sbatch")
echo "suite=$suite split=$split train=$train emulate=$emulate validate=$validate"
