#!/usr/bin/env bash
# soret's generic backend (float64) and the same workloads in PyTorch (float32 and float64), in one
# run, on the same machine (about 10 minutes on 2 cores). Usage: bash bench/bench_net_deep.sh [BUILD_DIR=build]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
"$build/bench/bench_net_deep" all 500 100 2
/usr/bin/python3 "$here/bench_net_deep_torch.py" all 100 10 2
