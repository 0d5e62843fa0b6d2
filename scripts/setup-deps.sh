#!/usr/bin/env bash
# Install soret's build and run-time dependencies from Debian's packages.
# As root: installs what is missing with apt-get. Otherwise: lists what is missing and exits 1.
# Usage: scripts/setup-deps.sh [--with-python] [--with-mpi]
#   --with-python adds numpy/h5py/matplotlib for plots, xarray for validation/analysis_example.py
#   --with-mpi adds Open MPI (the -DSORET_MPI=ON build: scripts/test-mpi.sh)
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      libboost-dev libboost-program-options-dev
      libhdf5-dev hdf5-tools
      libmuparser-dev librandom123-dev doctest-dev libomp-dev
      zlib1g-dev libopenblas-openmp-dev libxsmm-dev dataset-fashion-mnist)
for arg in "$@"; do
  case "$arg" in
    --with-python) pkgs+=(python3 python3-numpy python3-h5py python3-matplotlib python3-xarray) ;;
    --with-mpi) pkgs+=(libopenmpi-dev openmpi-bin) ;;
    *) echo "setup-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup-deps: all dependencies present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-deps: missing Debian packages: ${missing[*]}" >&2
  echo "setup-deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-deps: done"
