#!/usr/bin/env bash
# Set up (packages, build) and run the whole test suite with CTest.
set -euo pipefail
. "$(dirname "$0")/setup.sh"
hb_setup
cd "$HB_ROOT/build"
ctest --output-on-failure --timeout 900 "$@"
