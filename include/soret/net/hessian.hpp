#pragma once
// The Hessian of the training loss of a network (issue 12; paper Appendix A.5, Eqs. 45-62).
//
// For an Architecture a, parameters p and n samples (X: n x a.input.size(), labels as in
// loss_and_grad(): 0/1 for bce and mse, the class for ce), the training loss is
//     L(p) = (1/n) sum_k loss(f(x_k; p), y_k),
// and H = d^2 L / dp^2 (params() x params()). Everything here is exact (no finite differences):
//  - hvp(): H v by forward-over-backward (Pearlmutter's R-operator): the forward pass of the
//    directional derivatives R{a} = d a / d eps (p + eps v) of every activation, then the backward
//    pass with its own directional derivatives, including the loss's second derivative
//    d^2 loss / df^2 and the ReLU's (zero almost everywhere). Per probe this costs about two
//    gradient evaluations (the activations and back-propagated gradients, which do not depend
//    on v, are computed once per batch of samples and shared by every probe).
//  - hutchinson_trace(): Tr H from P Rademacher probes z (z_i = +-1): mean of z.Hz over the
//    probes, with the standard error sd / sqrt(P); from the same probes the Gauss-Newton part
//    z.Gz (= (1/n) sum_k (J_k z).P_k (J_k z), from the forward R-pass alone) and the dropped term
//    z.(H - G)z, each with its own standard error (the differences are paired, probe by probe).
//  - gauss_newton(): the Gauss-Newton trace Tr G = (1/n) sum_k Tr(J_k^T P_k J_k) exactly, with
//    J_k = df(x_k)/dp (outputs x params) from one backward pass per output and
//    P_k = d^2 loss / df^2: s(1-s) for bce (s = sigmoid(f)), 1 for mse ((f - y)^2 / 2),
//    diag(s) - s s^T for ce (s = softmax(f)).
//    For the ReLU networks of layers.hpp, Tr H = Tr G exactly (almost everywhere): f is affine in
//    each layer's parameters within an activation region, so every diagonal entry of d^2 f_o/dp^2
//    vanishes and the dropped term of Eq. 44 has zero trace (its off-diagonal blocks, between
//    layers, do not vanish). validation/THEORY.md, "Hessian trace and the Eq. 62 bound".
//  - eq62_bound(): the right-hand side of the corrected Eq. 62 (THEORY.md) from the weights and
//    each sample's activation pattern: a proven upper bound on Tr H; and the paper's Eq. 62 as
//    written, for comparison (not a bound in general).
//
// Thread safety: the functions only read a, p, X and labels; each thread passes its own
// HessianWorkspace (one network per thread, as in train_deep()). OpenBLAS's OpenMP build runs
// single-threaded inside soret's parallel regions.
// Units: all quantities dimensionless.
#include <cstdint>
#include <vector>

#include "soret/net/layers.hpp"
#include "soret/net/model.hpp"

namespace soret::net {

/// Buffers of one thread for one Architecture: the activations, back-propagated gradients and
/// their directional derivatives of `chunk` samples at a time (samples are processed in chunks of
/// that many; results do not depend on it beyond rounding). chunk = 0: the most samples, up to
/// 256, whose buffers take at most ~32 MiB (a function of the architecture only; larger chunks
/// mean fewer regenerations of the probes and larger matrix products: measured 1.5x faster for
/// fc:300 at 256 than at 64).
class HessianWorkspace {
 public:
  explicit HessianWorkspace(const Architecture& a, int chunk = 0);
  int chunk() const { return chunk_; }

  // (internal to src/net/hessian.cpp)
  BatchWorkspace fw;                          ///< forward activations of a chunk
  std::vector<std::vector<double>> delta;     ///< delta[i]: dL/d(output of layer i), chunk rows
  std::vector<std::vector<double>> ract;      ///< R{act[i]}, chunk rows
  std::vector<double> rd0, rd1, tmp;          ///< R-deltas, scratch
  std::vector<double> dY, Pm;                 ///< dL/df (chunk x O), d^2L/df^2 (chunk x O x O)
  std::vector<double> hv, v, g;               ///< params-sized scratch
  std::vector<double> cols, grams;            ///< im2col patches; per-output layer gradients (GN)

