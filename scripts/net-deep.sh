#!/usr/bin/env bash
# Sets up (Debian packages, with python3-matplotlib and -h5py for the plots), builds, runs the
# paper's deep-network experiments (`soret net --study deep`: 6-layer FC on Gaussian inputs,
# 6-layer CNN and fc:300 on Fashion-MNIST) and draws their three-panel figures.
# Usage: scripts/net-deep.sh [OUT=net-deep] [more options of soret net, e.g. --study-size tiny]
# Writes OUT/*.h5, OUT/summary.md and OUT/*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-net-deep}
shift || true
bash scripts/setup-deps.sh --with-python
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/soret net --study deep --out "$out" "$@"
/usr/bin/python3 validation/plot_net_deep.py "$out"
