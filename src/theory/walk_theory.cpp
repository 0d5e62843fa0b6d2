#include "soret/theory/walk_theory.hpp"

#include <cmath>

#include "soret/common/error.hpp"

namespace soret::theory {

LocalProfile local_profile(const std::vector<const Expression*>& g, const std::vector<int>& U, const double* q,
                           double scale) {
  LocalProfile p;
  const double h = derivative_step(scale);
  for (int i : U) {
    p.g.push_back((*g[i])(q));
    std::vector<double> row;
    for (int j : U) row.push_back(g[i]->diff(j, q, h));
    p.dg.push_back(row);
  }
  return p;
}

Deltas exact_deltas(const std::vector<const Expression*>& g, const std::vector<int>& U, const double* q, double eta) {
  const int dim = g[U[0]]->dim();
  Deltas d;
  for (int sign : {+1, -1}) {
    std::vector<double> delta(U.size()), pt(q, q + dim);
    for (size_t k = 0; k < U.size(); ++k) delta[k] = eta * (*g[U[k]])(q);
    int it = 0;
    double change = 0, size = 0;
    for (; it < 500; ++it) {
      for (size_t k = 0; k < U.size(); ++k) pt[U[k]] = q[U[k]] + sign * delta[k];
      change = 0;
      size = 0;
      for (size_t k = 0; k < U.size(); ++k) {
        const double next = eta * (*g[U[k]])(pt.data());
        change = std::max(change, std::abs(next - delta[k]));
        size = std::max(size, std::abs(next));
        delta[k] = next;
      }
      if (change <= 2e-16 * std::max(size, 1e-300)) break;
    }
    // Round-off may leave a last-ulp oscillation; anything above 1e-13 relative is divergence.
    if (it == 500 && change > 1e-13 * size) throw NumericalError("Delta+- did not converge: eta |grad g| is not small");
    d.iterations = std::max(d.iterations, it);
    (sign > 0 ? d.plus : d.minus) = delta;
  }
  return d;
}

std::vector<double> eq9_leading(const LocalProfile& p, double eta) {
  std::vector<double> out(p.g.size(), 0.0);
  for (size_t i = 0; i < p.g.size(); ++i)
    for (size_t j = 0; j < p.g.size(); ++j) out[i] += 2 * eta * eta * p.g[j] * p.dg[i][j];
  return out;
}

namespace {
double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}
double gg_dg(const LocalProfile& p) {  // sum_{i,j} g_i g_j d_j g_i
  double s = 0;
  for (size_t i = 0; i < p.g.size(); ++i)
    for (size_t j = 0; j < p.g.size(); ++j) s += p.g[i] * p.g[j] * p.dg[i][j];
  return s;
}
}  // namespace

FluxTerms eq10_paper(const LocalProfile& p, double rho, const std::vector<double>& grad_rho, double eta) {
  FluxTerms f;
  const double n = norm(p.g);
  double s = 0;
  for (size_t i = 0; i < p.g.size(); ++i) s += p.g[i] * grad_rho[i];
  f.diffusion = -eta * eta * n * s;
  f.thermophoretic = -eta * eta * gg_dg(p) / n * rho;
  return f;
}

FluxTerms controlled_flux_1d(double g, double dg, double rho, double drho, double eta, double alpha) {
  return {-0.5 * eta * eta * g * g * drho, -(1.0 - alpha) * eta * eta * g * dg * rho};
}

double ito_flux_eta4_uniform(const Expression& g, double q, double rho, double eta, double kappa, double scale) {
  // (g^4)''' by a 4th-order central stencil on the exact expression.
  const double h = 10 * derivative_step(scale);
  auto g4 = [&](double x) { const double v = g.at(x); return v * v * v * v; };
  const double d3 = (-g4(q + 3 * h) + 8 * g4(q + 2 * h) - 13 * g4(q + h) + 13 * g4(q - h) - 8 * g4(q - 2 * h) +
                     g4(q - 3 * h)) / (8 * h * h * h);
  return -kappa * std::pow(eta, 4) / 24.0 * rho * d3;
}

OneStepFlux exact_one_step_flux_uniform(const Expression& g, double q, double rho, double eta) {
  const Expression* ge[1] = {&g};
  const auto d = exact_deltas({ge[0]}, {0}, &q, eta);
  const double plus = 0.5 * rho * d.minus[0], minus = 0.5 * rho * d.plus[0];
  return {plus, minus, plus - minus};
}

double soret_eq11(const LocalProfile& p, double eta) { return -eta * eta * gg_dg(p) / (2 * norm(p.g)); }

double soret_a4(double g, double dg, double eta) { return 0.5 * eta * eta * g * dg; }

double stationary_ito_corrected(const Expression& g, double q, double eta, double kappa, double scale) {
  const double h = derivative_step(scale);
  auto g2 = [&](double x) { const double v = g.at(x); return v * v; };
  const double d2 = (-g2(q + 2 * h) + 16 * g2(q + h) - 30 * g2(q) + 16 * g2(q - h) - g2(q - 2 * h)) / (12 * h * h);
  return (1.0 - kappa * eta * eta / 12.0 * d2) / g2(q);
}

double noise_kurtosis(int noise_kind) {
  switch (noise_kind) {
    case 0: return 1.0;
    case 1: return 3.0;
    default: return 9.0 / 5.0;
  }
}

}  // namespace soret::theory
