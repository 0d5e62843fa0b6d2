#pragma once
// Fast evaluation of a user expression on blocks of walkers (the hot path of the integrator).
//
// An expression is classified once:
//  - constant: no variable used;
//  - table:    exactly one variable q_k used and axis k has a finite domain [lo_k, hi_k]: the
//              expression is replaced on [lo_k, hi_k] by a piecewise cubic (interpolation at
//              u = 0, 1/3, 2/3, 1 of each of T equal intervals). T is doubled from 64 until the
//              measured maximum deviation from the exact expression (checked at u = 1/6, 1/2,
//              5/6 of every interval, where the interpolation error peaks) is <= 1e-11 max|f|;
//              that measured bound is reported. Points outside [lo_k, hi_k] use the exact value.
//  - general:  several variables: evaluated exactly by muParser's bulk mode.
#include <string>
#include <vector>

#include "soret/common/expression.hpp"

namespace soret {

struct AxisRange {
  double lo, hi;
};

class FastFunction {
 public:
  enum class Kind { constant, table, general };

  /// `ranges` are the per-axis domains used for tabulation; `exact` is only read during
  /// construction. `max_table` caps T (then the general path is used).
  FastFunction(const Expression& exact, const std::vector<AxisRange>& ranges, int max_table = 1 << 14);

  /// out[i] = f(x[.][i]) for i < n. `exact` must be this thread's own clone of the expression.
  void eval(const double* const* x, int n, double* out, const Expression& exact) const;

  Kind kind() const { return kind_; }
  std::string kind_name() const;
  int table_size() const { return T_; }
  int table_axis() const { return axis_; }
  /// Measured max |table - exact| over the check points (0 unless kind == table).
  double error_bound() const { return err_; }
  /// Min and max of f over the domain grid examined at construction (nodes and check points).
  double grid_min() const { return fmin_; }
  double grid_max() const { return fmax_; }
  bool grid_finite() const { return finite_; }

 private:
  void build_table(const Expression& exact, const std::vector<AxisRange>& ranges, int max_table);
  void scan_general(const Expression& exact, const std::vector<AxisRange>& ranges);

  Kind kind_ = Kind::general;
  double c_ = 0.0;  // constant value
  int axis_ = -1, T_ = 0;
  double lo_ = 0, inv_h_ = 0;
  std::vector<double> coef_;  // 4 per interval: a0, a1, a2, a3 in u in [0,1)
  double err_ = 0.0, fmin_ = 0.0, fmax_ = 0.0;
  bool finite_ = true;
};

}  // namespace soret
