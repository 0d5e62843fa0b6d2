#pragma once
// Predictions for the walk q_i <- q_i - eta g_i(q~) zeta (derivations: validation/THEORY.md).
//
// Paper quantities (thermophoresis-of-SGD, Section 3): the implicit step lengths Delta+- (Eq. 9),
// the flux of Eq. 10 (diffusion and thermophoretic terms), the Soret coefficient of Eq. 11 and
// of Appendix A.4; and the controlled (Kramers-Moyal) flux of the walk for any convention alpha.
#include <vector>

#include "soret/common/expression.hpp"

namespace soret::theory {

/// g_i and its gradient at a point, for the coordinates of one sign group U.
struct LocalProfile {
  std::vector<double> g;                  ///< g_i(q), i in U
  std::vector<std::vector<double>> dg;    ///< dg[i][j] = d g_i / d q_j, i, j in U
};

/// Evaluates g_i and d_j g_i (i, j in U) at q with 4th-order differences (step derivative_step(scale)).
LocalProfile local_profile(const std::vector<const Expression*>& g, const std::vector<int>& U, const double* q,
                           double scale);

struct Deltas {
  std::vector<double> plus, minus;  ///< per i in U
  int iterations = 0;
};

/// Solves Delta+_i = eta g_i(q + Delta+) and Delta-_i = eta g_i(q - Delta-) (i in U, the other
/// coordinates fixed) by fixed-point iteration to machine precision; throws NumericalError if it
/// does not converge (eta |grad g| >= 1).
Deltas exact_deltas(const std::vector<const Expression*>& g, const std::vector<int>& U, const double* q, double eta);

/// Eq. 9 at leading order: 2 eta^2 sum_{j in U} g_j d_j g_i, per i in U.
std::vector<double> eq9_leading(const LocalProfile& p, double eta);

struct FluxTerms {
  double diffusion = 0.0, thermophoretic = 0.0;
  double total() const { return diffusion + thermophoretic; }
};

/// The paper's Eq. 10 given rho and its gradient along U:
///   diffusion      = -eta^2 |g_U| sum_i g_i d_i rho
///   thermophoretic = -eta^2 (sum_{i,j} g_i g_j d_j g_i / |g_U|) rho.
FluxTerms eq10_paper(const LocalProfile& p, double rho, const std::vector<double>& grad_rho, double eta);

/// The walk's own flux in 1-D to order eta^2 (Kramers-Moyal, convention alpha):
///   diffusion = -(eta^2/2) g^2 rho',  thermophoretic = -(1 - alpha) eta^2 g g' rho.
FluxTerms controlled_flux_1d(double g, double dg, double rho, double drho, double eta, double alpha);

/// Order-eta^4 term of the Ito (alpha = 0) flux for a uniform density rho:
///   -(kappa eta^4 / 24) rho (g^4)''',  kappa = E zeta^4 (1 Rademacher, 3 Gaussian, 9/5 uniform).
double ito_flux_eta4_uniform(const Expression& g, double q, double rho, double eta, double kappa, double scale);

/// Exact one-step flux through a face at q from a uniform density rho (Rademacher, Ito, g > 0 and
/// eta |g'| < 1 near q): J+ = rho Delta- / 2, J- = rho Delta+ / 2, J = rho (Delta- - Delta+) / 2.
struct OneStepFlux {
  double plus, minus, net;
};
OneStepFlux exact_one_step_flux_uniform(const Expression& g, double q, double rho, double eta);

/// Soret coefficient as defined in Eq. 11: c = -eta^2 sum_{i,j} g_i g_j d_j g_i / (2 |g_U|).
double soret_eq11(const LocalProfile& p, double eta);
/// Appendix A.4 (|U| = 1): c = +(eta^2 / 2) g g'.
double soret_a4(double g, double dg, double eta);

/// Stationary law with the first discreteness correction, Ito (alpha = 0), 1-D:
///   rho ~ g^-2 [1 - (kappa eta^2 / 12) (g^2)''],   unnormalised.
double stationary_ito_corrected(const Expression& g, double q, double eta, double kappa, double scale);

/// E zeta^4 of the noise laws.
double noise_kurtosis(int noise_kind);  // 0 rademacher, 1 gaussian, 2 uniform

}  // namespace soret::theory
