#include "soret/theory/stationary.hpp"

#include <cmath>

namespace soret::theory {

std::vector<double> stationary_bin_probabilities(const Expression& g, double lo, double hi, int bins, double alpha) {
  const double p = 2.0 * alpha - 2.0;
  return bin_probabilities([&](double q) { return std::pow(g.at(q), p); }, lo, hi, bins);
}

}  // namespace soret::theory
