#pragma once
// Stationary densities of one-dimensional unbiased walks (derivations: validation/THEORY.md).
//
// For q' = q - eta g(q~) zeta with q~ = q + alpha (q' - q), unit-variance symmetric zeta and no
// drift, the Kramers-Moyal expansion to order eta^2 gives the flux
//     J = -(eta^2/2) (g^2 rho)' + alpha eta^2 g g' rho,
// and J = 0 (reflecting walls; or periodic, where the symmetric walk has zero stationary flux) gives
//     rho(q) proportional to g(q)^(2 alpha - 2)       (1/g^2 Ito, 1/g Stratonovich, uniform anti-Ito),
// up to relative corrections of order eta^2.
#include <vector>

#include "soret/common/expression.hpp"
#include "soret/walk/model.hpp"

namespace soret::theory {

/// Probability of each of `bins` equal bins of [lo, hi) under the stationary law
/// rho ~ g^(2 alpha - 2) of the one-dimensional expression g (composite Simpson, 64 panels/bin).
std::vector<double> stationary_bin_probabilities(const Expression& g, double lo, double hi, int bins, double alpha);

/// Exact stationary bin probabilities of the discrete walk with Rademacher noise and no drift,
/// q' = fold(T_s(q)), T_s(y) = y + s eta g(fold(y + alpha s eta g(y))), s = +-1 (the engine's
/// predictor-corrector convention alpha), on a periodic or reflecting [lo, hi): the fixed point of
/// the transfer operator
///     rho'(x) = 1/2 sum_s sum_{y : fold(T_s(y)) = x} rho(y) / T_s'(y)
/// on a grid of `grid` cells (linear interpolation; error O(h^2 rho'')), found by power iteration
/// from the continuum law rho ~ g^(2 alpha - 2) until the largest change of one iteration is below
/// `tol` / L. Needs T_s increasing (eta |g'| < 1). All orders in eta; the reference for the
/// measured stationary density.
std::vector<double> stationary_rademacher_exact(const Expression& g, double lo, double hi, Boundary b, double eta,
                                                int bins, double alpha = 0.0, int grid = 1 << 14, double tol = 1e-13);

/// Bin probabilities of an arbitrary non-negative weight function w(q) on [lo, hi).
template <typename F>
std::vector<double> bin_probabilities(F&& w, double lo, double hi, int bins, int panels = 64) {
  std::vector<double> p(bins, 0.0);
  const double h = (hi - lo) / bins, dx = h / (2 * panels);
  double total = 0.0;
  for (int b = 0; b < bins; ++b) {
    double s = 0.0;
    const double a = lo + b * h;
    for (int k = 0; k <= 2 * panels; ++k) {
      const double c = (k == 0 || k == 2 * panels) ? 1.0 : (k % 2 ? 4.0 : 2.0);
      s += c * w(a + k * dx);
    }
    p[b] = s * dx / 3.0;
    total += p[b];
  }
  for (auto& v : p) v /= total;
  return p;
}

}  // namespace soret::theory
