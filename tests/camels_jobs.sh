#!/usr/bin/env bash
# The CAMELS path of jobs/pipeline.sh (SOURCE=camels) end to end, on CAMELS
# Multifield Dataset grids made here from mock boxes: import (an array of two
# tasks) -> split -> train -> emulate -> validate without repaints. Slurm is
# not needed: a stand-in sbatch runs each script at once, array tasks in turn
# (the pipeline submits in dependency order). Checks that every imported box
# is its source box (densities to float round-off, temperature and
# parameters exactly), that params.txt is the table's rows, that a rerun of
# the import skips complete files, that the report marks the floor goals
# n/a, and that bad settings are refused before any work.
# Usage: camels_jobs.sh HYDROBRIDGE SRCDIR
set -u
HB=$1
SRC=$2
TOY=$(dirname "$HB")/tests/make_toy
fail=0
. "$SRC/tests/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# five mock boxes (the last inside the others' range: split holds it out) as CMD grids
cat > table.txt <<'EOT'
#Name  Omega_m  sigma_8  A_SN1     A_AGN1  A_SN2  A_AGN2  seed
LH_0 0.20000 0.70000 0.50000 0.50000 0.70000 0.70000 1
LH_1 0.40000 0.90000 2.00000 2.00000 1.50000 1.50000 2
LH_2 0.30000 0.80000 1.00000 1.00000 1.00000 1.00000 3
LH_3 0.35000 0.85000 1.50000 0.70000 1.20000 0.80000 4
LH_4 0.25000 0.75000 0.80000 0.90000 0.90000 0.90000 5
EOT
timeout -k 5 300 mpirun -np 2 "$HB" suite --table table.txt --out src simulation.n_particles=16 simulation.n_grid=16 \
    simulation.n_steps=4 simulation.box_size=25 > suite.log 2>&1 || { echo "FAIL: suite"; tail -5 suite.log; exit 1; }
"$TOY" cmd cmd src/LH_0.h5 src/LH_1.h5 src/LH_2.h5 src/LH_3.h5 src/LH_4.h5 || { echo "FAIL: make_toy cmd"; exit 1; }

# the stand-in sbatch: runs SCRIPT in --chdir now (each task of --array=A-B in turn), prints a job id
mkdir -p bin
cat > bin/sbatch <<'EOS'
#!/usr/bin/env bash
set -u
chdir=. array= jobname=
while [ $# -gt 1 ]; do
    case "$1" in
    --chdir | --partition) [ "$1" = --chdir ] && chdir=$2; shift 2 ;;
    --array=*) array=${1#--array=}; shift ;;
    --job-name=*) jobname=${1#--job-name=}; shift ;;
    --parsable | --export=* | --dependency=* | --ntasks=* | --output=* | --time=*) shift ;;
    *) echo "sbatch (test stand-in): unexpected option $1" >&2; exit 2 ;;
    esac
