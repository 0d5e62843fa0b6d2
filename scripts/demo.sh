#!/usr/bin/env bash
# Sets up (Debian packages), builds and runs the main job on built-in defaults:
# one million walkers, 1-D, g = 1 + 0.5 sin(2 pi q) on a periodic [0,1), 1000 steps -> soret-walk.h5.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/soret walk "$@"
