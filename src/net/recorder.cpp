#include "soret/net/recorder.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace soret::net {

int Recorder::add(const std::string& name, std::vector<std::string> labels, const std::string& unit,
                  const std::string& description) {
  Column c{name, unit, description, std::move(labels), {}};
  c.v.assign(R_ * E_ * c.width(), std::numeric_limits<double>::quiet_NaN());
  cols_.push_back(std::move(c));
  return int(cols_.size()) - 1;
}

const Recorder::Column& Recorder::column(const std::string& name) const {
  for (const auto& c : cols_)
    if (c.name == name) return c;
  throw std::out_of_range("no record column '" + name + "'");
}

bool Recorder::has(const std::string& name) const {
  for (const auto& c : cols_)
    if (c.name == name) return true;
  return false;
}

std::vector<double> Recorder::slice(const std::string& name, std::size_t j) const {
  const Column& c = column(name);
  const std::size_t w = c.width();
  std::vector<double> out(R_ * E_);
  for (std::size_t q = 0; q < R_ * E_; ++q) out[q] = c.v[q * w + j];
  return out;
}

void Recorder::invalidate(std::size_t e, std::size_t from_record) {
  for (auto& c : cols_) {
    const std::size_t w = c.width();
    for (std::size_t r = from_record; r < R_; ++r)
      for (std::size_t j = 0; j < w; ++j) c.v[(r * E_ + e) * w + j] = std::numeric_limits<double>::quiet_NaN();
  }
}

void Recorder::keep_rows(std::size_t rows) {
  if (rows > R_) rows = R_;
  for (auto& c : cols_) c.v.resize(rows * E_ * c.width());
  R_ = rows;
}

void Recorder::copy_rows(const Recorder& o, std::size_t rows) {
  for (std::size_t k = 0; k < cols_.size() && k < o.cols_.size(); ++k) {
    const std::size_t n = std::min({rows * E_ * cols_[k].width(), o.cols_[k].v.size(), cols_[k].v.size()});
    std::copy_n(o.cols_[k].v.begin(), n, cols_[k].v.begin());
  }
}

}  // namespace soret::net
