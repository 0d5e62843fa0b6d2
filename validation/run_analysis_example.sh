#!/bin/sh
# CTest driver of validation/analysis_example.py: a small walk and a small net sweep, then the
# script on them. Exit 77 (skipped) when /usr/bin/python3 lacks h5py, numpy or matplotlib.
# Usage: run_analysis_example.sh SORET_BINARY WORK_DIR
set -eu
soret=$1
dir=$2
script_dir=$(cd "$(dirname "$0")" && pwd)
if ! /usr/bin/python3 -c "import h5py, numpy, matplotlib" 2>/dev/null; then
  echo "skipped: /usr/bin/python3 lacks h5py, numpy or matplotlib"
  exit 77
fi
mkdir -p "$dir"
"$soret" walk -q --walkers 1e4 --steps 100 --bins 20 --threads 2 --out "$dir/walk.h5"
"$soret" net -q --eta 0.05,0.1 --ensemble 8 --steps 200 --record-every 10 --bootstrap 0 --threads 2 --out "$dir/net.h5"
/usr/bin/python3 "$script_dir/analysis_example.py" "$dir/walk.h5" "$dir/net.h5" "$dir"
test -s "$dir/activation_rate_eta.png"
