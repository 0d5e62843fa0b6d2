#!/usr/bin/env bash
# The MPI variant (README, third command): installs Open MPI, builds soret with -DSORET_MPI=ON
# into build-mpi/ (same binary name) and runs its tests: the MPI tests (mpirun -np 1, 2, 3 against
# a single process, bit for bit) and the quick unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh --with-mpi
cmake -S . -B build-mpi -DCMAKE_BUILD_TYPE=Release -DSORET_MPI=ON -DSORET_BUILD_BENCH=OFF -DSORET_WERROR=ON >/dev/null
cmake --build build-mpi -j"$(nproc)"
# mpirun refuses root unless told; CI containers run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build-mpi --output-on-failure -L "mpi|quick" -j1
