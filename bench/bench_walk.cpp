// Walker-steps per second of the walk engine (a benchmark, not a test).
//
// Workload: 1-D Rademacher walk, g = 1 + 0.5 sin(2 pi q) given as an expression, periodic [0,1),
// eta = 0.005 (the workload of the hand-tuned limit kernel walk_limit.cpp), 100 bins, float64;
// stepping only, + density every step, + density and face crossings every step (fused and
// general integrator), a 2-D walk (50 x 50 density grid), a fine grid (50 000 bins: jumps over
// hundreds of faces), a g of two coordinates (exact muParser evaluation) and the opt-in step
// statistics; 1 and 2 threads. Timing covers the stepping loop only (WalkResults::seconds: not
// initialisation or output). Each figure is the best of `reps` runs.
//
// Usage: bench_walk [walkers=1000000] [steps=200] [reps=3] [threads=1,2] [rows=all|key,key,...]
// Output: a table, and one line per figure "ROW <key> <threads> <walker-steps/s>" for scripts.
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "soret/walk/integrator.hpp"
#include "soret/walk/kernels.hpp"

using namespace soret;

namespace {

struct Row {
  const char* key;
  const char* name;
  int dim;
  bool density, flux, fused, step_stats;
  int bins;
  bool mixed_g;  // g_0 depends on both coordinates
  int every = 1;  // record density and flux every `every` steps
};

double measure(const Row& row, int threads, std::uint64_t walkers, std::uint64_t steps, int reps, std::string& kernel) {
  WalkModel m;
  m.dim = row.dim;
  m.eta = 0.005;
  for (int a = 0; a < row.dim; ++a) {
    const std::string q = "q" + std::to_string(a);
    m.g.push_back(row.mixed_g && a == 0 ? "1 + 0.25*sin(2*_pi*q0) + 0.25*cos(2*_pi*q1)" : "1 + 0.5*sin(2*_pi*" + q + ")");
    m.groups.push_back({a});
    m.axes.push_back(AxisSpec{0, 1, Boundary::periodic});
  }
  ObserverPlan p;
  for (int a = 0; a < std::min(row.dim, 2); ++a) {
    p.hist_axes.push_back(a);
    p.lattice.emplace_back(0.0, 1.0, row.bins);
  }
  const std::uint64_t k = row.every;
  if (row.density)
    for (std::uint64_t t = 0; t <= steps; t += k) p.density_times.push_back(t);
  if (row.flux)
    for (std::uint64_t t = 0; t + k <= steps; t += k) p.flux_windows.emplace_back(t, t + k);
  p.step_stats = row.step_stats;
  RunOptions o;
  o.walkers = walkers;
  o.steps = steps;
  o.threads = threads;
  o.fused = row.fused;
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    WalkEngine e(m, p, InitSpec::parse("uniform", row.dim), o);
    const auto res = e.run();
    kernel = res.kernel;
    best = std::max(best, double(walkers) * double(steps) / res.seconds);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t walkers = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const std::uint64_t steps = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 3;
  std::vector<int> threads;
  {
    std::stringstream ss(argc > 4 ? argv[4] : "1,2");
    std::string tok;
    while (std::getline(ss, tok, ',')) threads.push_back(std::atoi(tok.c_str()));
  }
  std::printf("bench_walk: %llu walkers x %llu steps, best of %d, %d hardware threads, fused kernel: %s\n",
              (unsigned long long)walkers, (unsigned long long)steps, reps, omp_get_num_procs(), fused_isa());
  std::printf("%-58s %8s %9s %16s\n", "workload", "threads", "integr.", "M walker-steps/s");
  const Row rows[] = {
      {"step", "1-D stepping only", 1, false, false, true, false, 100, false},
      {"density", "1-D + density every step", 1, true, false, true, false, 100, false},
      {"flux", "1-D + density + flux every step", 1, true, true, true, false, 100, false},
      {"flux_general", "1-D + density + flux every step, general integrator", 1, true, true, false, false, 100, false},
      {"flux_stepstats", "1-D + density + flux + step statistics every step", 1, true, true, true, true, 100, false},
      {"fine", "1-D, 50 000 bins, density + flux every 20 steps", 1, true, true, true, false, 50000, false, 20},
      {"2d", "2-D (50x50) + density + flux every step", 2, true, true, true, false, 50, false},
      {"2d_mixed", "2-D (50x50), g_0(q0, q1) (muParser) + density + flux", 2, true, true, true, false, 50, true},
  };
  const std::string only = argc > 5 ? argv[5] : "all";
  for (const auto& r : rows)
    for (int th : threads) {
      if (only != "all" && ("," + only + ",").find("," + std::string(r.key) + ",") == std::string::npos) continue;
      std::string kernel;
      const double rate = measure(r, th, walkers, steps, reps, kernel);
      std::printf("%-58s %8d %9s %16.1f\n", r.name, th, kernel.c_str(), rate / 1e6);
      std::printf("ROW %s %d %.6g\n", r.key, th, rate);
      std::fflush(stdout);
    }
  return 0;
}
