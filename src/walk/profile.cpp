#include "soret/walk/profile.hpp"

#include "soret/walk/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace soret {

namespace {
void track(double v, double& mn, double& mx, bool& finite) {
  if (!std::isfinite(v)) { finite = false; return; }
  mn = std::min(mn, v);
  mx = std::max(mx, v);
}

/// The degree-D interpolant of f at the D+1 Chebyshev points of [lo, lo + width], as power-basis
/// coefficients in s = 2 (q - lo) / width - 1 in [-1, 1]: Chebyshev coefficients by the discrete
/// cosine sum, then T_k(s) expanded in powers of s, all in long double.
template <class F>
std::vector<double> single_piece_coefficients(F& f, double lo, double width, int D) {
  const int n = D + 1;
  const long double pi = 3.141592653589793238462643383279502884L;
  std::vector<long double> fv(n), c(n, 0.0L);
  for (int r = 0; r < n; ++r) {
    const long double s = std::cos((2.0L * r + 1) * pi / (2.0L * n));
    fv[r] = f(lo + double((s + 1.0L) / 2.0L) * width);
  }
  for (int k = 0; k < n; ++k) {
    long double acc = 0;
    for (int r = 0; r < n; ++r) acc += fv[r] * std::cos(k * (2.0L * r + 1) * pi / (2.0L * n));
    c[k] = acc * 2.0L / n;
  }
  c[0] /= 2;
  // T_0 = 1, T_1 = s, T_{k+1} = 2 s T_k - T_{k-1}.
  std::vector<std::vector<long double>> T(n, std::vector<long double>(n, 0.0L));
  T[0][0] = 1;
  if (n > 1) T[1][1] = 1;
  for (int k = 1; k + 1 < n; ++k)
    for (int p = 0; p < n; ++p) T[k + 1][p] = (p > 0 ? 2.0L * T[k][p - 1] : 0.0L) - T[k - 1][p];
  std::vector<double> a(n);
  for (int p = 0; p < n; ++p) {
    long double acc = 0;
    for (int k = 0; k < n; ++k) acc += c[k] * T[k][p];
    a[p] = double(acc);
  }
  return a;
}
}  // namespace

FastFunction::FastFunction(const Expression& exact, const std::vector<AxisRange>& ranges, int max_table) {
  fmin_ = std::numeric_limits<double>::infinity();
  fmax_ = -fmin_;
  const auto& used = exact.used_axes();
  if (used.empty()) {
    std::vector<double> q(exact.dim(), 0.0);
    c_ = exact(q.data());
    kind_ = Kind::constant;
    track(c_, fmin_, fmax_, finite_);
    return;
  }
  if (used.size() == 1 && std::isfinite(ranges[used[0]].lo) && std::isfinite(ranges[used[0]].hi)) {
    if (build_poly(exact, ranges)) return;
    build_table(exact, ranges, max_table);
    if (kind_ == Kind::table || !finite_) return;  // a non-finite value on the grid is reported by the caller
  }
  kind_ = Kind::general;
  scan_general(exact, ranges);
}

void FastFunction::build_table(const Expression& exact, const std::vector<AxisRange>& ranges, int max_table) {
  axis_ = exact.used_axes()[0];
  lo_ = ranges[axis_].lo;
  const double width = ranges[axis_].hi - lo_;
  std::vector<double> q(exact.dim(), 0.0);
  auto f = [&](double x) { q[axis_] = x; return exact(q.data()); };
  for (int T = 64; T <= max_table; T *= 2) {
    const double h = width / T;
    std::vector<double> coef(size_t(T) * 4);
    double err = 0.0, fmax_abs = 0.0, mn = std::numeric_limits<double>::infinity(), mx = -mn;
    bool finite = true;
    double f0 = f(lo_);
    for (int j = 0; j < T; ++j) {
      const double x0 = lo_ + j * h;
      const double f1 = f(x0 + h / 3), f2 = f(x0 + 2 * h / 3);
      const double f3 = (j + 1 == T) ? f(lo_ + width) : f(lo_ + (j + 1) * h);
      for (double v : {f0, f1, f2, f3}) { track(v, mn, mx, finite); fmax_abs = std::max(fmax_abs, std::abs(v)); }
      // Newton differences on v = 3u in {0,1,2,3}, expanded to the power basis in u.
      const double d1 = f1 - f0, d2 = f2 - 2 * f1 + f0, d3 = f3 - 3 * f2 + 3 * f1 - f0;
      double* a = &coef[size_t(j) * 4];
      a[0] = f0;
      a[1] = 3 * (d1 - d2 / 2 + d3 / 3);
      a[2] = 9 * (d2 / 2 - d3 / 2);
      a[3] = 27 * (d3 / 6);
      for (double u : {1.0 / 6, 0.5, 5.0 / 6}) {
        const double ex = f(x0 + u * h);
        track(ex, mn, mx, finite);
        const double p = ((a[3] * u + a[2]) * u + a[1]) * u + a[0];
        err = std::max(err, std::abs(p - ex));
      }
      f0 = f3;
    }
    fmin_ = mn; fmax_ = mx; finite_ = finite;
    if (!finite) { kind_ = Kind::general; return; }  // the caller reports the bad value
    if (err <= 1e-11 * std::max(fmax_abs, 1e-3)) {
      kind_ = Kind::table;
      T_ = T;
      inv_h_ = T / width;
      coef_ = std::move(coef);
      err_ = err;
      return;
    }
  }
  kind_ = Kind::general;  // not smooth enough for a small table: evaluate exactly
}