done
script=$1
id=$(( $(cat "$STUB_IDS" 2> /dev/null || echo 100) + 1 )); echo "$id" > "$STUB_IDS"
name=${jobname:-$(sed -n 's/^#SBATCH --job-name=//p' "$script")}   # the logs' names as Slurm's %x
[ -n "$name" ] || { name=$(basename "$script"); name=${name%.*}; }
cd "$chdir" || exit 1
if [ -n "$array" ]; then
    for ((t = ${array%-*}; t <= ${array#*-}; t++)); do
        SLURM_ARRAY_TASK_ID=$t bash "$script" > "$name-${id}_$t.out" 2>&1 \
            || { echo "sbatch: $script task $t failed" >&2; exit 1; }
    done
else
    bash "$script" > "$name-$id.out" 2>&1 || { echo "sbatch: $script failed" >&2; exit 1; }
fi
echo "$id"
EOS
chmod +x bin/sbatch
export PATH=$PWD/bin:$PATH STUB_IDS=$PWD/ids.txt HB_BIN=$HB

# bad settings: refused with the reason, before anything is submitted
rm -f ids.txt
expect_fail 'SOURCE=camels needs REPAINTS=0 \(found 8\): the mock cannot repaint' "" \
    env SOURCE=camels TABLE=table.txt REPAINTS=8 WORK=$PWD/w_bad bash "$SRC/jobs/pipeline.sh"
expect_fail 'SOURCE must be suite or camels \(found .cmd.\)' "" \
    env SOURCE=cmd WORK=$PWD/w_bad bash "$SRC/jobs/pipeline.sh"
[ -e ids.txt ] && { echo "FAIL: a job was submitted despite bad settings"; fail=1; }
expect_fail 'import: set CMD_MCDM, CMD_MGAS and CMD_TEMP \(the three grids\), or SNAPSHOT' "" \
    env TABLE=table.txt WORK=$PWD/w_bad CMD_MCDM=cmd_Mcdm.npy bash "$SRC/jobs/import.sbatch"
expect_fail 'import: N_BOXES = 9, but table.txt has 5 rows' "" \
    env TABLE=table.txt N_BOXES=9 WORK=$PWD/w_bad CMD_MCDM=cmd_Mcdm.npy CMD_MGAS=cmd_Mgas.npy CMD_TEMP=cmd_T.npy \
    bash "$SRC/jobs/import.sbatch"
expect_fail 'import: SNAPSHOT must hold \{name\}' "" \
    env TABLE=table.txt WORK=$PWD/w_bad SNAPSHOT=snap.hdf5 bash "$SRC/jobs/import.sbatch"

# the pipeline: 5 rows in blocks of 3 (two import tasks), one box held out; the paths relative to here
# (the jobs run in WORK, as under Slurm's --chdir: pipeline.sh makes them absolute)
export SOURCE=camels TABLE=table.txt WORK=work CMD_MCDM=cmd_Mcdm.npy CMD_MGAS=cmd_Mgas.npy CMD_TEMP=cmd_T.npy \
       N_HELDOUT=1 ROWS_PER_TASK=3 STEPS=60 BATCH=2 WIDTH=4 CKPT=30 EMU_STEPS=4 SEEDS=2
if ids=$(timeout -k 5 600 bash "$SRC/jobs/pipeline.sh"); then
    echo "ok: pipeline.sh SOURCE=camels ran every stage ($ids)"
else
    echo "FAIL: pipeline.sh SOURCE=camels"; for f in work/*.out; do echo "== $f"; tail -5 "$f"; done; exit 1
fi
case "$ids" in camels=*" split="*" train="*" emulate="*" validate="*) ;; *) echo "FAIL: job ids '$ids'"; fail=1 ;; esac
ls work/hb-import-*_0.out work/hb-import-*_1.out > /dev/null 2>&1 || { echo "FAIL: not two import tasks"; fail=1; }

# each imported box is its source box: densities to round-off (CMD holds masses; the import divides by the
# mean), temperature and the six parameters exactly
for i in 0 1 2 3 4; do
    b=work/boxes/LH_$i.h5
    ok=1
    for f in dm_density gas_density; do   # (the mass-assignment attribute differs: an import's is "none")
        h5diff -q -p 1e-5 --exclude-attribute "/fields/$f" "src/LH_$i.h5" "$b" "/fields/$f" > /dev/null 2>&1 || ok=0
    done
    h5diff -q --exclude-attribute /fields/gas_temperature "src/LH_$i.h5" "$b" /fields/gas_temperature > /dev/null 2>&1 \
        || ok=0
    for a in omega_m sigma_8 a_sn1 a_agn1 a_sn2 a_agn2; do
        [ "$(h5dump -a "/$a" "src/LH_$i.h5" | grep '(0)')" = "$(h5dump -a "/$a" "$b" | grep '(0)')" ] || ok=0
    done
    [ $ok = 1 ] || { echo "FAIL: $b is not src/LH_$i.h5 (fields or parameters)"; fail=1; }
done
[ $fail = 0 ] && echo "ok: the five imported boxes are their sources (fields, parameters)"
# the same grid with the CMD params file (six numbers per line): the same box
awk '!/^#/ { print $2, $3, $4, $5, $6, $7 }' table.txt > params_cmd.txt
mpirun -np 2 "$HB" import-cmd --mcdm cmd_Mcdm.npy --mgas cmd_Mgas.npy --temp cmd_T.npy --index 3 \
    --params params_cmd.txt --out cmd3.h5 > cmd3.log 2>&1 && h5diff -q cmd3.h5 work/boxes/LH_3.h5 \
    && echo "ok: import-cmd --params: the CMD params file and the named table give the same box" \
    || { echo "FAIL: import-cmd with the CMD params file differs from the named table's"; fail=1; }
# a name that starts like a number is a name too
awk '!/^#/ { $1 = "3D_" NR; print }' table.txt > table_3d.txt
mpirun -np 2 "$HB" import-cmd --mcdm cmd_Mcdm.npy --mgas cmd_Mgas.npy --temp cmd_T.npy --index 3 \
    --params table_3d.txt --out cmd3d.h5 > cmd3d.log 2>&1 && h5diff -q cmd3d.h5 work/boxes/LH_3.h5 \
    && echo "ok: import-cmd --params: a row named 3D_4 read as a name" \
    || { echo "FAIL: import-cmd with a row named 3D_4"; cat cmd3d.log; fail=1; }
cmp -s work/boxes/params.txt table.txt && echo "ok: boxes/params.txt is the table's rows" \
    || { echo "FAIL: boxes/params.txt"; diff work/boxes/params.txt table.txt; fail=1; }
held=$(ls work/heldout)
[ "$held" = LH_4.h5 ] && [ "$(ls work/train | wc -l)" = 4 ] && echo "ok: split held out LH_4, trained on four" \
    || { echo "FAIL: split held out '$held'"; fail=1; }
for f in model.h5 emulated/LH_4_s1.h5 emulated/LH_4_s2.h5 report.txt report.h5; do
    [ -s "work/$f" ] || { echo "FAIL: work/$f missing"; fail=1; }
done
[ -d work/floor ] && [ -n "$(ls work/floor)" ] && { echo "FAIL: a CAMELS truth was repainted"; fail=1; }
grep -q "n/a (no floor: repaint the truth)" work/report.txt && echo "ok: the report marks the floor goals n/a" \
    || { echo "FAIL: the report without repaints"; head -20 work/report.txt; fail=1; }
grep -q "train: --recipe demo" work/hb-train-*.out || { echo "FAIL: train.sbatch without the recipe"; fail=1; }

# a rerun of the import skips the complete files
SLURM_ARRAY_TASK_ID=1 bash "$SRC/jobs/import.sbatch" > rerun.log 2>&1 \
    && [ "$(grep -c 'exists, skipped' rerun.log)" = 2 ] \
    && echo "ok: a rerun of an import task skips its two complete boxes" \
    || { echo "FAIL: import rerun"; cat rerun.log; fail=1; }

# snapshots (SNAPSHOT with {name}): each row's file painted on GRID^3, Omega_m from the header, the rest from the row
mkdir -p snaps/LH_0 snaps/LH_1
"$TOY" snap snaps/LH_0/snap_033.hdf5 11 && "$TOY" snap snaps/LH_1/snap_033.hdf5 12 \
    || { echo "FAIL: make_toy snap"; exit 1; }
if env -u CMD_MCDM -u CMD_MGAS -u CMD_TEMP SNAPSHOT="$PWD/snaps/{name}/snap_033.hdf5" GRID=8 N_BOXES=2 WORK=$PWD/wsnap \
        bash "$SRC/jobs/import.sbatch" > snap.log 2>&1; then
    ok=1
    for name in LH_0 LH_1; do
        mpirun -np 2 "$HB" import-camels "$PWD/snaps/$name/snap_033.hdf5" --n-grid 8 --params "$TABLE" --row "$name" \
            --out "direct_$name.h5" > direct.log 2>&1 && h5diff -q "direct_$name.h5" "wsnap/boxes/$name.h5" || ok=0
    done
    a=$(h5dump -a /a_agn1 wsnap/boxes/LH_1.h5 | grep -o '(0): .*')
    m=$(h5dump -a /omega_m wsnap/boxes/LH_1.h5 | grep -o '(0): .*')
    [ $ok = 1 ] && [ "$a" = "(0): 2" ] && [ "$m" = "(0): 0.3" ] \
        && echo "ok: import.sbatch SNAPSHOT: each row's snapshot as import-camels makes it" \
                "(A_AGN1 from the row, Omega_m from the header)" \
        || { echo "FAIL: import.sbatch SNAPSHOT boxes (A_AGN1 '$a', Omega_m '$m')"; fail=1; }
else
    echo "FAIL: import.sbatch SNAPSHOT"; tail -5 snap.log; fail=1
fi
exit $fail
