// Walker-steps per second of the walk engine (a benchmark, not a test).
//
// Workload (issue 2): 1-D Rademacher walk, g = 1 + 0.5 sin(2 pi q) given as an expression,
// periodic [0,1), eta = 0.01, 100 bins, float64; stepping only, + density every step, + flux
// every step; 1 and 2 threads; and a 2-D walk (50 x 50 density grid). Timing covers the stepping
// loop only (not initialisation or output). Each figure is the best of `reps` runs.
//
// Usage: bench_walk [walkers=1000000] [steps=200] [reps=3]
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "soret/walk/integrator.hpp"

using namespace soret;

namespace {

double measure(int dim, bool density, bool flux, int threads, std::uint64_t walkers, std::uint64_t steps, int reps) {
  WalkModel m;
  m.dim = dim;
  m.eta = 0.01;
  for (int a = 0; a < dim; ++a) {
    m.g.push_back("1 + 0.5*sin(2*_pi*q" + std::to_string(a) + ")");
    m.groups.push_back({a});
    m.axes.push_back(AxisSpec{0, 1, Boundary::periodic});
  }
  ObserverPlan p;
  for (int a = 0; a < dim; ++a) {
    p.hist_axes.push_back(a);
    p.lattice.emplace_back(0.0, 1.0, dim == 1 ? 100 : 50);
  }
  if (density)
    for (std::uint64_t t = 0; t <= steps; ++t) p.density_times.push_back(t);
  if (flux)
    for (std::uint64_t t = 0; t < steps; ++t) p.flux_windows.emplace_back(t, t + 1);
  p.step_stats = false;
  p.moments_every = 0;
  RunOptions o;
  o.walkers = walkers;
  o.steps = steps;
  o.threads = threads;
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    WalkEngine e(m, p, InitSpec::parse("uniform", dim), o);
    const auto res = e.run();
    best = std::max(best, double(walkers) * double(steps) / res.seconds);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t walkers = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const std::uint64_t steps = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 3;
  std::printf("bench_walk: %llu walkers x %llu steps, best of %d, %d hardware threads\n",
              (unsigned long long)walkers, (unsigned long long)steps, reps, omp_get_num_procs());
  std::printf("%-44s %8s %14s\n", "workload", "threads", "M walker-steps/s");
  struct Row { const char* name; int dim; bool density, flux; };
  const Row rows[] = {{"1-D stepping only", 1, false, false},
                      {"1-D + density every step", 1, true, false},
                      {"1-D + density + flux every step", 1, true, true},
                      {"2-D (50x50) + density + flux every step", 2, true, true}};
  for (const auto& r : rows)
    for (int th : {1, 2}) {
      const double rate = measure(r.dim, r.density, r.flux, th, walkers, steps, reps);
      std::printf("%-44s %8d %14.1f\n", r.name, th, rate / 1e6);
      std::fflush(stdout);
    }
  return 0;
}
