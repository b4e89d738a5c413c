#!/usr/bin/env bash
# A real scheduler: bring up a one-node Slurm on localhost (munged,
# slurmctld, slurmd started by hand; no systemd), run jobs/pipeline.sh on tiny
# sizes, send the train job SIGUSR1 through Slurm and check it is requeued and
# resumes from its checkpoint, wait for every job, check each finished with
# exit 0 and wrote its outputs, then stop the daemons by their PIDs.
# Exit 77 (skipped) when slurm-wlm or munge is missing.
# Usage: slurm_pipeline.sh HYDROBRIDGE SRCDIR
set -u
HB=$1
SRC=$2
for b in slurmctld slurmd munged sbatch; do
    command -v $b > /dev/null || [ -x /usr/sbin/$b ] || { echo "SKIP: $b not installed (apt-get install slurm-wlm munge)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: the one-node Slurm needs root"; exit 77; }
T=$(mktemp -d /tmp/hb-slurm.XXXX)
chmod 755 "$T"
fail=0
started_munge=0
cleanup() {
    [ -n "${SLURM_CONF:-}" ] && scontrol shutdown > /dev/null 2>&1
    sleep 1
    for f in "$T"/slurmctld.pid "$T"/slurmd.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2> /dev/null; done
    [ $started_munge = 1 ] && [ -s "$T/munged.pids" ] && kill $(cat "$T/munged.pids") 2> /dev/null
    [ $fail = 0 ] && rm -rf "$T"
}
trap cleanup EXIT

# munge: a key if the package left none, then the daemon as the munge user
if ! pgrep -x munged > /dev/null; then
    [ -f /etc/munge/munge.key ] || { mungekey -c 2> /dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2> /dev/null; }
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge /run/munge /var/log/munge /var/lib/munge 2> /dev/null
    runuser -u munge -- /usr/sbin/munged || { echo "FAIL: munged did not start"; exit 1; }
    started_munge=1
    # none ran before: every munged now is the one started here (it daemonised)
    for _ in $(seq 1 50); do pgrep -x munged > "$T/munged.pids" && break; sleep 0.1; done
fi
cat > "$T/slurm.conf" <<EOC
ClusterName=hbtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$T/jobcomp.txt
MpiDefault=pmix
ReturnToService=2
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
SlurmctldPort=$((16817 + RANDOM % 200))
SlurmdPort=$((17018 + RANDOM % 200))
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 Sockets=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=16000
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOC
mkdir -p "$T/state" "$T/spool"
export SLURM_CONF=$T/slurm.conf
/usr/sbin/slurmctld -c -f "$SLURM_CONF" || { echo "FAIL: slurmctld"; exit 1; }
/usr/sbin/slurmd -N localhost -f "$SLURM_CONF" || { echo "FAIL: slurmd"; cat "$T/slurmd.log"; exit 1; }
for i in $(seq 1 60); do [ "$(sinfo -h -o %T 2> /dev/null)" = idle ] && break; sleep 0.5; done
[ "$(sinfo -h -o %T)" = idle ] || { echo "FAIL: the node is not idle: $(sinfo -h -o %T)"; tail "$T/slurmctld.log"; exit 1; }
echo "ok: one-node Slurm up ($(sinfo -h -o '%P %N %T'))"

# four boxes; the held-out one (last) inside the range of the other three
cat > "$T/table.txt" <<EOT
#Name Omega_m sigma_8 A_SN1 A_AGN1 A_SN2 A_AGN2 seed
LH_0 0.20 0.70 0.50 0.50 0.70 0.70 1
LH_1 0.40 0.90 2.00 2.00 1.50 1.50 2
LH_2 0.30 0.80 1.00 1.00 1.00 1.00 3
LH_3 0.25 0.75 0.80 0.90 0.90 0.90 4
EOT
export TABLE=$T/table.txt WORK=$T/work HB_BIN=$HB N_BOXES=4 N_HELDOUT=1 ROWS_PER_TASK=2 GRID=16 \
       SUITE_ARGS="simulation.n_steps=4" STEPS=400 BATCH=2 WIDTH=4 LR=3e-3 CKPT=25 EMU_STEPS=4 SEEDS=2 REPAINTS=2
