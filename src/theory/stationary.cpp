#include "soret/theory/stationary.hpp"

#include <algorithm>
#include <cmath>

#include "soret/common/error.hpp"

namespace soret::theory {

std::vector<double> stationary_bin_probabilities(const Expression& g, double lo, double hi, int bins, double alpha) {
  const double p = 2.0 * alpha - 2.0;
  return bin_probabilities([&](double q) { return std::pow(g.at(q), p); }, lo, hi, bins);
}

std::vector<double> stationary_rademacher_exact(const Expression& g, double lo, double hi, Boundary b, double eta,
                                                int bins, double alpha, int grid) {
  if (b != Boundary::periodic && b != Boundary::reflecting)
    throw InputError("boundary", "exact stationary law: periodic or reflecting boundaries only");
  const int M = bins * std::max(1, grid / bins);  // whole cells per bin
  const double L = hi - lo, h = L / M, dh = derivative_step(L);
  auto fold = [&](double y) {
    if (b == Boundary::periodic) return y - L * std::floor((y - lo) / L);
    double m = std::fmod(y - lo, 2 * L);
    if (m < 0) m += 2 * L;
    return lo + (m > L ? 2 * L - m : m);
  };
  auto T = [&](int s, double y) {
    const double gy = g.at(y);
    const double pred = alpha == 0.0 ? y : fold(y + alpha * s * eta * gy);
    return y + s * eta * (alpha == 0.0 ? gy : g.at(pred));
  };
  auto dT = [&](int s, double y) { return (T(s, y + dh) - T(s, y - dh)) / (2 * dh); };
  struct Pre { double y, w; };
  std::vector<std::vector<Pre>> pre(M);
  for (int k = 0; k < M; ++k) {
    const double x = lo + (k + 0.5) * h;
    std::vector<double> targets;
    if (b == Boundary::periodic) targets = {x - L, x, x + L};
    else targets = {x, 2 * lo - x, 2 * hi - x};
    for (int s : {+1, -1})
      for (double xt : targets) {
        // Solve T_s(y) = xt (T_s is increasing when eta |g'| < 1).
        double y = xt - s * eta * g.at(xt);
        for (int it = 0; it < 100; ++it) {
          const double step = (T(s, y) - xt) / dT(s, y);
          y -= step;
          if (std::abs(step) < 1e-15 * (1 + std::abs(y))) break;
        }
        if (y < lo || y >= hi) continue;
        const double jac = dT(s, y);
        if (!(jac > 0)) throw NumericalError("exact stationary law: eta |g'| >= 1, the walk is not invertible");
        pre[k].push_back({y, 0.5 / jac});
      }
  }
  auto interp = [&](const std::vector<double>& r, double y) {
    const double u = (y - lo) / h - 0.5;
    int j = static_cast<int>(std::floor(u));
    const double f = u - j;
    if (b == Boundary::periodic) {
      const int j0 = ((j % M) + M) % M, j1 = (j0 + 1) % M;
      return (1 - f) * r[j0] + f * r[j1];
    }
    if (j < 0) return r[0];
    if (j >= M - 1) return r[M - 1];
    return (1 - f) * r[j] + f * r[j + 1];
  };
  std::vector<double> r(M, 1.0 / L), next(M);
  for (int it = 0; it < 200000; ++it) {
    double tot = 0;
    for (int k = 0; k < M; ++k) {
      double v = 0;
      for (const auto& p : pre[k]) v += p.w * interp(r, p.y);
      next[k] = v;
      tot += v * h;
    }
    double change = 0;
    for (int k = 0; k < M; ++k) {
      next[k] /= tot;
      change = std::max(change, std::abs(next[k] - r[k]));
    }
    r.swap(next);
    if (change < 1e-13 * (1.0 / L)) break;
  }
  std::vector<double> p(bins, 0.0);
  for (int k = 0; k < M; ++k) p[k / (M / bins)] += r[k] * h;
  return p;
}

}  // namespace soret::theory
