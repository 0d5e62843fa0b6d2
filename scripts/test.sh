#!/usr/bin/env bash
# Sets up (Debian packages), builds and runs the test suite: the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSORET_WERROR=ON >/dev/null   # CI: a new warning fails the build
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j1
