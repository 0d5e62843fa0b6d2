#include "soret/net/hessian.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "soret/common/rng.hpp"
#include "soret/net/deep_trainer.hpp"
#include "net/conv_kernels.hpp"

namespace soret::net {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// C (m x n) = alpha op(A) op(B) + beta C, row-major.
void gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* A, const double* B, double beta, double* C) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, A,
              ta ? m : k, B, tb ? k : n, beta, C, n);
}

double sigmoid(double f) { return f >= 0 ? 1.0 / (1.0 + std::exp(-f)) : std::exp(f) / (1.0 + std::exp(f)); }

/// The second derivative of the loss of one sample with respect to the outputs (O x O), times scale.
void loss_hessian(Loss loss, const double* f, int O, double scale, double* P) {
  switch (loss) {
    case Loss::bce: {
      P[0] = scale * sigmoid(f[0]) * sigmoid(-f[0]);  // s(1 - s), without cancellation for large f
      return;
    }
    case Loss::mse: P[0] = scale; return;
    case Loss::ce: {
      double m = f[0];
      for (int i = 1; i < O; ++i) m = std::max(m, f[i]);
      std::vector<double> s(O);
      double t = 0;
      for (int i = 0; i < O; ++i) { s[i] = std::exp(f[i] - m); t += s[i]; }
      for (int i = 0; i < O; ++i) s[i] /= t;
      for (int i = 0; i < O; ++i)
        for (int j = 0; j < O; ++j) P[i * O + j] = scale * ((i == j ? s[i] : 0.0) - s[i] * s[j]);
      return;
    }
  }
}

int first_param_layer(const Architecture& a) { return a.param_layers().front(); }

/// The conv-kernel arguments of layer l.
struct ConvDims {
  int Ci, H, Wd, Co, Ho, Wo, K, S;
  explicit ConvDims(const Layer& l)
      : Ci(l.in.c), H(l.in.h), Wd(l.in.w), Co(l.out.c), Ho(l.out.h), Wo(l.out.w), K(l.kernel), S(l.stride) {}
};

/// delta[i] = the back-propagation of the sources src (n x outputs, at the output) to the output
/// of every layer i from the first parameter layer on (after forward_batch() of n rows).
void backward_deltas(const Architecture& a, const double* p, int n, const double* src, HessianWorkspace& ws) {
  const int O = a.outputs;
  const int nl = int(a.layers.size()), first = first_param_layer(a);
  std::copy_n(src, size_t(n) * O, ws.delta[nl - 1].data());
  for (int i = nl - 1; i > first; --i) {
    const Layer& l = a.layers[i];
    const size_t ni = l.in.size(), no = l.out.size();
    const double* d = ws.delta[i].data();
    double* dn = ws.delta[i - 1].data();
    const double* in = ws.fw.act[i].data();
    switch (l.kind) {
      case LayerKind::dense: gemm(false, false, n, int(ni), int(no), 1.0, d, p + l.w_off, 0.0, dn); break;
      case LayerKind::conv2d: {
        const ConvDims c(l);
        for (int k = 0; k < n; ++k)
          kernels::conv_gemm_grad_x(d + k * no, c.Co, c.Ho, c.Wo, p + l.w_off, c.Ci, c.H, c.Wd, c.K, c.S, dn + k * ni,
                                    ws.cols.data());
        break;
      }
      case LayerKind::relu:
        for (size_t j = 0; j < size_t(n) * ni; ++j) dn[j] = in[j] > 0 ? d[j] : 0.0;
        break;
      case LayerKind::flatten: std::copy_n(d, size_t(n) * ni, dn); break;
    }
  }
}

