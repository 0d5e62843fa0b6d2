#pragma once
// Small builders shared by the tests.
#include <string>
#include <vector>

#include "soret/walk/integrator.hpp"

namespace soret::test {

inline WalkModel model_1d(const std::string& g, double eta, Boundary b, double lo = 0.0, double hi = 1.0) {
  return walk_1d(g, eta, b, lo, hi);
}

inline ObserverPlan plan_1d(const WalkModel& m, int bins, std::vector<std::uint64_t> times, std::vector<Window> windows) {
  ObserverPlan p;
  p.hist_axes = {0};
  p.lattice = {Lattice(m.axes[0].lo, m.axes[0].hi, bins)};
  p.density_times = std::move(times);
  p.flux_windows = std::move(windows);
  return p;
}

inline std::vector<std::uint64_t> every(std::uint64_t k, std::uint64_t steps) {
  std::vector<std::uint64_t> t;
  for (std::uint64_t s = 0; s <= steps; s += k) t.push_back(s);
  return t;
}

inline std::vector<Window> windows_every(std::uint64_t k, std::uint64_t steps) {
  std::vector<Window> w;
  for (std::uint64_t a = 0; a + k <= steps; a += k) w.emplace_back(a, a + k);
  return w;
}

inline RunOptions run_opts(std::uint64_t walkers, std::uint64_t steps, std::uint64_t seed = 1, int threads = 2) {
  RunOptions o;
  o.walkers = walkers;
  o.steps = steps;
  o.seed = seed;
  o.threads = threads;
  return o;
}

}  // namespace soret::test
