#include "soret/net/scaling.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "soret/common/rng.hpp"

namespace soret::net {

namespace {

struct Curve {
  std::vector<double> t, m, se;
};

/// Ensemble mean and SE of a series over the networks listed in `nets` (NaN = diverged: skipped).
Curve curve(const Series& r, bool square, const std::vector<int>& nets) {
  const size_t E = r.networks;
  Curve c;
  for (size_t k = 0; k < r.t.size(); ++k) {
    double s = 0, s2 = 0;
    int n = 0;
    for (int e : nets) {
      double v = r.v[k * E + e];
      if (!std::isfinite(v)) continue;
      if (square) v *= v;
      s += v; s2 += v * v; ++n;
    }
    if (n < 2) continue;
    const double m = s / n, var = std::max(0.0, (s2 - n * m * m) / (n - 1));
    c.t.push_back(double(r.t[k]));
    c.m.push_back(m);
    c.se.push_back(std::sqrt(var / n) + 1e-300);
  }
  return c;
}

double interp(const std::vector<double>& x, const std::vector<double>& y, double v) {
  const auto it = std::upper_bound(x.begin(), x.end(), v);
  if (it == x.begin()) return y.front();
  if (it == x.end()) return y.back();
  const size_t j = size_t(it - x.begin());
  const double f = (v - x[j - 1]) / (x[j] - x[j - 1]);
  return y[j - 1] + f * (y[j] - y[j - 1]);
}

double metric(const std::vector<Curve>& cs, const std::vector<double>& s, double k) {
  // A run whose every network diverged (or a resample of diverged networks only) has no curve.
  for (const auto& c : cs)
    if (c.t.empty()) return std::numeric_limits<double>::infinity();
  double tmax = std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < cs.size(); ++c) tmax = std::min(tmax, cs[c].t.back() * std::pow(s[c], k));
  const int P = 40;
  double total = 0;
  for (int p = 1; p <= P; ++p) {
    const double tau = tmax * p / P;
    std::vector<double> m(cs.size()), w(cs.size());
    double mw = 0, sw = 0;
    for (size_t c = 0; c < cs.size(); ++c) {
      const double t = tau / std::pow(s[c], k);
      m[c] = interp(cs[c].t, cs[c].m, t);
      const double se = interp(cs[c].t, cs[c].se, t);
      w[c] = 1.0 / (se * se);
      mw += w[c] * m[c];
      sw += w[c];
    }
    mw /= sw;
    double d = 0;
    for (size_t c = 0; c < cs.size(); ++c) d += w[c] * (m[c] - mw) * (m[c] - mw);
    total += d / double(cs.size() - 1);
  }
  return total / P;
}

double argmin(const std::vector<double>& k, const std::vector<double>& v) {
  return k[size_t(std::min_element(v.begin(), v.end()) - v.begin())];
}

}  // namespace

std::string Collapse::text() const {
  char b[160];
  if (at_edge) std::snprintf(b, sizeof b, "no collapse in k in [%.2f, %.2f] (the range searched)", k.front(), k.back());
  else
    std::snprintf(b, sizeof b, "k = %.2f [%.2f, %.2f]%s", best, ci_lo, ci_hi,
                  bootstrap > 0 && ci_hi - ci_lo > std::abs(best) ? " (unresolved: 95% interval wider than the value)" : "");
  return b;
}


std::vector<std::int64_t> runaway_at(const RunResult& r, double factor) {
  const size_t E = r.diverged_at.size();
  std::vector<std::int64_t> out(E, -1);
  if (r.v_norm.empty()) return out;
  for (size_t e = 0; e < E; ++e) {
    const double v0 = r.v_norm[e];
    if (!std::isfinite(v0)) continue;
    for (size_t k = 0; k < r.t.size(); ++k) {
      const double v = r.v_norm[k * E + e];
      if (std::isfinite(v) && v > factor * v0) { out[e] = std::int64_t(r.t[k]); break; }
    }
  }
  return out;
}

Collapse collapse(const std::vector<Series>& runs, const std::string& quantity, const std::string& variable, bool square,
                  int bootstrap, std::uint64_t seed) {
  Collapse out;
  out.quantity = quantity;
  out.variable = variable;
  out.bootstrap = bootstrap;
  for (double k = 0.0; k <= 3.0 + 1e-9; k += 0.02) out.k.push_back(k);
  std::vector<double> s;
  for (const auto& r : runs) s.push_back(variable == "eta" ? r.eta : 1.0 / r.batch);
  const int E = int(runs[0].networks);
  std::vector<int> all(E);
  for (int e = 0; e < E; ++e) all[e] = e;
  auto metrics = [&](const std::vector<int>& nets) {
    std::vector<Curve> cs;
    for (const auto& r : runs) cs.push_back(curve(r, square, nets));
    std::vector<double> m;
    for (double k : out.k) m.push_back(metric(cs, s, k));
    return m;
  };
  out.metric = metrics(all);
  if (runs.size() < 2 || std::none_of(out.metric.begin(), out.metric.end(), [](double v) { return std::isfinite(v); })) {
    // Nothing to collapse (every network of a run diverged): reported as no collapse, no estimate.
    out.at_edge = true;
    out.best = out.ci_lo = out.ci_hi = std::numeric_limits<double>::quiet_NaN();
    return out;
  }
  out.best = argmin(out.k, out.metric);
  out.at_edge = out.best == out.k.front() || out.best == out.k.back();
  std::vector<double> boots;
  const auto key = rng::make_key(seed, rng::Stream::check_replica);
  for (int bs = 0; bs < bootstrap; ++bs) {
    std::vector<int> nets(E);
    for (int e = 0; e < E; ++e) nets[e] = int(rng::draw(key, 0xB007, std::uint64_t(bs), std::uint64_t(e))[0] % E);
    boots.push_back(argmin(out.k, metrics(nets)));
  }
  if (!boots.empty()) {
    std::sort(boots.begin(), boots.end());
    out.ci_lo = boots[size_t(0.025 * (boots.size() - 1))];
    out.ci_hi = boots[size_t(0.975 * (boots.size() - 1))];
  }
  return out;
}

