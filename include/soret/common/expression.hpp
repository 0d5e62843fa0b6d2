#pragma once
// A user-given scalar expression of the walker coordinates, parsed by muParser.
//
// Variables: q0 ... q{n-1}; in one dimension also `q` (= q0). Constants: `eta` (the step-size
// scale of the run), and muParser's built-ins (_pi, _e, sin, exp, ...).
// One Expression is not thread-safe: give each thread its own (clone()).
#include <memory>
#include <string>
#include <vector>

namespace mu { class Parser; }

namespace soret {

class Expression {
 public:
  /// Parses `text`; throws InputError(option, ...) on a syntax error or an unknown variable.
  Expression(std::string text, int dim, double eta, std::string option, int bulk_capacity = 512);
  ~Expression();
  Expression(const Expression&) = delete;
  Expression& operator=(const Expression&) = delete;

  std::unique_ptr<Expression> clone() const;

  /// Value at the point q[0..dim).
  double operator()(const double* q) const;
  /// Convenience for one dimension.
  double at(double q0) const { return (*this)(&q0); }

  /// Values at n points given as structure of arrays: x[axis][i], i < n (any n).
  void eval_bulk(const double* const* x, int n, double* out) const;

  /// d/dq_axis at q by muParser's 4th-order central difference with step h (error O(h^4 f^(5)) +
  /// O(eps_machine |f| / h)); use derivative_step() for a sensible h.
  double diff(int axis, const double* q, double h) const;
  /// d^2/dq_axis^2 by a 4th-order five-point stencil with step h (error O(h^4 f^(6)) + O(eps |f|/h^2)).
  double diff2(int axis, const double* q, double h) const;

  /// Axes whose variable appears in the expression.
  const std::vector<int>& used_axes() const { return used_axes_; }
  bool is_constant() const { return used_axes_.empty(); }
  const std::string& text() const { return text_; }
  const std::string& option() const { return option_; }
  int dim() const { return dim_; }

 private:
  std::string text_, option_;
  int dim_;
  double eta_;
  int cap_;
  std::unique_ptr<mu::Parser> parser_;
  mutable std::vector<double> buf_;  // used axes x cap_ variable storage (bulk layout)
  mutable double unused_ = 0.0;      // storage of the variables the expression does not use
  std::vector<int> row_;             // axis -> row of buf_, or -1
  mutable std::vector<double> out_;
  std::vector<int> used_axes_;
};

/// A step size for numerical derivatives on a domain of width `scale`: ~ scale * 1e-3, which
/// balances the h^4 truncation and eps/h round-off of a 4th-order stencil.
inline double derivative_step(double scale) { return 1e-3 * scale; }

}  // namespace soret
