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
                                                int bins, double alpha, int grid, double tol) {
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
  // Start from the continuum law (right to O(eta^2)): the slow modes start small.
  std::vector<double> r(M), next(M);
  {
    double tot = 0;
    for (int k = 0; k < M; ++k) {
      r[k] = std::pow(g.at(lo + (k + 0.5) * h), 2 * alpha - 2);
      if (!std::isfinite(r[k]) || !(r[k] > 0)) r[k] = 1.0;
      tot += r[k] * h;
    }
    for (auto& v : r) v /= tot;
  }
  if (M <= 1024) {
    // Small grids: inverse iteration with the shift 1 + 1e-7 on the dense operator (LU with partial
    // pivoting). The eigenvalue nearest the shift is the stationary one, 1e-7 away; the next is
    // O(eta^2) away, so each solve shrinks the other modes by ~1e-4 or more.
    const double sigma = 1.0 + 1e-7;
    std::vector<double> A(size_t(M) * M, 0.0);
    for (int k = 0; k < M; ++k) {
      A[size_t(k) * M + k] -= sigma;
      for (const auto& p : pre[k]) {
        const double u = (p.y - lo) / h - 0.5;
        const int j = static_cast<int>(std::floor(u));
        const double f = u - j;
        int j0, j1;
        if (b == Boundary::periodic) { j0 = ((j % M) + M) % M; j1 = (j0 + 1) % M; }
        else if (j < 0) { j0 = j1 = 0; }
        else if (j >= M - 1) { j0 = j1 = M - 1; }
        else { j0 = j; j1 = j + 1; }
        A[size_t(k) * M + j0] += p.w * (1 - f);
        A[size_t(k) * M + j1] += p.w * f;
      }
    }
    std::vector<int> piv(M);
    for (int c = 0; c < M; ++c) {
      int pr = c;
      for (int r2 = c + 1; r2 < M; ++r2)
        if (std::abs(A[size_t(r2) * M + c]) > std::abs(A[size_t(pr) * M + c])) pr = r2;
      piv[c] = pr;
      if (pr != c)
        for (int k = 0; k < M; ++k) std::swap(A[size_t(c) * M + k], A[size_t(pr) * M + k]);
      const double d = A[size_t(c) * M + c];
      if (d == 0.0) continue;
      for (int r2 = c + 1; r2 < M; ++r2) {
        double& l = A[size_t(r2) * M + c];
        if (l == 0.0) continue;
        l /= d;
        const double* rc = &A[size_t(c) * M];
        double* rr = &A[size_t(r2) * M];
        for (int k = c + 1; k < M; ++k) rr[k] -= l * rc[k];
      }
    }
    for (int it = 0; it < 4; ++it) {
      std::vector<double> y = r;
      for (int c = 0; c < M; ++c) std::swap(y[c], y[piv[c]]);
      for (int r2 = 0; r2 < M; ++r2)
        for (int k = 0; k < r2; ++k) y[r2] -= A[size_t(r2) * M + k] * y[k];
      for (int r2 = M - 1; r2 >= 0; --r2) {
        for (int k = r2 + 1; k < M; ++k) y[r2] -= A[size_t(r2) * M + k] * y[k];
        const double d = A[size_t(r2) * M + r2];
        y[r2] = d != 0.0 ? y[r2] / d : 0.0;
      }
      double tot = 0;
      for (double v : y) tot += v * h;
      for (int k = 0; k < M; ++k) r[k] = y[k] / tot;
    }
  } else {
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
      if (change < tol * (1.0 / L)) break;
    }
  }
  std::vector<double> p(bins, 0.0);
  for (int k = 0; k < M; ++k) p[k / (M / bins)] += r[k] * h;
  return p;
}

}  // namespace soret::theory