bool FastFunction::build_poly(const Expression& exact, const std::vector<AxisRange>& ranges) {
  axis_ = exact.used_axes()[0];
  lo_ = ranges[axis_].lo;
  hi_ = ranges[axis_].hi;
  const double width = hi_ - lo_;
  std::vector<double> q(exact.dim(), 0.0);
  auto f = [&](double x) { q[axis_] = x; return exact(q.data()); };
  for (int P : {1, 16, 32}) {
    // Check points per piece; the single-piece form reaches higher degrees.
    const int kCheck = P == 1 ? 2048 : 64;
    const int Dmax = P == 1 ? kMaxSingleDegree : 9;
    const double h = width / P;
    // Values at the check points (also the domain scan for min/max/finite).
    std::vector<double> fx(size_t(P) * (kCheck + 1));
    double mn = std::numeric_limits<double>::infinity(), mx = -mn, fmax_abs = 0.0;
    bool finite = true;
    for (int j = 0; j < P; ++j)
      for (int c = 0; c <= kCheck; ++c) {
        const double x = (c == kCheck && j + 1 == P) ? hi_ : lo_ + (j + double(c) / kCheck) * h;
        const double v = f(x);
        fx[size_t(j) * (kCheck + 1) + c] = v;
        track(v, mn, mx, finite);
        fmax_abs = std::max(fmax_abs, std::abs(v));
      }
    if (!finite) return false;
    for (int D = 1; D <= Dmax; ++D) {
      std::vector<double> coef(size_t(D + 1) * P);
      if (P == 1) {
        coef = single_piece_coefficients(f, lo_, width, D);
      } else for (int j = 0; j < P; ++j) {
        // Interpolation at the D+1 Chebyshev points of u in [0, 1]: solve the Vandermonde system
        // in long double (D <= 9).
        const int m = D + 1;
        std::vector<long double> A(size_t(m) * (m + 1));
        for (int r = 0; r < m; ++r) {
          const long double t = 0.5L + 0.5L * std::cos((2.0L * r + 1) * 3.14159265358979323846L / (2.0L * m));
          const double x = lo_ + (j + double(t)) * h;
          long double p = 1;
          for (int c = 0; c < m; ++c) { A[size_t(r) * (m + 1) + c] = p; p *= t; }
          A[size_t(r) * (m + 1) + m] = f(x);
        }
        for (int c = 0; c < m; ++c) {  // Gauss-Jordan with partial pivoting
          int piv = c;
          for (int r = c + 1; r < m; ++r)
            if (std::fabs(A[size_t(r) * (m + 1) + c]) > std::fabs(A[size_t(piv) * (m + 1) + c])) piv = r;
          for (int k = 0; k <= m; ++k) std::swap(A[size_t(c) * (m + 1) + k], A[size_t(piv) * (m + 1) + k]);
          for (int r = 0; r < m; ++r) {
            if (r == c) continue;
            const long double fct = A[size_t(r) * (m + 1) + c] / A[size_t(c) * (m + 1) + c];
            for (int k = c; k <= m; ++k) A[size_t(r) * (m + 1) + k] -= fct * A[size_t(c) * (m + 1) + k];
          }
        }
        for (int c = 0; c < m; ++c) coef[size_t(c) * P + j] = double(A[size_t(c) * (m + 1) + m] / A[size_t(c) * (m + 1) + c]);
      }
      // Measure the error exactly as the kernels evaluate.
      P_ = P; D_ = D; pcoef_ = coef;
      if (P == 1) {  // one piece: y = s in [-1, 1] over the domain (the piece clamps to 0, u = y)
        pscale_ = 2.0 / width; poff_ = -lo_ * pscale_ - 1.0;
      } else {
        pscale_ = P / width; poff_ = -lo_ * pscale_;
      }
      double err = 0.0;
      for (int j = 0; j < P; ++j)
        for (int c = 0; c <= kCheck; ++c) {
          const double x = (c == kCheck && j + 1 == P) ? hi_ : lo_ + (j + double(c) / kCheck) * h;
          err = std::max(err, std::abs(poly_at(x) - fx[size_t(j) * (kCheck + 1) + c]));
        }
      // One piece only where it is at least a hundred times tighter than the criterion (its
      // rounding floor then stays far below the pieces' accuracy); pieces: the criterion.
      if (err <= (P == 1 ? 1e-13 : 1e-11) * std::max(fmax_abs, 1e-3)) {
        kind_ = Kind::poly;
        err_ = err;
        stride_ = 4 * ((D + 4) / 4);
        pcoef_t_.assign(size_t(P) * stride_, 0.0);
        for (int j = 0; j < P; ++j)
          for (int c = 0; c <= D; ++c) pcoef_t_[size_t(j) * stride_ + c] = pcoef_[size_t(c) * P + j];
        fmin_ = mn; fmax_ = mx; finite_ = true;
        return true;
      }
    }
  }
  P_ = D_ = 0;
  pcoef_.clear();
  pcoef_t_.clear();
  stride_ = 0;
  return false;
}