Collapse collapse(const std::vector<const RunResult*>& runs, Field f, const std::string& quantity,
                  const std::string& variable, bool square, int bootstrap, std::uint64_t seed) {
  std::vector<Series> ss;
  for (const auto* r : runs) ss.push_back(Series{r->spec.eta, r->spec.batch, r->t, r->*f, r->diverged_at.size()});
  return collapse(ss, quantity, variable, square, bootstrap, seed);
}

EarlyRate early_rate(const RunResult& r, Field f, const std::string& quantity, bool square, std::uint64_t t_end) {
  return early_rate(Series{r.spec.eta, r.spec.batch, r.t, r.*f, r.diverged_at.size()}, r.spec.name, quantity, square,
                    t_end);
}

EarlyRate early_rate(const Series& r, const std::string& run, const std::string& quantity, bool square,
                     std::uint64_t t_end) {
  EarlyRate out;
  out.run = run;
  out.quantity = quantity;
  out.eta = r.eta;
  out.batch = r.batch;
  out.t_end = t_end;
  const size_t E = r.networks;
  // Per network: least-squares quadratic a + r t + c t^2 over the window; r is the slope at t = 0
  // (the curvature term keeps a bending curve from biasing it).
  std::vector<double> slopes;
  for (size_t e = 0; e < E; ++e) {
    double A[3][3] = {{0}}, y[3] = {0};
    int n = 0;
    bool ok = true;
    for (size_t k = 0; k < r.t.size() && r.t[k] <= t_end; ++k) {
      double v = r.v[k * E + e];
      if (!std::isfinite(v)) { ok = false; break; }
      if (square) v *= v;
      const double x = double(r.t[k]) / double(t_end), p[3] = {1, x, x * x};
      for (int i = 0; i < 3; ++i) {
        y[i] += p[i] * v;
        for (int j = 0; j < 3; ++j) A[i][j] += p[i] * p[j];
      }
      ++n;
    }
    if (!ok || n < 4) continue;
    // Solve the 3x3 normal equations (Cramer's rule) for the linear coefficient.
    auto det3 = [](double m[3][3]) {
      return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
             m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    };
    double B1[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) B1[i][j] = (j == 1) ? y[i] : A[i][j];
    slopes.push_back(det3(B1) / det3(A) / double(t_end));
  }
  double m = 0, v = 0;
  for (double s : slopes) m += s;
  m /= slopes.size();
  for (double s : slopes) v += (s - m) * (s - m);
  out.rate = m;
  out.se = std::sqrt(v / (slopes.size() - 1) / slopes.size());
  return out;
}

std::string PowerFit::text() const {
  char b[160];
  const char* v = variable == "eta" ? "eta" : "|B|";
  if (points < 2 || !std::isfinite(slope) || !std::isfinite(se))
    std::snprintf(b, sizeof b, "not determined: %d run(s) with an early rate (at least 4 records in the window per network needed)",
                  points);
  else if (unresolved())
    std::snprintf(b, sizeof b, "unresolved: %s^%.2f +- %.2f (95%% interval wider than the value)", v, slope, se);
  else
    std::snprintf(b, sizeof b, "%s^%.2f [%.2f, %.2f]", v, slope, slope - 1.96 * se, slope + 1.96 * se);
  return b;
}

PowerFit power_fit(const std::vector<EarlyRate>& rates, const std::string& variable) {
  PowerFit p;
  p.variable = variable;
  if (!rates.empty()) p.quantity = rates[0].quantity;
  double S = 0, Sx = 0, Sy = 0, Sxx = 0, Sxy = 0;
  for (const auto& r : rates) {
    if (!(std::abs(r.rate) > 0) || !(r.se > 0)) continue;
    const double x = std::log(variable == "eta" ? r.eta : double(r.batch)), y = std::log(std::abs(r.rate));
    const double sy = r.se / std::abs(r.rate), w = 1 / (sy * sy);
    ++p.points;
    S += w; Sx += w * x; Sy += w * y; Sxx += w * x * x; Sxy += w * x * y;
  }
  const double det = S * Sxx - Sx * Sx;
  p.slope = (S * Sxy - Sx * Sy) / det;
  p.se = std::sqrt(S / det);
  return p;
}

}  // namespace soret::net
