#!/usr/bin/env bash
# hydrobridge simulate from the command line: bad input fails clearly and
# writes nothing; output files made on 1, 3 and 4 ranks are identical
# (h5diff compares every dataset, particles included); the layout carries
# the attributes other stages read. Usage: simulate_cli.sh HYDROBRIDGE SRCDIR
set -u
HB=$1
fail=0
expect_fail() {   # expect_fail REGEX CMD...: non-zero exit, message, no dm_*.h5 left
    local want=$1; shift
    rm -f dm_*.h5 dm_*.h5.tmp
    timeout -k 5 120 "$@" >stdout.txt 2>stderr.txt
    local rc=$?
    if [ $rc -eq 0 ]; then echo "FAIL (exit 0): $*"; fail=1; return; fi
    if ! grep -Eq "$want" stderr.txt; then echo "FAIL (message): $* -- wanted /$want/:"; cat stderr.txt; fail=1; return; fi
    if ls dm_*.h5 dm_*.h5.tmp >/dev/null 2>&1; then echo "FAIL (output left): $*"; fail=1; return; fi
    echo "ok: $(grep -Eo "$want" stderr.txt | head -1)"
}
cat > run.ini <<'EOI'
[cosmology]
omega_m = 0.3
sigma_8 = 0.8
[simulation]
box_size = 25
n_particles = 16
z_init = 9
z_out = 1, 0
n_steps = 6
seed = 5
[output]
file = dm_z{z}.h5
particles = 1
EOI
printf '[simulation]\nbox_size = 25\n' > nocosmo.ini

expect_fail 'z_out = 12 is above simulation.z_init = 9' mpirun -np 2 "$HB" simulate run.ini simulation.z_out=12
expect_fail 'simulation.box_size: -25 is outside the allowed range' mpirun -np 2 "$HB" simulate run.ini simulation.box_size=-25
expect_fail 'n_particles = 2 is smaller than the 4 ranks' mpirun -np 4 "$HB" simulate run.ini simulation.n_particles=2
expect_fail 'missing required parameter cosmology.omega_m' mpirun -np 2 "$HB" simulate nocosmo.ini
expect_fail 'has no \{z\}' mpirun -np 2 "$HB" simulate run.ini output.file=dm.h5
expect_fail 'spectral needs mesh_factor = 1' mpirun -np 2 "$HB" simulate run.ini simulation.force_kernel=spectral
expect_fail 'directory no/dir does not exist' mpirun -np 2 "$HB" simulate run.ini output.file=no/dir/dm_z{z}.h5

for np in 1 3 4; do
    mkdir -p np$np
    (cd np$np && timeout -k 5 120 mpirun -np $np "$HB" simulate ../run.ini > log.txt 2>&1) \
        || { echo "FAIL: simulate on $np ranks"; cat np$np/log.txt; fail=1; }
done
for z in 1.00 0.00; do
    for np in 3 4; do
        if h5diff np1/dm_z$z.h5 np$np/dm_z$z.h5 /fields/dm_density >/dev/null && \
           h5diff np1/dm_z$z.h5 np$np/dm_z$z.h5 /particles >/dev/null; then
            echo "ok: z=$z identical on 1 and $np ranks"
        else
            echo "FAIL: z=$z differs between 1 and $np ranks"; h5diff -r np1/dm_z$z.h5 np$np/dm_z$z.h5 | tail -3; fail=1
        fi
    done
done
grep -q "step 6/6\|6/6 steps" np1/log.txt || { echo "FAIL: no progress lines"; fail=1; }
for attr in box_size redshift omega_m omega_b h n_s sigma_8 a_sn1 a_agn1 a_sn2 a_agn2 seed; do
    h5dump -a /$attr np1/dm_z0.00.h5 >/dev/null 2>&1 || { echo "FAIL: attribute /$attr missing"; fail=1; }
done
h5dump -a /fields/dm_density/mass_assignment np1/dm_z0.00.h5 | grep -q '"cic"' || { echo "FAIL: mass_assignment"; fail=1; }
h5dump -a /parameters/simulation.seed np1/dm_z0.00.h5 | grep -q '"5"' || { echo "FAIL: /parameters"; fail=1; }
# the density is rho/mean: its P(k) through the pk command has the expected header and k_F
timeout 60 mpirun -np 2 "$HB" pk np1/dm_z0.00.h5 --field dm_density --out pk.txt >/dev/null 2>&1 || { echo "FAIL: pk"; fail=1; }
head -1 pk.txt | grep -q "k_F = 0.251327" || { echo "FAIL: pk header"; head -2 pk.txt; fail=1; }
exit $fail
