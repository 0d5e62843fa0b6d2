#pragma once
// A regular 1-D lattice of bins over [lo, hi): bin k = [lo + k h, lo + (k+1) h), h = (hi-lo)/B.
// Face k is the left edge of bin k (faces 0..B). cell() is the single definition of "which bin"
// used by every observer, so that density and face-crossing counts agree exactly.
#include <cmath>
#include <cstdint>

namespace soret {

struct Lattice {
  double lo = 0.0, hi = 1.0;
  int bins = 1;
  double inv_h = 1.0;

  Lattice() = default;
  Lattice(double lo_, double hi_, int bins_) : lo(lo_), hi(hi_), bins(bins_), inv_h(bins_ / (hi_ - lo_)) {}

  double edge(int k) const { return k == bins ? hi : lo + (hi - lo) * k / bins; }

  /// Unclamped cell index of x (may be < 0 or >= bins outside the grid). x == hi (and x within
  /// rounding below hi) belongs to the last bin.
  std::int64_t cell(double x) const {
    double y = std::floor((x - lo) * inv_h);
    y = (y > -4.0e15) ? y : -4.0e15;  // also maps NaN to -4e15
    y = (y < 4.0e15) ? y : 4.0e15;
    auto c = static_cast<std::int64_t>(y);
    if (c >= bins && x <= hi) c = bins - 1;
    return c;
  }
};

/// Floor division and non-negative modulo for signed lattice indices.
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
inline std::int64_t pos_mod(std::int64_t a, std::int64_t b) { return a - b * floor_div(a, b); }

}  // namespace soret
