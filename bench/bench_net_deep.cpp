// SGD steps per second (networks x steps / s) of the generic backend of `soret net` (a benchmark,
// not a test), float64.
//
// Workloads (issue 7): the 6-layer fully-connected net fc:100,100,100,100,100 on fresh Gaussian
// inputs (M = 100, random labels, BCE; sample generation included), 64 networks; the 6-layer CNN
// conv:10,10,10,10,10,10 (5x5, stride 1) on Fashion-MNIST (10 classes, cross-entropy, examples
// drawn with replacement), 16 networks; |B| = 1 and 16; 1 and 2 threads. "training": the weight
// norms only at each record; "+ grad var": records every 10 steps with S = 256 samples (gradient
// variance per layer, activation rates, loss, accuracy), whose cost is reported separately.
//
// Usage: bench_net_deep [fc|cnn|all] [steps_fc=2000] [steps_cnn=200] [reps=3] [blas|loops] [gemm|direct]
// (loops: the batched Dense products as hand-written loops instead of libxsmm (OpenBLAS where it declines); direct: the
// convolutions by the direct kernels instead of im2col + OpenBLAS; default: default_conv_impl())
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "soret/net/deep_trainer.hpp"

using namespace soret::net;

namespace {

bool g_blas = true;
ConvImpl g_conv = default_conv_impl();

struct Result {
  double rate = 0, record_share = 0;
};

Result measure(const Architecture& a, const Dataset& d, Loss loss, SamplerKind sk, int E, int batch, int threads,
               bool grad_var, std::uint64_t steps, int reps) {
  RunSpec spec;
  spec.eta = 0.01;
  spec.batch = batch;
  DeepOptions o;
  o.ensemble = E;
  o.steps = steps;
  o.record_every = grad_var ? 10 : steps;
  o.grad_samples = grad_var ? 256 : 0;
  o.threads = threads;
  o.loss = loss;
  o.sampler = sk;
  o.blas = g_blas;
  o.conv = g_conv;
  Result best;
  for (int r = 0; r < reps; ++r) {
    const auto res = train_deep(a, d, d, spec, o);
    const double rate = double(E) * double(steps) / res.seconds;
    if (rate > best.rate) best = Result{rate, res.record_seconds / (res.seconds * threads)};
  }
  return best;
}

void table(const char* title, const Architecture& a, const Dataset& d, Loss loss, SamplerKind sk, int E,
           std::uint64_t steps, int reps) {
  std::printf("%s: %s, %zu parameters, %d networks, %llu steps, best of %d\n", title, a.text.c_str(), a.params(), E,
              (unsigned long long)steps, reps);
  std::printf("%6s %8s %16s %22s %16s\n", "|B|", "threads", "training (/s)", "+ grad var /10 (/s)", "record share");
  for (int B : {1, 16})
    for (int th : {1, 2}) {
      const auto t = measure(a, d, loss, sk, E, B, th, false, steps, reps);
      const auto g = measure(a, d, loss, sk, E, B, th, true, steps, reps);
      std::printf("%6d %8d %16.0f %22.0f %15.0f%%\n", B, th, t.rate, g.rate, 100 * g.record_share);
      std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "all";
  const std::uint64_t steps_fc = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2000;
  const std::uint64_t steps_cnn = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 200;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 3;
  g_blas = !(argc > 5 && std::strcmp(argv[5], "loops") == 0);
  if (argc > 6) g_conv = std::strcmp(argv[6], "direct") == 0 ? ConvImpl::direct : ConvImpl::gemm;
  std::printf("bench_net_deep: float64, %d hardware threads, batched Dense products by %s, convolutions by %s\n",
              omp_get_num_procs(), g_blas ? "libxsmm (OpenBLAS where it declines)" : "hand-written loops",
              g_conv == ConvImpl::gemm ? "im2col + OpenBLAS" : "direct kernels");
  if (what == "fc" || what == "all") {
    NetConfig c;
    c.M = 100;
    SyntheticDataset d(c, 1);
    const auto a = Architecture::fc(Shape{100, 1, 1}, {100, 100, 100, 100, 100}, 1);
    table("FC", a, d, Loss::bce, SamplerKind::online, 64, steps_fc, reps);
  }
  if (what == "cnn" || what == "all") {
    const auto d = read_fashion_mnist(fashion_mnist_default_dir(), "train", 10);
    const auto a = Architecture::conv(d->input(), {10, 10, 10, 10, 10, 10}, 5, 1, 10);
    table("CNN", a, *d, Loss::ce, SamplerKind::replacement, 16, steps_cnn, reps);
  }
  return 0;
}