/// Forward pass of n samples, then dY = scale dloss/df, Pm = scale d^2loss/df^2 and the back-
/// propagated gradients delta[i] = d(scale * sum_k loss_k)/d(output of layer i) of every layer from
/// the first parameter layer on. Returns the summed loss.
double forward_backward(const Architecture& a, const double* p, const double* X, const int* y, int n, Loss loss,
                        double scale, HessianWorkspace& ws, bool deltas = true) {
  const int O = a.outputs;
  forward_batch(a, p, X, n, ws.fw);
  const double* F = ws.fw.act.back().data();
  double sl = 0;
  for (int k = 0; k < n; ++k) {
    bool correct = false;
    double* d = &ws.dY[size_t(k) * O];
    sl += loss_and_grad(loss, F + size_t(k) * O, O, y[k], d, &correct);
    for (int o = 0; o < O; ++o) d[o] *= scale;
    loss_hessian(loss, F + size_t(k) * O, O, scale, &ws.Pm[size_t(k) * O * O]);
  }
  if (deltas) backward_deltas(a, p, n, ws.dY.data(), ws);
  return sl;
}

/// gW += D^T A, gb += column sums of D for parameter layer l over n rows (D: n x out, A: n x in).
void param_grad(const Layer& l, int n, const double* D, const double* A, double* g, HessianWorkspace& ws) {
  const size_t ni = l.in.size(), no = l.out.size();
  if (l.kind == LayerKind::dense) {
    gemm(true, false, int(no), int(ni), n, 1.0, D, A, 1.0, g + l.w_off);
    if (l.bias)
      for (int k = 0; k < n; ++k)
        for (size_t j = 0; j < no; ++j) g[l.b_off + j] += D[k * no + j];
    return;
  }
  const ConvDims c(l);
  const size_t hw = size_t(c.Ho) * c.Wo;
  for (int k = 0; k < n; ++k) {
    kernels::conv_gemm_grad_w(A + k * ni, c.Ci, c.H, c.Wd, D + k * no, c.Co, c.K, c.S, c.Ho, c.Wo, 1.0, g + l.w_off,
                              ws.cols.data());
    if (l.bias)
      for (int co = 0; co < c.Co; ++co) {
        double s = 0;
        for (size_t q = 0; q < hw; ++q) s += D[k * no + co * hw + q];
        g[l.b_off + co] += s;
      }
  }
}

/// R-forward pass along v after forward_backward(): ract[i] = R{act[i]} for i > first parameter
/// layer (R{act[i]} = 0 below). Returns the rows R{f}.
const double* r_forward(const Architecture& a, const double* p, const double* v, int n, HessianWorkspace& ws) {
  const int nl = int(a.layers.size()), first = first_param_layer(a);
  for (int i = first; i < nl; ++i) {
    const Layer& l = a.layers[i];
    const size_t ni = l.in.size(), no = l.out.size();
    const bool rin = i > first;  // R{input} is not zero
    const double* in = ws.fw.act[i].data();
    const double* rx = ws.ract[i].data();
    double* ry = ws.ract[i + 1].data();
    switch (l.kind) {
      case LayerKind::dense:
        gemm(false, true, n, int(no), int(ni), 1.0, in, v + l.w_off, 0.0, ry);
        if (rin) gemm(false, true, n, int(no), int(ni), 1.0, rx, p + l.w_off, 1.0, ry);
        if (l.bias)
          for (int k = 0; k < n; ++k)
            for (size_t j = 0; j < no; ++j) ry[k * no + j] += v[l.b_off + j];
        break;
      case LayerKind::conv2d: {
        const ConvDims c(l);
        for (int k = 0; k < n; ++k) {
          kernels::conv_gemm_forward(in + k * ni, c.Ci, c.H, c.Wd, v + l.w_off, l.bias ? v + l.b_off : nullptr, c.Co,
                                     c.K, c.S, c.Ho, c.Wo, ry + k * no, ws.cols.data());
          if (rin) {
            double* t = ws.tmp.data();
            kernels::conv_gemm_forward(rx + k * ni, c.Ci, c.H, c.Wd, p + l.w_off, nullptr, c.Co, c.K, c.S, c.Ho, c.Wo, t,
                                       ws.cols.data());
            for (size_t j = 0; j < no; ++j) ry[k * no + j] += t[j];
          }
        }
        break;
      }
      case LayerKind::relu:
        for (size_t j = 0; j < size_t(n) * ni; ++j) ry[j] = in[j] > 0 ? rx[j] : 0.0;
        break;
      case LayerKind::flatten: std::copy_n(rx, size_t(n) * ni, ry); break;
    }
  }
  return ws.ract[nl].data();
}

