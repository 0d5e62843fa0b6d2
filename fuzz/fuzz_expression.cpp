// Fuzz target: expression parsing and evaluation (muParser behind soret::Expression), as --g,
// --drift and --init density: use it. The first byte picks the dimension; the rest is the text.
// A bad expression must be an InputError; evaluation must not crash for any point.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "soret/common/error.hpp"
#include "soret/common/expression.hpp"

using namespace soret;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int dim = 1 + data[0] % 4;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    Expression e(text, dim, 0.05, "g", 7);
    std::vector<double> q(dim);
    for (double v : {0.0, 0.5, -1.0, 1e300, double(NAN)}) {
      for (auto& x : q) x = v;
      try {
        (void)e(q.data());
        (void)e.diff(0, q.data(), 1e-3);
      } catch (const NumericalError&) {
      }
    }
    std::vector<std::vector<double>> cols(dim, std::vector<double>(20, 0.25));
    std::vector<const double*> ptrs;
    for (auto& c : cols) ptrs.push_back(c.data());
    std::vector<double> out(20);
    try {
      e.eval_bulk(ptrs.data(), 20, out.data());
    } catch (const NumericalError&) {
    }
    auto c = e.clone();
    (void)c->used_axes();
  } catch (const InputError&) {
  }
  return 0;
}
