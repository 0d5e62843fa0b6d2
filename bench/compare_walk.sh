#!/usr/bin/env bash
# soret's walker against yardsticks, measured in one session on this machine (compare ratios,
# never absolute figures from another run or machine).
#
# Usage: bench/compare_walk.sh ANCHORS_DIR [walkers=1048576] [steps=500] [rounds=3]
#
# ANCHORS_DIR holds walk_limit.cpp (a hand-tuned single-purpose kernel: the practical limit of
# this workload) and walk_numpy.py (the same workload in vectorised NumPy). Nothing of them is
# part of soret: walk_limit is compiled into build/anchors/, walk_numpy runs with Debian's
# python3-numpy. The workload of all four: 1-D, g = 1 + 0.5 sin(2 pi q), periodic [0, 1),
# eta = 0.005, Rademacher noise, 100 bins, density and face crossings every step, float64.
#   walk_limit --rng counter  modes step and flux (its flux mode counts density + net crossings)
#   bench_walk                rows step and flux (density + crossings in per-step windows)
#   soret walk                the command line, whole process, output file written
# bench_walk's other rows (fine grid, general integrator, step statistics, g of two coordinates)
# run once after the rounds.
#   walk_numpy.py             mode flux, every step
# The measurements are interleaved over `rounds` rounds; each figure is the median.
set -euo pipefail
cd "$(dirname "$0")/.."
anchors=${1:?usage: bench/compare_walk.sh ANCHORS_DIR [walkers] [steps] [rounds]}
W=${2:-1048576}
T=${3:-500}
R=${4:-3}
TH=${THREADS:-$(nproc)}
[[ -f "$anchors/walk_limit.cpp" ]] || { echo "compare_walk: no walk_limit.cpp in $anchors" >&2; exit 2; }
[[ -x build/bench/bench_walk && -x build/soret ]] || { echo "compare_walk: build soret first (scripts/test.sh)" >&2; exit 2; }

mkdir -p build/anchors
g++ -O3 -march=native -fopenmp -std=c++20 "$anchors/walk_limit.cpp" -o build/anchors/walk_limit
# walk_numpy imports a contention monitor that may not be shipped with it: a minimal one.
if [[ ! -f "$anchors/contention.py" ]]; then
  cat > build/anchors/contention.py <<'EOF'
import os, time
class Monitor:
    """CPU used by other processes during the block, as a fraction of the machine."""
    def _busy(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")
    def __enter__(self):
        self.b0, self.o0, self.t0 = self._busy(), sum(os.times()[:4]), time.perf_counter()
        return self
    def __exit__(self, *a):
        wall = time.perf_counter() - self.t0
        other = (self._busy() - self.b0) - (sum(os.times()[:4]) - self.o0)
        self.other_cpu_frac = max(0.0, other / (wall * os.cpu_count())) if wall > 0 else 0.0
        return False
EOF
fi
have_numpy=1
/usr/bin/python3 -c 'import numpy' 2>/dev/null || have_numpy=0

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$R"); do
  echo "compare_walk: round $r of $R" >&2
  build/anchors/walk_limit --walkers "$W" --steps "$T" --eta 0.005 --bins 100 --threads "$TH" --rng counter \
    --modes step,flux --repeats 1 2>/dev/null | tail -1 >"$out/limit.$r.json"
  build/bench/bench_walk "$W" "$T" 1 "$TH" step,flux,2d | grep '^ROW' >"$out/bench.$r"
  s=$(date +%s.%N)
  build/soret walk --walkers "$W" --steps "$T" --eta 0.005 --bins 100 --density-at every:1 --flux-windows every:1 \
    --threads "$TH" --quiet --out "$out/walk.h5"
  e=$(date +%s.%N)
  echo "$s $e" >"$out/cli.$r"
  if [[ $have_numpy == 1 ]]; then
    PYTHONPATH=build/anchors /usr/bin/python3 "$anchors/walk_numpy.py" --walkers 1000000 --steps 100 --eta 0.005 \
      --bins 100 --mode flux --repeats 1 2>/dev/null | tail -1 >"$out/numpy.$r.json" || have_numpy=0
  fi
done

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; soret's fused kernel: $(build/bench/bench_walk 1024 1 1 1 step | head -1 | sed 's/.*fused kernel: //')"
# The other rows once, on a quarter of the walkers and a fifth of the steps (some are slow).
echo "compare_walk: other rows" >&2
build/bench/bench_walk $((W / 4)) $((T / 5 > 0 ? T / 5 : 1)) 1 "$TH" fine,flux_general,flux_stepstats,2d_mixed | grep '^ROW' >"$out/bench.other"

/usr/bin/python3 - "$out" "$R" "$W" "$T" "$TH" "$have_numpy" <<'EOF'
import json, statistics, sys
out, R, W, T, TH, have_numpy = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
med = statistics.median
lim = {"step": [], "flux": []}
bench = {}
cli, npy = [], []
for r in range(1, R + 1):
    j = json.load(open(f"{out}/limit.{r}.json"))
    for row in j["results"]:
        lim[row["mode"]].append(row["walker_steps_per_s_median"]) if row["mode"] in lim else None
    for line in open(f"{out}/bench.{r}"):
        _, key, th, rate = line.split()
        if int(th) == TH:
            bench.setdefault(key, []).append(float(rate))
    s, e = map(float, open(f"{out}/cli.{r}").read().split())
    cli.append(W * T / (e - s))
    if have_numpy:
        try:
            j = json.load(open(f"{out}/numpy.{r}.json"))
            npy.append(j["results"]["flux"]["walker_steps_per_s_median"])
        except Exception:
            pass
for line in open(f"{out}/bench.other"):
    _, key, th, rate = line.split()
    if int(th) == TH:
        bench.setdefault(key, []).append(float(rate))
M = 1e6
ls, lf = med(lim["step"]), med(lim["flux"])
bs, bf = med(bench["step"]), med(bench["flux"])
c = med(cli)
print(f"walker-steps/s, {TH} threads, {W} walkers x {T} steps, median of {R} interleaved rounds")
print(f"| measurement | M walker-steps/s | ratio |")
print(f"|---|---:|---|")
print(f"| walk_limit (hand-tuned), stepping only | {ls/M:.0f} | |")
print(f"| soret bench_walk, stepping only | {bs/M:.0f} | {bs/ls:.2f} of walk_limit |")
print(f"| walk_limit, density + crossings every step | {lf/M:.0f} | |")
print(f"| soret bench_walk, density + crossings every step | {bf/M:.0f} | {bf/lf:.2f} of walk_limit |")
print(f"| soret walk (command line, whole process, file written) | {c/M:.0f} | {c/bf:.2f} of bench_walk |")
if npy:
    n = med(npy)
    print(f"| walk_numpy.py (NumPy), density + crossings every step | {n/M:.1f} | soret walk = {c/n:.0f}x NumPy |")
if "2d" in bench:
    print(f"| soret bench_walk row '2d' (50x50) | {med(bench['2d'])/M:.1f} | 1-D is {bf/med(bench['2d']):.2f}x faster |")
for k in ("fine", "flux_general", "flux_stepstats", "2d_mixed"):
    if k in bench:
        print(f"| soret bench_walk row '{k}' ({W // 4} walkers x {max(1, T // 5)} steps) | {med(bench[k])/M:.1f} | |")
EOF
