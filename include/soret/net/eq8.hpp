#pragma once
// The links from SGD on the two-layer net to the reduced walk (validation/THEORY.md, "Eq. 8 and
// Eq. 27 for the two-layer net"): the step covariance of (V_i, b_i) against Eq. 8's shared-sign
// form, and Eq. 27's thermophoretic drift from the Gaussian closed forms of phi_1, phi_2.
#include <cstdint>
#include <vector>

#include "soret/net/model.hpp"

namespace soret::net {

/// Eq. 27 for one hidden unit with h = w.x + b ~ N(b, s^2) (x ~ N(0, I), s = |w|) and the
/// independence assumption E[(p-y)^2 F(h)] = c2 E[F(h)]:
///   phi_1^2 = c2 E relu(h)^2,  phi_2^2 = c2 P(h > 0),  and their derivatives in b;
///   psi = (|V| phi_1 phi_2^2 + |V| phi_1 phi_2 d_b phi_1 + |V|^3 phi_2^2 d_b phi_2) / (2 |g_U|),
///   |g_U| = sqrt(phi_1^2 + V^2 phi_2^2) (the paper's Eq. 27, its factor 1/2 included);
/// the flux eta^2/|B| psi along -g_U/|g_U| moves b by b_drift and V^2 by v2_drift per step.
struct Eq27Unit {
  double phi1 = 0, phi2 = 0, dphi1 = 0, dphi2 = 0, psi = 0, b_drift = 0, v2_drift = 0;
};
Eq27Unit eq27_unit(double b, double s, double V, double c2, double eta, int batch);

/// Eq. 8 measured: the per-sample (|B| = 1) step of unit i at parameters (W, b, V),
/// dV_i = -eta (p - y) relu(h_i), db_i = -eta (p - y) V_i [h_i > 0], over S probe samples. With
/// s_i = sign(V_i), Eq. 8's shared sign makes (dV_i, s_i db_i) = -eta (g_V, g_b) zeta exactly:
/// correlation 1 and cross-covariance g_V g_b eta^2. Per unit: the correlation r_i and the ratio
/// cov / (sd_V sd_b) of the centred steps; averaged over units, SE over networks.
struct Eq8Steps {
  double corr = 0, corr_se = 0;          ///< mean over units of the correlation of (dV_i, s_i db_i)
  double cross = 0, cross_se = 0;        ///< mean cross-covariance cov(dV_i, s_i db_i) / eta^2
  double eq8_cross = 0, eq8_cross_se = 0;  ///< Eq. 8's cross-covariance g_V g_b (= sd_V sd_b) / eta^2
  double active = 0;                     ///< mean fraction of samples with unit i active
  int networks = 0, units = 0, samples = 0;
};
/// W: E x N x M (row-major per network), b, V: E x N. Networks with non-finite parameters are skipped.
Eq8Steps eq8_step_covariance(const NetConfig& c, const std::vector<double>& W, const std::vector<double>& b,
                             const std::vector<double>& V, std::size_t E, int samples, std::uint64_t seed);

}  // namespace soret::net