/// R-backward pass after r_forward(): out += R{dL/dp} = H v (full) or the Gauss-Newton part
/// G v = sum_k J_k^T Pm_k J_k v alone (!full: the back-propagation of R{dY} = Pm R{f} without the
/// terms of the parameters' own directional derivatives). Returns sum_k R{f_k}.Pm_k R{f_k} = v.Gv.
double r_backward(const Architecture& a, const double* p, const double* v, int n, bool full, double* out,
                  HessianWorkspace& ws) {
  const int nl = int(a.layers.size()), first = first_param_layer(a), O = a.outputs;
  const double* Rf = ws.ract[nl].data();
  double* rd = ws.rd0.data();
  double* rdn = ws.rd1.data();
  double quad = 0;
  for (int k = 0; k < n; ++k) {
    const double* P = &ws.Pm[size_t(k) * O * O];
    const double* r = Rf + size_t(k) * O;
    for (int o = 0; o < O; ++o) {
      double s = 0;
      for (int q = 0; q < O; ++q) s += P[o * O + q] * r[q];
      rd[k * O + o] = s;
      quad += r[o] * s;
    }
  }
  for (int i = nl - 1; i >= first; --i) {
    const Layer& l = a.layers[i];
    const size_t ni = l.in.size(), no = l.out.size();
    const bool rin = full && i > first;
    const bool need_dx = i > first;
    const double* in = ws.fw.act[i].data();
    const double* rx = ws.ract[i].data();
    const double* d = ws.delta[i].data();
    switch (l.kind) {
      case LayerKind::dense:
        // R{gW} = R{d} x^T + d R{x}^T; R{dx} = W^T R{d} + V^T d
        param_grad(l, n, rd, in, out, ws);
        if (rin) gemm(true, false, int(no), int(ni), n, 1.0, d, rx, 1.0, out + l.w_off);
        if (need_dx) {
          gemm(false, false, n, int(ni), int(no), 1.0, rd, p + l.w_off, 0.0, rdn);
          if (full) gemm(false, false, n, int(ni), int(no), 1.0, d, v + l.w_off, 1.0, rdn);
        }
        break;
      case LayerKind::conv2d: {
        const ConvDims c(l);
        param_grad(l, n, rd, in, out, ws);
        for (int k = 0; k < n; ++k) {
          if (rin)
            kernels::conv_gemm_grad_w(rx + k * ni, c.Ci, c.H, c.Wd, d + k * no, c.Co, c.K, c.S, c.Ho, c.Wo, 1.0,
                                      out + l.w_off, ws.cols.data());
          if (need_dx) {
            kernels::conv_gemm_grad_x(rd + k * no, c.Co, c.Ho, c.Wo, p + l.w_off, c.Ci, c.H, c.Wd, c.K, c.S,
                                      rdn + k * ni, ws.cols.data());
            if (full) {
              double* t = ws.tmp.data();
              kernels::conv_gemm_grad_x(d + k * no, c.Co, c.Ho, c.Wo, v + l.w_off, c.Ci, c.H, c.Wd, c.K, c.S, t,
                                        ws.cols.data());
              for (size_t j = 0; j < ni; ++j) rdn[k * ni + j] += t[j];
            }
          }
        }
        break;
      }
      case LayerKind::relu:  // (the ReLU's second derivative is zero almost everywhere)
        for (size_t j = 0; j < size_t(n) * ni; ++j) rdn[j] = in[j] > 0 ? rd[j] : 0.0;
        break;
      case LayerKind::flatten: std::copy_n(rd, size_t(n) * ni, rdn); break;
    }
    std::swap(rd, rdn);
  }
  return quad;
}