void FastFunction::scan_general(const Expression& exact, const std::vector<AxisRange>& ranges) {
  // A regular grid over the used axes, about 2^16 points in all.
  const auto& used = exact.used_axes();
  const int per_axis = std::max(3, static_cast<int>(std::pow(65536.0, 1.0 / used.size())));
  std::vector<double> q(exact.dim(), 0.0);
  for (size_t k = 0; k < ranges.size(); ++k)
    q[k] = std::isfinite(ranges[k].lo) ? ranges[k].lo : 0.0;
  std::vector<int> idx(used.size(), 0);
  finite_ = true;
  while (true) {
    for (size_t u = 0; u < used.size(); ++u) {
      const auto& r = ranges[used[u]];
      const double lo = std::isfinite(r.lo) ? r.lo : -1.0, hi = std::isfinite(r.hi) ? r.hi : 1.0;
      q[used[u]] = lo + (hi - lo) * idx[u] / (per_axis - 1);
    }
    track(exact(q.data()), fmin_, fmax_, finite_);
    size_t u = 0;
    while (u < used.size() && ++idx[u] == per_axis) idx[u++] = 0;
    if (u == used.size()) break;
  }
}

std::string FastFunction::kind_name() const {
  switch (kind_) {
    case Kind::constant: return "constant";
    case Kind::poly: return "piecewise-poly";
    case Kind::table: return "cubic-table";
    default: return "exact";
  }
}

void FastFunction::eval(const double* const* x, int n, double* __restrict out, const Expression& exact) const {
  switch (kind_) {
    case Kind::constant:
      std::fill_n(out, n, c_);
      return;
    case Kind::poly: {
      const double* __restrict xa = x[axis_];
      bool outside = false;
      for (int i = 0; i < n; ++i) outside |= !(xa[i] >= lo_ && xa[i] <= hi_);
      AxisKernel k;
      k.P = P_; k.D = D_; k.pscale = pscale_; k.poff = poff_; k.coef = pcoef_.data(); k.coef_t = pcoef_t_.data(); k.stride = stride_;
      poly_values(k, lo_, hi_, xa, n, out);  // poly_at(clamp(x)) bit for bit, in SIMD
      if (outside) {
        std::vector<double> q(exact.dim(), 0.0);
        for (int i = 0; i < n; ++i)
          if (!(xa[i] >= lo_ && xa[i] <= hi_)) {
            for (int k = 0; k < exact.dim(); ++k) q[k] = x[k][i];
            out[i] = exact(q.data());
          }
      }
      return;
    }
    case Kind::table: {
      const double* __restrict xa = x[axis_];
      const double* __restrict cf = coef_.data();
      const double lo = lo_, ih = inv_h_;
      const int T = T_;
      int outside = 0;
      const double top = double(T - 1), Td = double(T);
      for (int i = 0; i < n; ++i) {
        const double y = (xa[i] - lo) * ih;
        outside |= int(!(y >= 0.0 && y <= Td));
        double jd = std::floor(y);
        jd = jd > 0.0 ? jd : 0.0;  // (NaN -> 0; such points are recomputed below)
        jd = jd < top ? jd : top;
        const int j = static_cast<int>(jd);
        const double u = y - jd;
        const double* a = cf + 4 * j;
        out[i] = ((a[3] * u + a[2]) * u + a[1]) * u + a[0];
      }
      if (outside) {
        std::vector<double> q(exact.dim(), 0.0);
        for (int i = 0; i < n; ++i) {
          const double y = (xa[i] - lo) * ih;
          if (!(y >= 0.0 && y <= double(T))) {
            for (int k = 0; k < exact.dim(); ++k) q[k] = x[k][i];
            out[i] = exact(q.data());
          }
        }
      }
      return;
    }
    case Kind::general:
      exact.eval_bulk(x, n, out);
      return;
  }
}

}  // namespace soret
