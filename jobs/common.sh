# jobs/common.sh: sourced by every batch script. Finds hydrobridge and an MPI
# launcher; every variable can be set in the environment (sbatch --export).
HB_ROOT=${HB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
HB_BIN=${HB_BIN:-$HB_ROOT/build/hydrobridge}
WORK=${WORK:-$HB_ROOT/pipeline_out}          # everything the pipeline writes
NTASKS=${SLURM_NTASKS:-${NTASKS:-2}}
# mpirun as root (containers, the test cluster) and more ranks than cores
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# HB_LAUNCH=srun uses srun --mpi=pmix (Open MPI has no Slurm PMI2); the default is mpirun
hb_run() {
    if [ "${HB_LAUNCH:-mpirun}" = srun ]; then srun --mpi=pmix -n "$NTASKS" "$HB_BIN" "$@"
    else mpirun -np "$NTASKS" "$HB_BIN" "$@"; fi
}
mkdir -p "$WORK"
