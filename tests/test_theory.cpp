#include <doctest/doctest.h>

#include <cmath>

#include "soret/theory/stationary.hpp"
#include "soret/theory/walk_theory.hpp"

using namespace soret;
using namespace soret::theory;

TEST_SUITE_BEGIN("quick");

TEST_CASE("Delta+- solve the implicit equations - closed form for a linear profile") {
  // g = a + b q: Delta+ = eta g / (1 - eta b), Delta- = eta g / (1 + eta b).
  Expression g("0.7 + 0.9*q", 1, 0.1, "g");
  const double q = 0.3, a = 0.7, b = 0.9, gq = a + b * q;
  for (double eta : {0.1, 0.05, 0.025}) {
    const auto d = exact_deltas({&g}, {0}, &q, eta);
    CHECK(d.plus[0] == doctest::Approx(eta * gq / (1 - eta * b)).epsilon(1e-13));
    CHECK(d.minus[0] == doctest::Approx(eta * gq / (1 + eta * b)).epsilon(1e-13));
  }
}

TEST_CASE("Eq. 9 is the leading order of Delta+ - Delta- and its error shrinks as eta^4") {
  Expression g("1 + 0.5*sin(2*_pi*q)", 1, 0.1, "g");
  const double q = 0.1;
  double prev = 0;
  for (double eta : {0.02, 0.01, 0.005}) {
    const auto d = exact_deltas({&g}, {0}, &q, eta);
    const auto p = local_profile({&g}, {0}, &q, 1.0);
    const double err = std::abs((d.plus[0] - d.minus[0]) - eq9_leading(p, eta)[0]);
    if (prev > 0) CHECK(prev / err == doctest::Approx(16.0).epsilon(0.05));
    prev = err;
  }
}

TEST_CASE("Delta+- of a shared-sign group in 2-D - closed form for linear profiles") {
  // g = g0 + G q: Delta+ = eta (I - eta G)^-1 g(q), Delta- = eta (I + eta G)^-1 g(q).
  Expression g0("1 + 0.4*q0 + 0.2*q1", 2, 0.1, "g"), g1("0.8 - 0.3*q0 + 0.5*q1", 2, 0.1, "g");
  const double q[2] = {0.2, 0.6}, eta = 0.05;
  const double G[2][2] = {{0.4, 0.2}, {-0.3, 0.5}};
  const double gv[2] = {g0(q), g1(q)};
  const auto d = exact_deltas({&g0, &g1}, {0, 1}, q, eta);
  for (int s : {+1, -1}) {
    const double A[2][2] = {{1 - s * eta * G[0][0], -s * eta * G[0][1]}, {-s * eta * G[1][0], 1 - s * eta * G[1][1]}};
    const double det = A[0][0] * A[1][1] - A[0][1] * A[1][0];
    const double x0 = eta * (A[1][1] * gv[0] - A[0][1] * gv[1]) / det;
    const double x1 = eta * (-A[1][0] * gv[0] + A[0][0] * gv[1]) / det;
    const auto& got = s > 0 ? d.plus : d.minus;
    CHECK(got[0] == doctest::Approx(x0).epsilon(1e-13));
    CHECK(got[1] == doctest::Approx(x1).epsilon(1e-13));
  }
}

TEST_CASE("Eq. 10 and the controlled flux in 1-D - and the two Soret coefficients have opposite signs") {
  LocalProfile p{{1.5}, {{2.0}}};
  const double eta = 0.1, rho = 3.0, drho = -0.5;
  const auto paper = eq10_paper(p, rho, {drho}, eta);
  CHECK(paper.diffusion == doctest::Approx(-eta * eta * 1.5 * 1.5 * drho));
  CHECK(paper.thermophoretic == doctest::Approx(-eta * eta * 1.5 * 2.0 * rho));
  const auto ito = controlled_flux_1d(1.5, 2.0, rho, drho, eta, 0.0);
  CHECK(ito.diffusion == doctest::Approx(0.5 * paper.diffusion));  // the paper's D is twice the walk's
  CHECK(ito.thermophoretic == doctest::Approx(paper.thermophoretic));
  CHECK(controlled_flux_1d(1.5, 2.0, rho, drho, eta, 1.0).thermophoretic == 0.0);
  CHECK(soret_eq11(p, eta) == doctest::Approx(-0.5 * eta * eta * 1.5 * 2.0));
  CHECK(soret_a4(1.5, 2.0, eta) == doctest::Approx(-soret_eq11(p, eta)));
}

TEST_CASE("exact one-step flux from a uniform density and the eta^4 term") {
  Expression g("0.7 + 0.9*q", 1, 0.1, "g");
  const double q = 0.3, gq = 0.97, b = 0.9, eta = 0.05, rho = 2.0;
  const auto f = exact_one_step_flux_uniform(g, q, rho, eta);
  CHECK(f.net == doctest::Approx(-eta * eta * gq * b * rho / (1 - eta * eta * b * b)).epsilon(1e-12));
  Expression lin("q", 1, 0.1, "g");  // (q^4)''' = 24 q
  CHECK(ito_flux_eta4_uniform(lin, 0.5, 1.0, 0.1, 1.0, 1.0) == doctest::Approx(-1e-4 * 0.5).epsilon(1e-6));
  Expression c("2", 1, 0.1, "g");
  CHECK(stationary_ito_corrected(c, 0.4, 0.1, 1.0, 1.0) == doctest::Approx(0.25));
}

TEST_CASE("exact discrete stationary law - uniform for constant g and O(eta^4) from the corrected law" * doctest::test_suite("slow")) {
  Expression c("1.3", 1, 0.1, "g");
  const auto pu = stationary_rademacher_exact(c, 0, 1, Boundary::periodic, 0.05, 10);
  for (double v : pu) CHECK(v == doctest::Approx(0.1).epsilon(1e-9));
  // g = 1 + 0.5 sin: the difference from g^-2 [1 - eta^2 (g^2)''/12] is O(eta^4): it shrinks ~16x
  // when eta halves.
  Expression g("1 + 0.5*sin(2*_pi*q)", 1, 0.1, "g");
  double prev = 0;
  for (double eta : {0.08, 0.04}) {
    const auto pe = stationary_rademacher_exact(g, 0, 1, Boundary::periodic, eta, 20);
    const auto pc = bin_probabilities([&](double q) { return stationary_ito_corrected(g, q, eta, 1.0, 1.0); }, 0, 1, 20);
    double worst = 0;
    for (int b = 0; b < 20; ++b) worst = std::max(worst, std::abs(pe[b] / pc[b] - 1));
    if (prev > 0) CHECK(prev / worst == doctest::Approx(16.0).epsilon(0.25));
    prev = worst;
  }
  // Anti-Ito (alpha = 1): uniform to leading order.
  const auto pa = stationary_rademacher_exact(g, 0, 1, Boundary::periodic, 0.02, 10, 1.0);
  for (double v : pa) CHECK(v == doctest::Approx(0.1).epsilon(5e-3));
}

TEST_SUITE_END();