void check_inputs(const Architecture& a, int n, Loss loss) {
  if (n < 1) throw std::invalid_argument("hessian: needs at least one sample");
  if ((loss == Loss::ce) != (a.outputs > 1))
    throw std::invalid_argument("hessian: ce goes with several outputs; bce and mse with one");
}

/// Mean and standard error of the mean of v.
std::pair<double, double> mean_se(const std::vector<double>& v) {
  const size_t m = v.size();
  double s = 0;
  for (double x : v) s += x;
  const double mean = s / double(m);
  if (m < 2) return {mean, kNaN};
  double q = 0;
  for (double x : v) q += (x - mean) * (x - mean);
  return {mean, std::sqrt(q / double(m - 1) / double(m))};
}

double dot(const double* x, const double* y, size_t m) {
  double s = 0;
  for (size_t i = 0; i < m; ++i) s += x[i] * y[i];
  return s;
}

}  // namespace

namespace {
/// chunk = 0: as many samples (8 .. 256) as fit in ~32 MiB of per-sample buffers (activations,
/// back-propagated gradients, their R-versions, two R-gradient buffers).
int auto_chunk(const Architecture& a, int chunk) {
  if (chunk > 0) return chunk;
  std::size_t per = a.input.size() + 2 * a.max_activation();
  for (const auto& l : a.layers) per += 3 * l.out.size();
  const std::size_t budget = std::size_t(4) << 20;  // doubles
  return int(std::clamp<std::size_t>(budget / per, 8, 256));
}
}  // namespace

// (rows: a chunk of samples, or the rows (sample, output) of at least one sample in gauss_newton())
HessianWorkspace::HessianWorkspace(const Architecture& a, int chunk)
    : fw(a, std::max({1, auto_chunk(a, chunk), a.outputs})), chunk_(std::max(1, auto_chunk(a, chunk))) {
  const size_t nl = a.layers.size(), c = size_t(fw.n), O = size_t(a.outputs);
  delta.resize(nl);
  ract.resize(nl + 1);
  ract[0].resize(c * a.input.size());
  for (size_t i = 0; i < nl; ++i) {
    delta[i].resize(c * a.layers[i].out.size());
    ract[i + 1].resize(c * a.layers[i].out.size());
  }
  rd0.resize(c * a.max_activation());
  rd1.resize(c * a.max_activation());
  tmp.resize(a.max_activation());
  dY.resize(c * O);
  Pm.resize(c * O * O);
  hv.resize(a.params());
  v.resize(a.params());
  g.resize(a.params());
  size_t cs = 0, gs = 0;
  for (const auto& l : a.layers)
    if (l.kind == LayerKind::conv2d) {
      cs = std::max(cs, size_t(l.in.c) * l.kernel * l.kernel * l.out.h * l.out.w);
      gs = std::max(gs, l.w_size + l.b_size);
    }
  cols.resize(cs);
  grams.resize(gs * O);
}

double loss_gradient(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss,
                     double* grad, HessianWorkspace& ws) {
  check_inputs(a, n, loss);
  const size_t Xs = a.input.size();
  double sl = 0;
  for (int k0 = 0; k0 < n; k0 += ws.chunk()) {
    const int m = std::min(ws.chunk(), n - k0);
    sl += forward_backward(a, p, X + k0 * Xs, labels + k0, m, loss, 1.0 / n, ws);
    if (grad)
      for (int i : a.param_layers()) param_grad(a.layers[i], m, ws.delta[i].data(), ws.fw.act[i].data(), grad, ws);
  }
  return sl / n;
}

