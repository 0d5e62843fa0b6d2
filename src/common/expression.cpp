#include "soret/common/expression.hpp"

#include <muParser.h>

#include <algorithm>

#include "soret/common/error.hpp"

namespace soret {

Expression::Expression(std::string text, int dim, double eta, std::string option, int bulk_capacity)
    : text_(std::move(text)), option_(std::move(option)), dim_(dim), eta_(eta),
      cap_(std::max(1, bulk_capacity)), parser_(std::make_unique<mu::Parser>()),
      buf_(static_cast<size_t>(dim) * cap_, 0.0), out_(cap_, 0.0) {
  try {
    for (int k = 0; k < dim_; ++k) parser_->DefineVar("q" + std::to_string(k), &buf_[size_t(k) * cap_]);
    if (dim_ == 1) parser_->DefineVar("q", &buf_[0]);
    parser_->DefineConst("eta", eta_);
    parser_->SetExpr(text_);
    const auto& used = parser_->GetUsedVar();  // parses; throws on syntax errors and unknown names
    for (const auto& [name, ptr] : used) {
      const auto idx = static_cast<int>((ptr - buf_.data()) / cap_);
      if (std::find(used_axes_.begin(), used_axes_.end(), idx) == used_axes_.end()) used_axes_.push_back(idx);
    }
    std::sort(used_axes_.begin(), used_axes_.end());
    parser_->Eval();
  } catch (const mu::Parser::exception_type& e) {
    throw InputError(option_, "--" + option_ + ": cannot parse expression '" + text_ + "': " + e.GetMsg());
  }
}

Expression::~Expression() = default;

std::unique_ptr<Expression> Expression::clone() const {
  return std::make_unique<Expression>(text_, dim_, eta_, option_, cap_);
}

double Expression::operator()(const double* q) const {
  for (int k = 0; k < dim_; ++k) buf_[size_t(k) * cap_] = q[k];
  try {
    return parser_->Eval();
  } catch (const mu::Parser::exception_type& e) {
    throw NumericalError("expression '" + text_ + "' failed: " + e.GetMsg());
  }
}

void Expression::eval_bulk(const double* const* x, int n, double* out) const {
  for (int start = 0; start < n; start += cap_) {
    const int m = std::min(cap_, n - start);
    for (int k : used_axes_) std::copy_n(x[k] + start, m, &buf_[size_t(k) * cap_]);
    if (m == 1) {
      out[start] = parser_->Eval();
    } else {
      parser_->Eval(out_.data(), m);
      std::copy_n(out_.data(), m, out + start);
    }
  }
}

double Expression::diff(int axis, const double* q, double h) const {
  for (int k = 0; k < dim_; ++k) buf_[size_t(k) * cap_] = q[k];
  return parser_->Diff(&buf_[size_t(axis) * cap_], q[axis], h);
}

double Expression::diff2(int axis, const double* q, double h) const {
  std::vector<double> p(q, q + dim_);
  auto f = [&](double dx) { p[axis] = q[axis] + dx; return (*this)(p.data()); };
  return (-f(2 * h) + 16 * f(h) - 30 * f(0) + 16 * f(-h) - f(-2 * h)) / (12 * h * h);
}

}  // namespace soret
