#!/usr/bin/env bash
# PM benchmark (issue 3): 128^3 particles, 256^3 force mesh, 10 steps, 2 ranks.
# Prints seconds per step, the ratio of a step to four 256^3 FFTs timed in the
# same run (the floor: one r2c and three c2r per force evaluation), and the
# peak memory per particle, for each mass assignment.
set -euo pipefail
. "$(dirname "$0")/setup.sh"
hb_build
RANKS=${RANKS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/bench.ini" <<EOI
[cosmology]
omega_m = 0.3
sigma_8 = 0.8
[simulation]
box_size = 100
n_particles = 128
mesh_factor = 2
z_init = 9
z_out = 0
n_steps = 10
[output]
file = $work/bench_z{z}.h5
EOI
printf "%-14s %6s %6s %10s %12s %10s %14s\n" "assignment" "ranks" "mesh" "s/step" "4 FFTs [s]" "step/floor" "bytes/particle"
for mas in cic tsc pcs; do
    line=$(timeout -k 10 600 mpirun -np "$RANKS" "$HB_ROOT/build/hydrobridge" simulate "$work/bench.ini" \
           simulation.mass_assignment=$mas | grep '^bench:')
    get() { echo "$line" | tr ' ' '\n' | grep "^$1=" | cut -d= -f2; }
    printf "%-14s %6s %6s %10s %12s %10s %14s\n" "$mas" "$(get ranks)" "$(get mesh)" "$(get step_s)" \
        "$(get fft4_s)" "$(get ratio)" "$(get bytes_per_particle)"
done
