#include "soret/net/generalization.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace soret::net {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void mean_se(const std::vector<double>& v, double& m, double& se) {
  m = 0;
  se = kNaN;
  if (v.empty()) {
    m = kNaN;
    return;
  }
  for (double x : v) m += x;
  m /= double(v.size());
  if (v.size() < 2) return;
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  se = std::sqrt(s / double(v.size() - 1) / double(v.size()));
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = a.size();
  if (n < 3) return kNaN;
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) { ma += a[i]; mb += b[i]; }
  ma /= double(n);
  mb /= double(n);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : kNaN;
}

}  // namespace

Slope least_squares(const std::vector<std::vector<double>>& X, const std::vector<double>& y) {
  Slope out;
  const size_t n = y.size(), k = X.size() + 1;  // intercept first
  out.n = int(n);
  if (n <= k) {
    out.slope = out.se = kNaN;
    return out;
  }
  // Normal equations A b = c with A = Z^T Z, Z = [1, X_0, X_1, ...]; the regressors are centred
  // first (the intercept then decouples), which keeps A well conditioned.
  std::vector<double> mean(k - 1, 0.0);
  double my = 0;
  for (size_t i = 0; i < n; ++i) my += y[i];
  my /= double(n);
  for (size_t j = 0; j + 1 < k; ++j) {
    for (size_t i = 0; i < n; ++i) mean[j] += X[j][i];
    mean[j] /= double(n);
  }
  const size_t m = k - 1;
  std::vector<double> A(m * m, 0.0), c(m, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t a = 0; a < m; ++a) {
      const double za = X[a][i] - mean[a];
      c[a] += za * (y[i] - my);
      for (size_t b = 0; b < m; ++b) A[a * m + b] += za * (X[b][i] - mean[b]);
    }
  // Inverse of A by Gauss-Jordan with partial pivoting.
  std::vector<double> inv(m * m, 0.0);
  for (size_t a = 0; a < m; ++a) inv[a * m + a] = 1;
  for (size_t col = 0; col < m; ++col) {
    size_t piv = col;
    for (size_t r = col + 1; r < m; ++r)
      if (std::abs(A[r * m + col]) > std::abs(A[piv * m + col])) piv = r;
    if (!(std::abs(A[piv * m + col]) > 1e-300)) {
      out.slope = out.se = kNaN;
      return out;
    }
    for (size_t j = 0; j < m; ++j) {
      std::swap(A[col * m + j], A[piv * m + j]);
      std::swap(inv[col * m + j], inv[piv * m + j]);
    }
    const double d = A[col * m + col];
    for (size_t j = 0; j < m; ++j) { A[col * m + j] /= d; inv[col * m + j] /= d; }
    for (size_t r = 0; r < m; ++r) {
      if (r == col) continue;
      const double f = A[r * m + col];
      for (size_t j = 0; j < m; ++j) { A[r * m + j] -= f * A[col * m + j]; inv[r * m + j] -= f * inv[col * m + j]; }
    }
  }
  std::vector<double> beta(m, 0.0);
  for (size_t a = 0; a < m; ++a)
    for (size_t b = 0; b < m; ++b) beta[a] += inv[a * m + b] * c[b];
  double rss = 0;
  for (size_t i = 0; i < n; ++i) {
    double f = my;
    for (size_t a = 0; a < m; ++a) f += beta[a] * (X[a][i] - mean[a]);
    rss += (y[i] - f) * (y[i] - f);
  }
  const double s2 = rss / double(n - k);
  out.slope = beta[0];
  out.se = std::sqrt(s2 * inv[0]);
  return out;
}