namespace {
void product(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss,
             const double* v, double* out, bool full, HessianWorkspace& ws) {
  check_inputs(a, n, loss);
  const size_t Xs = a.input.size();
  std::fill_n(out, a.params(), 0.0);
  for (int k0 = 0; k0 < n; k0 += ws.chunk()) {
    const int m = std::min(ws.chunk(), n - k0);
    forward_backward(a, p, X + k0 * Xs, labels + k0, m, loss, 1.0 / n, ws);
    r_forward(a, p, v, m, ws);
    r_backward(a, p, v, m, full, out, ws);
  }
}
}  // namespace

void hvp(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss, const double* v,
         double* Hv, HessianWorkspace& ws) {
  product(a, p, X, labels, n, loss, v, Hv, true, ws);
}

void gnvp(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss, const double* v,
          double* Gv, HessianWorkspace& ws) {
  product(a, p, X, labels, n, loss, v, Gv, false, ws);
}

void rademacher_probe(std::size_t params, const ProbeOptions& o, int q, double* z) {
  const auto key = rng::make_key(o.seed, rng::Stream::net_hessian_probe);
  for (size_t j0 = 0; j0 < params; j0 += 256) {
    const auto w = rng::draw(key, o.network, o.record, std::uint64_t(q), j0 / 256);
    const size_t m = std::min<size_t>(256, params - j0);
    for (size_t j = 0; j < m; ++j) z[j0 + j] = (w[j / 64] >> (j % 64)) & 1 ? 1.0 : -1.0;
  }
}

TraceEstimate hutchinson_trace(const Architecture& a, const double* p, const double* X, const int* labels, int n,
                               Loss loss, const ProbeOptions& o, HessianWorkspace& ws) {
  check_inputs(a, n, loss);
  if (o.probes < 1) throw std::invalid_argument("hutchinson_trace: needs at least one probe");
  const size_t Xs = a.input.size(), P = a.params();
  std::vector<double> qh(o.probes, 0.0), qg(o.probes, 0.0);
  // Chunks outer, probes inner: the activations and gradients of a chunk serve every probe, and
  // z.Hz = sum over the chunks of z.H_chunk z (the probes are regenerated per chunk).
  for (int k0 = 0; k0 < n; k0 += ws.chunk()) {
    const int m = std::min(ws.chunk(), n - k0);
    forward_backward(a, p, X + k0 * Xs, labels + k0, m, loss, 1.0 / n, ws);
    for (int q = 0; q < o.probes; ++q) {
      rademacher_probe(P, o, q, ws.v.data());
      r_forward(a, p, ws.v.data(), m, ws);
      std::fill(ws.hv.begin(), ws.hv.end(), 0.0);
      qg[q] += r_backward(a, p, ws.v.data(), m, true, ws.hv.data(), ws);
      qh[q] += dot(ws.v.data(), ws.hv.data(), P);
    }
  }
  std::vector<double> qr(o.probes);
  for (int q = 0; q < o.probes; ++q) qr[q] = qh[q] - qg[q];
  TraceEstimate t;
  t.probes = o.probes;
  std::tie(t.trace, t.trace_se) = mean_se(qh);
  std::tie(t.gn, t.gn_se) = mean_se(qg);
  std::tie(t.residual, t.residual_se) = mean_se(qr);
  return t;
}

