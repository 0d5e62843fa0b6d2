#pragma once
// Fast evaluation of a user expression on blocks of walkers (the hot path of the integrator).
//
// An expression is classified once:
//  - constant: no variable used;
//  - poly:     exactly one variable q_k used and axis k has a finite domain [lo_k, hi_k], and a
//              polynomial is accurate enough: first one piece over the whole domain of degree
//              D <= kMaxSingleDegree, power basis in s = y in [-1, 1] (y = fma(q, 2 / (hi - lo),
//              -2 lo / (hi - lo) - 1)), accepted at 1e-13 max|f| (a hundred times tighter than the
//              table's criterion below; checked at 2049 points); else P = 16 or 32 equal pieces of
//              degree D <= 9 at the table's criterion (checked at 65 points per piece), power basis
//              in u in [0, 1] (y = fma(q, P / (hi - lo), -lo P / (hi - lo)), piece floor(y)
//              clamped to [0, P-1], u = y - piece). The lowest degree that passes is taken; the
//              coefficients interpolate at the Chebyshev points of each piece. One piece
//              needs no lookup at all (the SIMD kernels broadcast its coefficients); 16 or 32
//              pieces are looked up by a register permute (AVX-512) or by loading each lane's
//              piece-major coefficients and transposing (AVX2). Evaluated by Horner's rule with
//              fused multiply-adds, identically (bit for bit) in the scalar and the SIMD code.
//  - table:    as poly, when no such polynomial exists: the expression is replaced on [lo_k, hi_k]
//              by a piecewise cubic (interpolation at
//              u = 0, 1/3, 2/3, 1 of each of T equal intervals). T is doubled from 64 until the
//              measured maximum deviation from the exact expression (checked at u = 1/6, 1/2,
//              5/6 of every interval, where the interpolation error peaks) is <= 1e-11 max|f|;
//              that measured bound is reported. Points outside [lo_k, hi_k] use the exact value.
//  - general:  several variables: evaluated exactly by muParser's bulk mode.
#include <cmath>
#include <string>
#include <vector>

#include "soret/common/expression.hpp"

namespace soret {

struct AxisRange {
  double lo, hi;
};

class FastFunction {
 public:
  enum class Kind { constant, poly, table, general };
  /// The highest degree tried for the single-piece polynomial (P = 1).
  static constexpr int kMaxSingleDegree = 20;

  /// `ranges` are the per-axis domains used for tabulation; `exact` is only read during
  /// construction. `max_table` caps T (then the general path is used).
  FastFunction(const Expression& exact, const std::vector<AxisRange>& ranges, int max_table = 1 << 14);

  /// out[i] = f(x[.][i]) for i < n. `exact` must be this thread's own clone of the expression.
  void eval(const double* const* x, int n, double* out, const Expression& exact) const;

  Kind kind() const { return kind_; }
  std::string kind_name() const;
  int table_size() const { return T_; }
  /// poly: pieces P and degree D; coefficient k of piece j at poly_coef()[k * P + j].
  int poly_pieces() const { return P_; }
  int poly_degree() const { return D_; }
  const double* poly_coef() const { return pcoef_.data(); }
  /// poly, piece-major: coefficient k of piece j at poly_coef_by_piece()[j * poly_stride() + k],
  /// zero-padded to a multiple of 4 per piece (the AVX2 kernel loads a piece's coefficients whole).
  const double* poly_coef_by_piece() const { return pcoef_t_.data(); }
  int poly_stride() const { return stride_; }
  double lo() const { return lo_; }
  double hi() const { return hi_; }
  /// poly: the piece coordinate is y = fma(q, poly_scale(), poly_offset()), in [0, P] on the domain.
  double poly_scale() const { return pscale_; }
  double poly_offset() const { return poff_; }
  /// One point of the poly kind, exactly as the SIMD kernels compute it (q inside [lo, hi]).
  double poly_at(double q) const {
    const double y = std::fma(q, pscale_, poff_);
    double jd = std::floor(y);
    jd = jd > 0.0 ? jd : 0.0;
    jd = jd < double(P_ - 1) ? jd : double(P_ - 1);
    const double t = y - jd;
    const int j = static_cast<int>(jd);
    double r = pcoef_[size_t(D_) * P_ + j];
    for (int k = D_ - 1; k >= 0; --k) r = std::fma(r, t, pcoef_[size_t(k) * P_ + j]);
    return r;
  }
  int table_axis() const { return axis_; }
  /// Measured max |table - exact| over the check points (0 unless kind == table).
  double error_bound() const { return err_; }
  /// Min and max of f over the domain grid examined at construction (nodes and check points).
  double grid_min() const { return fmin_; }
  double grid_max() const { return fmax_; }
  bool grid_finite() const { return finite_; }

 private:
  void build_table(const Expression& exact, const std::vector<AxisRange>& ranges, int max_table);
  bool build_poly(const Expression& exact, const std::vector<AxisRange>& ranges);
  void scan_general(const Expression& exact, const std::vector<AxisRange>& ranges);

  Kind kind_ = Kind::general;
  double c_ = 0.0;  // constant value
  int axis_ = -1, T_ = 0;
  double lo_ = 0, hi_ = 0, inv_h_ = 0;
  int P_ = 0, D_ = 0;
  double pscale_ = 0, poff_ = 0;
  std::vector<double> pcoef_;  // poly: (D+1) x P
  std::vector<double> pcoef_t_;  // poly: P x stride_, zero-padded
  int stride_ = 0;
  std::vector<double> coef_;  // 4 per interval: a0, a1, a2, a3 in u in [0,1)
  double err_ = 0.0, fmin_ = 0.0, fmax_ = 0.0;
  bool finite_ = true;
};

}  // namespace soret