Generalization analyse_generalization(const std::vector<DeepRun>& runs) {
  Generalization g;
  auto col = [](const DeepRun& r, const char* name) -> const Recorder::Column& { return r.rec.column(name); };
  // The target: the largest over runs of the median over networks of the lowest training loss reached.
  g.target_loss = -std::numeric_limits<double>::infinity();
  for (const auto& r : runs) {
    const auto& tl = col(r, "train_loss");
    const size_t E = r.rec.networks(), R = r.records();
    std::vector<double> best(E, kNaN);
    for (size_t e = 0; e < E; ++e)
      for (size_t k = 0; k < R; ++k) {
        const double v = tl.v[k * E + e];
        if (std::isfinite(v) && !(v >= best[e])) best[e] = v;
      }
    g.target_loss = std::max(g.target_loss, median(best));
  }
  if (!std::isfinite(g.target_loss)) g.target_loss = kNaN;

  std::vector<double> ratios, zs;
  for (size_t ri = 0; ri < runs.size(); ++ri) {
    const DeepRun& r = runs[ri];
    const size_t E = r.rec.networks(), R = r.records();
    const auto &tl = col(r, "train_loss"), &te = col(r, "test_error"), &tlo = col(r, "test_loss"),
               &act = col(r, "activation_rate_layer"), &wn = col(r, "weight_norm_layer"), &gn = col(r, "gauss_newton_trace"),
               &ht = col(r, "hessian_trace"), &hse = col(r, "hessian_trace_se"), &b62 = col(r, "eq62_bound"),
               &p62 = col(r, "eq62_paper");
    const size_t H = act.width(), L = wn.width();
    MatchedRun m;
    m.name = r.spec.name;
    m.eta = r.spec.eta;
    m.batch = r.spec.batch;
    m.x = r.spec.eta * r.spec.eta / r.spec.batch;
    m.networks = int(E);
    std::vector<double> v_step, v_act, v_w0, v_wl, v_tr, v_h, v_b, v_te, v_tl, v_trl;
    for (size_t e = 0; e < E; ++e) {
      for (size_t k = 0; k < R; ++k) {  // the bound at every record with a Hessian
        const double tr = gn.v[k * E + e], bd = b62.v[k * E + e];
        if (!std::isfinite(tr) || !std::isfinite(bd) || !(tr > 0)) continue;
        ++g.bound_records;
        g.bound_holds += bd >= tr;
        g.paper_below += p62.v[k * E + e] < tr;
        ratios.push_back(bd / tr);
        const double se = hse.v[k * E + e];
        if (se > 0) zs.push_back((ht.v[k * E + e] - tr) / se);
      }
      if (!std::isfinite(g.target_loss)) continue;
      size_t k = 0;
      while (k < R && !(tl.v[k * E + e] <= g.target_loss && std::isfinite(gn.v[k * E + e]))) ++k;
      if (k == R) continue;
      double a = 0;
      for (size_t h = 0; h < H; ++h) a += act.v[(k * E + e) * H + h];
      v_step.push_back(double(r.t[k]));
      v_act.push_back(H ? a / double(H) : kNaN);
      v_w0.push_back(wn.v[(k * E + e) * L]);
      v_wl.push_back(wn.v[(k * E + e) * L + L - 1]);
      v_tr.push_back(gn.v[k * E + e]);
      v_h.push_back(ht.v[k * E + e]);
      v_b.push_back(b62.v[k * E + e]);
      v_te.push_back(te.v[k * E + e]);
      v_tl.push_back(tlo.v[k * E + e]);
      v_trl.push_back(tl.v[k * E + e]);
      g.run_of.push_back(std::int64_t(ri));
      g.network.push_back(std::int64_t(e));
    }
    m.matched = int(v_act.size());
    double dummy = 0;
    mean_se(v_step, m.step, dummy);
    mean_se(v_act, m.act, m.act_se);
    mean_se(v_w0, m.wn_first, m.wn_first_se);
    mean_se(v_wl, m.wn_last, m.wn_last_se);
    mean_se(v_tr, m.trace, m.trace_se);
    mean_se(v_h, m.hutch, m.hutch_se);
    mean_se(v_b, m.bound, m.bound_se);
    mean_se(v_te, m.test_error, m.test_error_se);
    mean_se(v_tl, m.test_loss, m.test_loss_se);
    mean_se(v_trl, m.train_loss, dummy);
    const double u = std::log(m.x);
    for (size_t i = 0; i < v_act.size(); ++i) g.u.push_back(u);
    auto app = [](std::vector<double>& to, const std::vector<double>& from) { to.insert(to.end(), from.begin(), from.end()); };
    app(g.act, v_act);
    app(g.wn_first, v_w0);
    app(g.wn_last, v_wl);
    app(g.trace, v_tr);
    app(g.hutch, v_h);
    app(g.bound, v_b);
    app(g.test_error, v_te);
    app(g.test_loss, v_tl);
    app(g.step, v_step);
    g.runs.push_back(m);
  }
  g.act_vs_u = least_squares({g.u}, g.act);
  g.wn_first_vs_u = least_squares({g.u}, g.wn_first);
  g.wn_last_vs_u = least_squares({g.u}, g.wn_last);
  g.trace_vs_u = least_squares({g.u}, g.trace);
  g.test_error_vs_u = least_squares({g.u}, g.test_error);
  g.test_error_vs_u_controlled = least_squares({g.u, g.act, g.wn_first, g.wn_last}, g.test_error);
  g.corr_names = {"log(eta^2/|B|)", "activation rate", "last-layer weight norm", "Tr H", "test error"};
  const std::vector<const std::vector<double>*> cv = {&g.u, &g.act, &g.wn_last, &g.trace, &g.test_error};
  g.corr.assign(25, kNaN);
  for (size_t a = 0; a < 5; ++a)
    for (size_t b = 0; b < 5; ++b) g.corr[a * 5 + b] = pearson(*cv[a], *cv[b]);
  if (!ratios.empty()) {
    g.ratio_min = *std::min_element(ratios.begin(), ratios.end());
    g.ratio_max = *std::max_element(ratios.begin(), ratios.end());
    g.ratio_median = median(ratios);
  } else {
    g.ratio_min = g.ratio_median = g.ratio_max = kNaN;
  }
  if (!zs.empty()) {
    double s = 0, mx = 0;
    for (double z : zs) { s += z; mx = std::max(mx, std::abs(z)); }
    g.hutch_z_mean = s / double(zs.size());
    g.hutch_z_max = mx;
  } else {
    g.hutch_z_mean = g.hutch_z_max = kNaN;
  }
  return g;
}

}  // namespace soret::net