GaussNewton gauss_newton(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss,
                         HessianWorkspace& ws) {
  check_inputs(a, n, loss);
  const int O = a.outputs;
  const size_t Xs = a.input.size();
  const int per = std::max(1, ws.fw.n / O);  // samples per pass: rows (sample, output)
  const auto pl = a.param_layers();
  std::vector<double> G(size_t(O) * O), trK(per), trPK(per);
  GaussNewton res;
  for (int k0 = 0; k0 < n; k0 += per) {
    const int m = std::min(per, n - k0), rows = m * O;
    // One forward pass of the m samples (P_k from their outputs), then every activation row k is
    // repeated O times in place (rows (k, o) = k O + o; from the last sample down, so nothing is
    // overwritten before it is copied): the back-propagated gradients of row (k, o) are those of
    // f_o (source e_o), J_k row by row.
    forward_backward(a, p, X + k0 * Xs, labels + k0, m, loss, 1.0, ws, false);
    std::vector<double> Pk(ws.Pm.begin(), ws.Pm.begin() + std::ptrdiff_t(size_t(m) * O * O));
    for (size_t i = 0; i < ws.fw.act.size(); ++i) {
      const size_t w = i == 0 ? a.input.size() : a.layers[i - 1].out.size();
      double* act = ws.fw.act[i].data();
      for (int k = m; k-- > 0;)
        for (int o = O; o-- > 0;)
          if (size_t(k) * O + o != size_t(k)) std::copy_n(act + size_t(k) * w, w, act + (size_t(k) * O + o) * w);
    }
    std::fill_n(ws.dY.data(), size_t(rows) * O, 0.0);
    for (int r = 0; r < rows; ++r) ws.dY[size_t(r) * O + r % O] = 1.0;
    backward_deltas(a, p, rows, ws.dY.data(), ws);
    std::fill(trK.begin(), trK.end(), 0.0);
    std::fill(trPK.begin(), trPK.end(), 0.0);
    for (int i : pl) {
      const Layer& l = a.layers[i];
      const size_t ni = l.in.size(), no = l.out.size();
      const double* d = ws.delta[i].data();
      const double* in = ws.fw.act[i].data();
      for (int k = 0; k < m; ++k) {
        // G[o][o'] = <d f_o / d theta_l, d f_o' / d theta_l> for this layer's parameters theta_l
        if (l.kind == LayerKind::dense) {
          const double* x = in + size_t(k) * O * ni;  // (the O rows of sample k have the same input)
          const double xx = dot(x, x, ni) + (l.bias ? 1.0 : 0.0);
          for (int o = 0; o < O; ++o)
            for (int q = 0; q <= o; ++q)
              G[o * O + q] = G[q * O + o] = xx * dot(d + (size_t(k) * O + o) * no, d + (size_t(k) * O + q) * no, no);
        } else {
          const size_t gs = l.w_size + l.b_size;
          std::fill_n(ws.grams.data(), gs * O, 0.0);
          for (int o = 0; o < O; ++o) {
            Layer lo = l;  // (this layer's blocks at the start of row o's buffer)
            lo.w_off = 0;
            lo.b_off = l.w_size;
            param_grad(lo, 1, d + (size_t(k) * O + o) * no, in + (size_t(k) * O + o) * ni, ws.grams.data() + o * gs, ws);
          }
          for (int o = 0; o < O; ++o)
            for (int q = 0; q <= o; ++q)
              G[o * O + q] = G[q * O + o] = dot(ws.grams.data() + o * gs, ws.grams.data() + q * gs, gs);
        }
        const double* Pq = &Pk[size_t(k) * O * O];
        for (int o = 0; o < O; ++o) {
          trK[k] += G[o * O + o];
          for (int q = 0; q < O; ++q) trPK[k] += Pq[o * O + q] * G[o * O + q];
        }
      }
    }
    for (int k = 0; k < m; ++k) {
      double tp = 0;
      for (int o = 0; o < O; ++o) tp += Pk[size_t(k) * O * O + o * O + o];
      res.trace += trPK[k];
      res.tr_k += trK[k];
      res.tr_p_tr_k += tp * trK[k];
    }
  }
  res.trace /= n;
  res.tr_k /= n;
  res.tr_p_tr_k /= n;
  return res;
}

