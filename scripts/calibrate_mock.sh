#!/usr/bin/env bash
# One-off calibration of the mock hydro model (issue 6): fiducial CAMELS-like
# PM boxes (Omega_m 0.3, sigma_8 0.8, 25 Mpc/h, 128^3 particles, z = 0, which
# resolves k = 10 h/Mpc; seed 42), then `hydrobridge calibrate-mock`, which fits
# mock.f0, r0, delta_c, width, k_jeans and sigma_gas0 so that the total-matter
# suppression follows the syren-baryon IllustrisTNG fit at k = 1-10 h/Mpc for
# A_AGN2 = 1, 0.5 and 2, and prints the table. The defaults in src/params.c and
# pm/mock.c hold the result (README, "The mock hydro model").
set -euo pipefail
. "$(dirname "$0")/setup.sh"
hb_build
work=${CAL_DIR:-$(mktemp -d)}
for seed in 42 7; do
    mpirun -np "${RANKS:-2}" "$HB_ROOT/build/hydrobridge" simulate "$HB_ROOT/scripts/calibration_box.ini" \
        simulation.seed=$seed "output.file=$work/fid${seed}_z{z}.h5" | tail -1
done
# fit on seed 42 from the shipped constants ("--iterations 0" only prints the
# table); then the same constants on seed 7: the box-to-box scatter (~6%).
# Giving both boxes fits their mean objective (tried: 5.2% worst, with four
# constants at their bounds; README).
mpirun -np "${RANKS:-2}" "$HB_ROOT/build/hydrobridge" calibrate-mock "$work/fid42_z0.00.h5" --iterations "${ITER:-150}" "$@"
mpirun -np "${RANKS:-2}" "$HB_ROOT/build/hydrobridge" calibrate-mock "$work/fid7_z0.00.h5" --iterations 0 "$@"
