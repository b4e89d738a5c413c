#!/usr/bin/env bash
# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer: builds
# build-asan/ (-DHB_SANITIZE=ON: -fsanitize=address,undefined, any UB report
# aborts) and runs CTest there. Arguments go to ctest (e.g. -R test_dist, or
# -E 'slurm|demo' to leave out the slowest). Leak checking is off: Open MPI
# and HDF5 keep global allocations alive until exit.
set -euo pipefail
. "$(dirname "$0")/setup.sh"
hb_install
echo "== configuring and building in $HB_ROOT/build-asan (sanitizers)"
cmake -S "$HB_ROOT" -B "$HB_ROOT/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHB_SANITIZE=ON > /dev/null
cmake --build "$HB_ROOT/build-asan" -j "$(nproc)" > /dev/null || { cmake --build "$HB_ROOT/build-asan"; exit 1; }
# allocator_may_return_null: the tests ask for impossible sizes and expect a clean error
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$HB_ROOT/build-asan"
ctest --output-on-failure --timeout 3600 "$@"