namespace {

/// The layer pattern eq62_bound() needs: the parameter layers, and for each hidden one the index of
/// the ReLU after it (Flatten layers anywhere).
std::vector<int> relu_after(const Architecture& a, const std::vector<int>& pl) {
  std::vector<int> r;
  const int nl = int(a.layers.size());
  auto bad = [&] { throw std::invalid_argument("eq62_bound: needs parameter layers each followed by a ReLU, the last one the output"); };
  int i = 0;
  for (size_t m = 0; m < pl.size(); ++m) {
    for (; i < pl[m]; ++i)
      if (a.layers[i].kind != LayerKind::flatten) bad();
    i = pl[m] + 1;
    if (m + 1 == pl.size()) break;
    while (i < nl && a.layers[i].kind == LayerKind::flatten) ++i;
    if (i >= nl || a.layers[i].kind != LayerKind::relu) bad();
    r.push_back(i++);
  }
  for (; i < nl; ++i)
    if (a.layers[i].kind != LayerKind::flatten) bad();
  return r;
}

/// Per parameter layer: the squared column norms and row norms of a Dense weight (sum_i W_ij^2,
/// sum_j W_ij^2); for a Conv2d, the squared norm of each output channel's kernel and, per tap
/// (ci, ky, kx), the sum over the output channels of w^2; the largest number of patches an input
/// pixel is in.
struct LayerNorms {
  std::vector<double> col2, row2;  ///< dense: per input, per output; conv: per tap, per output channel
  double mult = 1;
};

LayerNorms layer_norms(const Layer& l, const double* p) {
  LayerNorms r;
  const double* W = p + l.w_off;
  if (l.kind == LayerKind::dense) {
    const size_t ni = l.in.size(), no = l.out.size();
    r.col2.assign(ni, 0.0);
    r.row2.assign(no, 0.0);
    for (size_t i = 0; i < no; ++i)
      for (size_t j = 0; j < ni; ++j) {
        const double w2 = W[i * ni + j] * W[i * ni + j];
        r.col2[j] += w2;
        r.row2[i] += w2;
      }
    return r;
  }
  const ConvDims c(l);
  const size_t taps = size_t(c.Ci) * c.K * c.K;
  r.col2.assign(taps, 0.0);
  r.row2.assign(c.Co, 0.0);
  for (int co = 0; co < c.Co; ++co)
    for (size_t t = 0; t < taps; ++t) {
      const double w2 = W[co * taps + t] * W[co * taps + t];
      r.col2[t] += w2;
      r.row2[co] += w2;
    }
  // an input row y is in the patches of the (oy, ky) with oy S + ky = y
  auto most = [&](int in, int out) {
    std::vector<int> cnt(in, 0);
    for (int o = 0; o < out; ++o)
      for (int k = 0; k < c.K; ++k) ++cnt[o * c.S + k];
    return *std::max_element(cnt.begin(), cnt.end());
  };
  r.mult = double(most(c.H, c.Ho)) * double(most(c.Wd, c.Wo));
  return r;
}

}  // namespace

