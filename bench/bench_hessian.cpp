// Cost of the Hessian measurements of net/hessian.hpp (issue 12), one thread, float64: on S = 256
// samples, one gradient evaluation (the records' batched passes: forward_batch + backward_batch in
// chunks of 64), one Hessian-vector product, the Hutchinson trace with 32 probes, the exact
// Gauss-Newton trace and the Eq. 62 bound; the ratios to the gradient evaluation. Best of reps.
//
// Models: the two-layer teacher task of `soret net` (NetConfig defaults: M = N = 10, Gaussian
// inputs, hidden biases, BCE); fc:100,100,100,100,100 (six Dense layers) and fc:300 on
// Fashion-MNIST's shape (784 -> 10, cross-entropy); the 6-layer CNN conv:10,10,10,10,10,10 (5x5,
// stride 1: `soret net --arch conv:...` defaults) on 1x28x28 -> 10. Inputs are random (Gaussian,
// or uniform pixels in [0, 1)): the costs do not depend on the values. PyTorch initialisation.
//
// Measured (`bench_hessian 3`, 2-core AMD EPYC shared with another build, load ~2: +-30%; ms, and
// the ratio to one gradient evaluation; automatic chunks: 256 samples, 41 for the CNN):
//   model          params   gradient   HVP          Hutchinson, 32 probes     exact GN     Eq. 62
//   twolayer 10x10    120       0.03   0.05         1.0 (~1/probe; noise)     0.04         0.04
//   fc:300         238510      10.1    10.1 (1.0)   283 (28, 0.88/probe)      17 (1.7)     5.7 (0.6)
//   fc:100x5       119910       6.4    10.9 (1.7)   259 (41, 1.27/probe)      23 (3.6)     3.9 (0.6)
//   conv:10x6       14420     267     633 (2.4)     18400 (69, 2.16/probe)    2460 (9.2)   151 (0.6)
//
// Usage: bench_hessian [reps=3] [probes=32] [S=256] [chunk=0] (chunk: samples per pass of the
// Hessian functions, HessianWorkspace(a, chunk); 0: its automatic choice)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "soret/net/deep_trainer.hpp"
#include "soret/net/hessian.hpp"

using namespace soret::net;

namespace {

template <class F>
double best_seconds(int reps, F&& f) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

int g_chunk = 0;

void row(const char* name, const Architecture& a, Loss loss, bool pixels, int S, int probes, int reps) {
  std::mt19937_64 g(1);
  std::normal_distribution<double> N01;
  std::uniform_real_distribution<double> U;
  std::vector<double> p(a.params()), X(size_t(S) * a.input.size()), grad(a.params()), v(a.params()), Hv(a.params());
  std::vector<int> y(S);
  init_pytorch(a, 1, 0, p.data());
  for (double& x : X) x = pixels ? U(g) : N01(g);
  const int classes = a.outputs > 1 ? a.outputs : 2;
  for (int& l : y) l = int(g() % std::uint64_t(classes));
  for (double& x : v) x = N01(g);

  // one gradient evaluation as in train_deep()'s records (chunks of 64 samples)
  const int chunk = std::min(S, 64);
  BatchWorkspace bws(a, chunk);
  std::vector<double> dY(size_t(chunk) * a.outputs);
  const double t_grad = best_seconds(reps, [&] {
    std::fill(grad.begin(), grad.end(), 0.0);
    for (int k0 = 0; k0 < S; k0 += chunk) {
      const int n = std::min(chunk, S - k0);
      forward_batch(a, p.data(), &X[size_t(k0) * a.input.size()], n, bws);
      const double* F = bws.act.back().data();
      for (int q = 0; q < n; ++q) {
        bool ok = false;
        loss_and_grad(loss, F + size_t(q) * a.outputs, a.outputs, y[k0 + q], &dY[size_t(q) * a.outputs], &ok);
      }
      backward_batch(a, p.data(), dY.data(), n, bws, grad.data(), 1.0 / S);
    }
  });
  HessianWorkspace ws(a, g_chunk);
  const double t_grad2 = best_seconds(reps, [&] {
    std::fill(grad.begin(), grad.end(), 0.0);
    loss_gradient(a, p.data(), X.data(), y.data(), S, loss, grad.data(), ws);
  });
  const double t_hvp = best_seconds(reps, [&] { hvp(a, p.data(), X.data(), y.data(), S, loss, v.data(), Hv.data(), ws); });
  ProbeOptions o;
  o.probes = probes;
  TraceEstimate te;
  const double t_hutch = best_seconds(reps, [&] { te = hutchinson_trace(a, p.data(), X.data(), y.data(), S, loss, o, ws); });
  GaussNewton gn;
  const double t_gn = best_seconds(reps, [&] { gn = gauss_newton(a, p.data(), X.data(), y.data(), S, loss, ws); });
  Eq62 b;
  const double t_eq = best_seconds(reps, [&] { b = eq62_bound(a, p.data(), X.data(), y.data(), S, loss, ws); });
  std::printf("%-34s %8zu %9.2f %9.2f %9.2f (%4.1f) %9.1f (%5.1f, %4.2f/probe) %9.1f (%5.1f) %8.2f (%4.1f)\n", name,
              a.params(), 1e3 * t_grad, 1e3 * t_grad2, 1e3 * t_hvp, t_hvp / t_grad, 1e3 * t_hutch, t_hutch / t_grad,
              t_hutch / t_grad / probes, 1e3 * t_gn, t_gn / t_grad, 1e3 * t_eq, t_eq / t_grad);
  std::printf("%-34s chunk %d; trace %.6g +- %.3g (GN part %.6g +- %.3g, rest %.3g +- %.3g); exact GN trace %.6g; Eq. 62 bound %.4g "
              "(paper's form %.4g)\n",
              "", ws.chunk(), te.trace, te.trace_se, te.gn, te.gn_se, te.residual, te.residual_se, gn.trace, b.bound, b.paper);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 3;
  const int probes = argc > 2 ? std::atoi(argv[2]) : 32;
  const int S = argc > 3 ? std::atoi(argv[3]) : 256;
  if (argc > 4) g_chunk = std::atoi(argv[4]);
  omp_set_num_threads(1);  // (OpenBLAS's OpenMP build: single-threaded products, as inside train_deep())
  std::printf("bench_hessian: one thread, float64, S = %d samples, %d probes, best of %d; times in ms, (ratio to the "
              "gradient evaluation)\n",
              S, probes, reps);
  std::printf("%-34s %8s %9s %9s %16s %33s %17s %15s\n", "model", "params", "gradient", "grad(H)", "HVP", "Hutchinson",
              "exact GN trace", "Eq. 62 bound");
  NetConfig c;  // the two-layer teacher task's defaults
  row("twolayer M=10 N=10 (bce)", Architecture::twolayer(Shape{c.M, 1, 1}, c.N, c.biases()), Loss::bce, false, S, probes,
      reps);
  const Shape img{1, 28, 28};
  row("fc:300 784->10 (ce)", Architecture::fc(img, {300}, 10), Loss::ce, true, S, probes, reps);
  row("fc:100x5 784->10 (ce)", Architecture::fc(img, {100, 100, 100, 100, 100}, 10), Loss::ce, true, S, probes, reps);
  row("conv:10x6 5x5 s1 28x28->10 (ce)", Architecture::conv(img, {10, 10, 10, 10, 10, 10}, 5, 1, 10), Loss::ce, true, S,
      probes, reps);
  return 0;
}