ids=$(bash "$SRC/jobs/pipeline.sh") || { echo "FAIL: pipeline.sh"; exit 1; }
echo "ok: submitted $ids"
get() { echo "$ids" | tr ' ' '\n' | grep "^$1=" | cut -d= -f2; }
train=$(get train)
# when training runs and has checkpointed, send the warning signal through Slurm
for i in $(seq 1 600); do
    st=$(squeue -h -j "$train" -o %T 2> /dev/null)
    [ "$st" = RUNNING ] && [ -f "$WORK/model.h5" ] && break
    [ -z "$st" ] && break
    squeue -h -o '%r' | grep -Eq 'DependencyNeverSatisfied|PartitionTimeLimit' && break
    sleep 0.2
done
if [ "$st" = RUNNING ]; then
    scancel --signal=USR1 --batch "$train" && echo "ok: sent USR1 to train job $train"
    # Slurm holds a requeued job for about two minutes (BeginTime) while the
    # old run is cleaned up; release it after 10 s (a restart in the same
    # second as the requeue failed here now and then)
    for i in $(seq 1 300); do
        if [ "$(squeue -h -j "$train" -o %r 2> /dev/null)" = BeginTime ]; then
            sleep 10
            scontrol update JobId="$train" StartTime=now
            break
        fi
        sleep 0.2
    done
else
    echo "FAIL: train job $train never ran with a checkpoint (state '$st')"; fail=1
fi
# wait for every job; a failed job leaves its dependants pending forever: stop then
for i in $(seq 1 1200); do
    q=$(squeue -h -o '%i %r' 2> /dev/null)
    [ -z "$q" ] && break
    if echo "$q" | grep -Eq 'DependencyNeverSatisfied|PartitionTimeLimit|JobHeld'; then
        echo "FAIL: a job failed; its dependants can never run:"; echo "$q"; fail=1
        for f in "$WORK"/*.out; do echo "== $f"; tail -5 "$f"; done
        scancel --user root; sleep 1; break
    fi
    sleep 0.5
done
[ -z "$(squeue -h)" ] || { echo "FAIL: jobs still queued: $(squeue -h)"; fail=1; }
# every job (array tasks included) completed with exit 0: the last record of
# each job id counts (a requeue leaves an earlier PENDING record)
while read -r line; do
    case "$line" in *JobState=COMPLETED*ExitCode=0:0*) ;; *) echo "FAIL: $line"; fail=1 ;; esac
done < <(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^JobId=/) last[$i] = $0 } END { for (j in last) print last[j] }' "$T/jobcomp.txt")
njobs=$(grep -c "JobState=COMPLETED" "$T/jobcomp.txt")
echo "ok: $njobs job records completed with exit 0"
# the train job was requeued and resumed from its checkpoint
tout=$WORK/hb-train-$train.out
grep -q "stop requested" "$tout" && grep -q "requeueing" "$tout" && grep -q "resume: .* at step" "$tout" \
    && grep -q "train: done" "$tout" || { echo "FAIL: no requeue/resume in $tout"; tail -20 "$tout"; fail=1; }
grep -q "resume: " "$tout" && echo "ok: train requeued and resumed ($(grep -o 'resume: .*' "$tout" | head -1))"
# train.sbatch trains with the demo's recipe unless RECIPE says otherwise; LR=3e-3 above changes it
if grep -q "train: --recipe demo" "$tout" && grep -q "lr 3.00e-03, .*noise slopes 0.3 0.1, .*1.5 cells of the DM above 3" "$tout"; then
    echo "ok: train.sbatch: the demo's recipe, its learning rate changed by LR"
else
    echo "FAIL: train.sbatch did not train with the demo's recipe and LR"; grep 'recipe\|network w' "$tout"; fail=1
fi
for f in boxes/LH_0.h5 boxes/LH_3.h5 boxes/params.txt model.h5 emulated/LH_3_s1.h5 emulated/LH_3_s2.h5 floor/LH_3_m1002.h5 report.h5 report.txt; do
    [ -s "$WORK/$f" ] || { echo "FAIL: $WORK/$f missing"; fail=1; }
done
h5dump -a /step "$WORK/model.h5" | grep -q "400" || { echo "FAIL: the model did not reach step 400"; fail=1; }
[ $fail = 0 ] && echo "ok: every output present" || { echo "logs in $T"; tail -5 "$T/slurmctld.log"; }
exit $fail