Eq62 eq62_bound(const Architecture& a, const double* p, const double* X, const int* labels, int n, Loss loss,
                HessianWorkspace& ws) {
  check_inputs(a, n, loss);
  const auto pl = a.param_layers();
  const auto ra = relu_after(a, pl);
  const int L = int(pl.size()), O = a.outputs;
  const size_t Xs = a.input.size();
  std::vector<LayerNorms> nm;
  for (int i : pl) nm.push_back(layer_norms(a.layers[i], p));
  std::vector<double> fwd2(L), bwd2(L), bias2(L), r(L);
  Eq62 res;
  for (int k0 = 0; k0 < n; k0 += ws.chunk()) {
    const int m = std::min(ws.chunk(), n - k0);
    forward_backward(a, p, X + k0 * Xs, labels + k0, m, loss, 1.0, ws, false);
    for (int k = 0; k < m; ++k) {
      double trP = 0;
      for (int o = 0; o < O; ++o) trP += ws.Pm[size_t(k) * O * O + o * O + o];
      for (int li = 0; li < L; ++li) {
        const Layer& l = a.layers[pl[li]];
        const double* b = l.bias ? p + l.b_off : nullptr;
        const size_t ni = l.in.size(), no = l.out.size();
        const double* in = ws.fw.act[pl[li]].data() + size_t(k) * ni;  // input h^{l-1} (its pattern: > 0)
        // |D^l T^l|_F^2 and |D^l b^l|^2 (the hidden layers; the output layer has no pattern)
        fwd2[li] = bias2[li] = 0;
        if (li + 1 < L) {
          const double* pre = ws.fw.act[ra[li]].data() + size_t(k) * no;
          const size_t hw = l.kind == LayerKind::conv2d ? size_t(l.out.h) * l.out.w : 1;
          for (size_t j = 0; j < no; ++j)
            if (pre[j] > 0) {
              fwd2[li] += nm[li].row2[j / hw];
              if (b) bias2[li] += b[j / hw] * b[j / hw];
            }
        }
        // |T^l D^{l-1}|_F^2 (not for the first layer: its input is x)
        bwd2[li] = 0;
        if (li > 0) {
          if (l.kind == LayerKind::dense) {
            for (size_t j = 0; j < ni; ++j)
              if (in[j] > 0) bwd2[li] += nm[li].col2[j];
          } else {
            const ConvDims c(l);
            for (int ci = 0; ci < c.Ci; ++ci)
              for (int ky = 0; ky < c.K; ++ky)
                for (int kx = 0; kx < c.K; ++kx) {
                  int cnt = 0;
                  for (int oy = 0; oy < c.Ho; ++oy) {
                    const double* row = in + (size_t(ci) * c.H + size_t(oy) * c.S + ky) * c.Wd + kx;
                    for (int ox = 0; ox < c.Wo; ++ox) cnt += row[size_t(ox) * c.S] > 0;
                  }
                  bwd2[li] += cnt * nm[li].col2[(size_t(ci) * c.K + ky) * c.K + kx];
                }
          }
        }
      }
      const double* x = ws.fw.act[pl[0]].data() + size_t(k) * a.layers[pl[0]].in.size();
      r[0] = std::sqrt(dot(x, x, a.layers[pl[0]].in.size()));
      for (int li = 0; li + 1 < L; ++li) r[li + 1] = std::sqrt(fwd2[li]) * r[li] + std::sqrt(bias2[li]);
      double sb = 0, sp = 0;
      for (int li = 0; li < L; ++li) {
        const Layer& l = a.layers[pl[li]];
        double back = 1, front = 1;
        for (int j = li + 1; j < L; ++j) back *= bwd2[j];
        for (int j = 0; j < li; ++j) front *= fwd2[j];
        const bool conv = l.kind == LayerKind::conv2d;
        const double g = conv ? nm[li].mult : 1.0;
        const double e = l.bias ? (conv ? double(l.out.h) * l.out.w : 1.0) : 0.0;
        const double c = li + 1 == L ? double(l.out.size()) : 1.0;
        sb += c * back * (g * r[li] * r[li] + e);
        sp += r[0] * front * back;
      }
      res.bound += trP * sb;
      res.paper += trP * sp;
    }
  }
  res.bound /= n;
  res.paper /= n;
  return res;
}

HessianRecord hessian_record(const Architecture& a, const double* p, const double* X, const int* labels, int n,
                             Loss loss, const ProbeOptions& o, HessianWorkspace& ws) {
  HessianRecord r;
  r.hutchinson = hutchinson_trace(a, p, X, labels, n, loss, o, ws);
  r.gn = gauss_newton(a, p, X, labels, n, loss, ws);
  r.eq62 = eq62_bound(a, p, X, labels, n, loss, ws);
  r.dropped = r.hutchinson.trace - r.gn.trace;
  r.dropped_se = r.hutchinson.trace_se;
  return r;
}

}  // namespace soret::net
