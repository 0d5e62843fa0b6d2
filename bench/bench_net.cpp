// Network-SGD steps per second (networks x steps / s) of `soret net` (a benchmark, not a test).
//
// Workload (issue 4): M = N = 100, an ensemble of 64 networks, |B| = 1 and 16, 1 and 2 threads,
// float64, BCE, Gaussian inputs with random labels, fresh samples every step (their generation is
// included). "training only": no records (one record window over the whole run) and no (V, b)
// grid; "recording": activation rate, |V|, b statistics, loss and gradient variances every 10 steps.
//
// Usage: bench_net [steps=2000] [reps=3]
#include <omp.h>

#include <cstdio>
#include <cstdlib>

#include "soret/net/trainer.hpp"

using namespace soret::net;

namespace {
double measure(int batch, int threads, bool record, std::uint64_t steps, int reps) {
  NetConfig c;
  c.M = c.N = 100;
  RunSpec spec;
  spec.eta = 0.05;
  spec.batch = batch;
  TrainOptions o;
  o.ensemble = 64;
  o.steps = steps;
  o.record_every = record ? 10 : steps;
  o.threads = threads;
  o.grid_bins_v = o.grid_bins_b = 0;
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const auto res = train(c, spec, o);
    best = std::max(best, double(o.ensemble) * double(steps) / res.seconds);
  }
  return best;
}
}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t steps = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  std::printf("bench_net: M = N = 100, 64 networks, %llu steps, best of %d, %d hardware threads\n",
              (unsigned long long)steps, reps, omp_get_num_procs());
  std::printf("%6s %8s %22s %22s %10s\n", "|B|", "threads", "training only (k/s)", "recording /10 (k/s)", "overhead");
  for (int B : {1, 16})
    for (int th : {1, 2}) {
      const double a = measure(B, th, false, steps, reps), b = measure(B, th, true, steps, reps);
      std::printf("%6d %8d %22.1f %22.1f %9.1f%%\n", B, th, a / 1e3, b / 1e3, 100 * (a / b - 1));
      std::fflush(stdout);
    }
  return 0;
}