 private:
  int chunk_;
};

/// The mean loss L(p) over the n samples; adds dL/dp (exact) to grad when grad is not null.
double loss_gradient(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss,
                     double* grad, HessianWorkspace& ws);

/// Hv = H v (params() values, written), H the Hessian of L(p) over the n samples.
void hvp(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss, const double* v,
         double* Hv, HessianWorkspace& ws);

/// The Gauss-Newton-vector product Gv = (1/n) sum_k J_k^T P_k J_k v (written).
void gnvp(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss, const double* v,
          double* Gv, HessianWorkspace& ws);

/// The probes of hutchinson_trace(): z_i = +-1 from stream net_hessian_probe, counter
/// (network, record, probe, i / 256): bit i % 256 of the four 64-bit words.
struct ProbeOptions {
  int probes = 32;          ///< P (>= 2 for a standard error)
  std::uint64_t seed = 1;   ///< the run's seed
  std::uint64_t network = 0, record = 0;  ///< counter words: the probes of network e at record r
};
/// Fills z (params values) with probe q's Rademacher vector.
void rademacher_probe(std::size_t params, const ProbeOptions& o, int q, double* z);

struct TraceEstimate {
  double trace = 0, trace_se = 0;        ///< mean z.Hz over the probes, sd/sqrt(P) (NaN for P < 2)
  double gn = 0, gn_se = 0;              ///< mean z.Gz, its standard error
  double residual = 0, residual_se = 0;  ///< mean z.(H - G)z, its standard error (paired)
  int probes = 0;
};
TraceEstimate hutchinson_trace(const Architecture& a, const double* p, const double* X, const int* labels, int n,
                               Loss loss, const ProbeOptions& o, HessianWorkspace& ws);

struct GaussNewton {
  double trace = 0;      ///< (1/n) sum_k Tr(P_k K_k), K_k = J_k J_k^T: the exact Gauss-Newton trace
  double tr_p_tr_k = 0;  ///< (1/n) sum_k Tr(P_k) Tr(K_k): Eq. 49's right-hand side, exact
  double tr_k = 0;       ///< (1/n) sum_k Tr(K_k) = (1/n) sum_k |J_k|_F^2
};
GaussNewton gauss_newton(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss,
                         HessianWorkspace& ws);
inline double gauss_newton_trace(const Architecture& a, const double* p, const double* X, const int* labels, int n,
                                 Loss loss, HessianWorkspace& ws) {
  return gauss_newton(a, p, X, labels, n, loss, ws).trace;
}

/// Eq. 62 (THEORY.md, "Hessian trace and the Eq. 62 bound"), per sample k with layers m = 1..L
/// (the parameter layers), D_k^m the 0/1 diagonal activation pattern of hidden layer m,
/// T^m the layer's linear map (a Dense weight, or a convolution as a matrix), b^m its bias:
///   bound = (1/n) sum_k Tr(P_k) sum_l c_l prod_{m=l+1}^{L} |T^m D_k^{m-1}|_F^2 (g_l r_{k,l-1}^2 + e_l)
/// with r_{k,0} = |x_k|, r_{k,m} = |D_k^m T^m|_F r_{k,m-1} + |D_k^m b^m| (a bound on the norm of
/// hidden layer m), c_l = outputs for l = L else 1; Dense: g_l = 1, e_l = 1 with a bias (else 0);
/// Conv2d: g_l = the largest number of patches an input pixel is in, e_l = H_out W_out with a bias.
/// `paper`: Eq. 62 as written, Tr(P_k) |x_k|_2 sum_l prod_{m<l} |D^m T^m|_F^2 prod_{m>l} |T^m D^{m-1}|_F^2
/// averaged over the samples (no bias terms, |x| not squared, no factor c_L): not a bound in general.
struct Eq62 {
  double bound = 0;
  double paper = 0;
};
/// Needs the layer pattern of layers.hpp: parameter layers each followed by a ReLU except the
/// last (the output), Flatten anywhere (throws std::invalid_argument otherwise).
Eq62 eq62_bound(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss,
                HessianWorkspace& ws);

/// Everything of one record: Hutchinson trace with its SE, the exact Gauss-Newton trace and the
/// Eq. 62 bound, over n samples. train_deep() calls it every DeepOptions::hessian_every records
/// with the training set's samples (all of a small fixed set, else hessian_samples drawn from it
/// or fresh), ProbeOptions{P, seed, e, r} and the thread's own HessianWorkspace(a).
/// Cost (bench/bench_hessian.cpp, one thread, S = 256, P = 32): about P x (1-2) gradient
/// evaluations for the trace, up to ~O (outputs) for the Gauss-Newton trace, < 1 for the bound.
struct HessianRecord {
  TraceEstimate hutchinson;
  GaussNewton gn;
  Eq62 eq62;
  /// The term Eq. 45 drops, Tr H - Tr G, as the Hutchinson trace minus the exact Gauss-Newton
  /// trace; its SE is the trace's (Tr G is exact). Zero in expectation for these ReLU nets
  /// (THEORY.md); hutchinson.residual is the paired estimate from the same probes (smaller SE).
  double dropped = 0, dropped_se = 0;
};
HessianRecord hessian_record(const Architecture& a, const double* p, const double* X, const int* labels, int n,
                             Loss loss, const ProbeOptions& o, HessianWorkspace& ws);

}  // namespace soret::net
