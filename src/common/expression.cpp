#include "soret/common/expression.hpp"

#include <muParser.h>

#include <algorithm>

#include "soret/common/error.hpp"

namespace soret {

Expression::Expression(std::string text, int dim, double eta, std::string option, int bulk_capacity)
    : text_(std::move(text)), option_(std::move(option)), dim_(dim), eta_(eta),
      cap_(std::max(1, bulk_capacity)), parser_(std::make_unique<mu::Parser>()), out_(cap_, 0.0) {
  try {
    // Pass 1: which variables appear (with one-value storage per axis).
    std::vector<double> probe(std::max(dim_, 1), 0.0);
    for (int k = 0; k < dim_; ++k) parser_->DefineVar("q" + std::to_string(k), &probe[size_t(k)]);
    if (dim_ == 1) parser_->DefineVar("q", &probe[0]);
    parser_->DefineConst("eta", eta_);
    parser_->SetExpr(text_);
    const auto used = parser_->GetUsedVar();  // parses; throws on syntax errors and unknown names
    for (const auto& [name, ptr] : used) {
      const auto off = ptr - probe.data();
      if (off < 0 || off >= dim_) continue;  // an undefined name (muParser's placeholder): refused by Eval below
      const int idx = static_cast<int>(off);
      if (std::find(used_axes_.begin(), used_axes_.end(), idx) == used_axes_.end()) used_axes_.push_back(idx);
    }
    std::sort(used_axes_.begin(), used_axes_.end());
    // Pass 2: bulk storage (cap_ values) for the used axes only: a profile of one coordinate in
    // 64 dimensions holds one row, not 64 (scratch sized by what is needed).
    row_.assign(size_t(std::max(dim_, 1)), -1);
    for (size_t r = 0; r < used_axes_.size(); ++r) row_[size_t(used_axes_[r])] = int(r);
    buf_.assign(std::max<size_t>(1, used_axes_.size()) * size_t(cap_), 0.0);
    parser_ = std::make_unique<mu::Parser>();
    for (int k = 0; k < dim_; ++k)
      parser_->DefineVar("q" + std::to_string(k), row_[size_t(k)] >= 0 ? &buf_[size_t(row_[size_t(k)]) * cap_] : &unused_);
    if (dim_ == 1) parser_->DefineVar("q", row_[0] >= 0 ? &buf_[0] : &unused_);
    parser_->DefineConst("eta", eta_);
    parser_->SetExpr(text_);
    parser_->Eval();
    // muParser accepts "1,2" (several results: the last one is used) and "q=3" (assignment to a
    // variable): both are mistakes in a profile; refuse them.
    if (parser_->GetNumResults() != 1)
      throw InputError(option_, "--" + option_ + ": '" + text_ + "' is " + std::to_string(parser_->GetNumResults()) +
                                    " comma-separated expressions, not one (give one value per axis as separate "
                                    "options, or per axis where the option allows it)");
    for (size_t i = 0; i < text_.size(); ++i)
      if (text_[i] == '=' && (i == 0 || std::string("<>!=").find(text_[i - 1]) == std::string::npos) &&
          (i + 1 >= text_.size() || text_[i + 1] != '='))
        throw InputError(option_, "--" + option_ + ": '" + text_ + "' assigns to a variable ('='); an expression is expected");
  } catch (const mu::Parser::exception_type& e) {
    throw InputError(option_, "--" + option_ + ": cannot parse expression '" + text_ + "': " + e.GetMsg());
  }
}

Expression::~Expression() = default;

std::unique_ptr<Expression> Expression::clone() const {
  return std::make_unique<Expression>(text_, dim_, eta_, option_, cap_);
}

double Expression::operator()(const double* q) const {
  for (int k : used_axes_) buf_[size_t(row_[size_t(k)]) * cap_] = q[k];
  try {
    return parser_->Eval();
  } catch (const mu::Parser::exception_type& e) {
    throw NumericalError("expression '" + text_ + "' failed: " + e.GetMsg());
  }
}

void Expression::eval_bulk(const double* const* x, int n, double* out) const {
  for (int start = 0; start < n; start += cap_) {
    const int m = std::min(cap_, n - start);
    for (int k : used_axes_) std::copy_n(x[k] + start, m, &buf_[size_t(row_[size_t(k)]) * cap_]);
    if (m == 1) {
      out[start] = parser_->Eval();
    } else {
      parser_->Eval(out_.data(), m);
      std::copy_n(out_.data(), m, out + start);
    }
  }
}

double Expression::diff(int axis, const double* q, double h) const {
  if (axis < 0 || axis >= dim_ || row_[size_t(axis)] < 0) return 0.0;  // the expression does not use q_axis
  for (int k : used_axes_) buf_[size_t(row_[size_t(k)]) * cap_] = q[k];
  return parser_->Diff(&buf_[size_t(row_[size_t(axis)]) * cap_], q[axis], h);
}

double Expression::diff2(int axis, const double* q, double h) const {
  std::vector<double> p(q, q + dim_);
  auto f = [&](double dx) { p[axis] = q[axis] + dx; return (*this)(p.data()); };
  return (-f(2 * h) + 16 * f(h) - 30 * f(0) + 16 * f(-h) - f(-2 * h)) / (12 * h * h);
}

}  // namespace soret
