#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "soret/common/error.hpp"
#include "soret/common/expression.hpp"
#include "soret/walk/model.hpp"
#include "soret/walk/profile.hpp"

using namespace soret;

TEST_SUITE_BEGIN("quick");

TEST_CASE("expressions: variables - the q alias - eta - and parse errors naming the option") {
  Expression e("1 + 2*q + eta", 1, 0.25, "g");
  CHECK(e.at(0.5) == doctest::Approx(2.25));
  CHECK(e.used_axes() == std::vector<int>{0});
  Expression c("3*eta", 2, 2.0, "g");
  CHECK(c.is_constant());
  const double q[2] = {0.0, 0.0};
  CHECK(c(q) == 6.0);
  Expression two("q1*q1", 2, 1.0, "g");
  CHECK(two.used_axes() == std::vector<int>{1});
  const double p[2] = {5.0, 3.0};
  CHECK(two(p) == 9.0);
  CHECK_THROWS_AS(Expression("1 + ", 1, 1.0, "g"), InputError);
  CHECK_THROWS_AS(Expression("q2", 2, 1.0, "g"), InputError);  // no such axis
  bool thrown = false;
  try {
    Expression bad("sin(", 1, 1.0, "drift");
  } catch (const InputError& err) {
    thrown = true;
    CHECK(err.option() == "drift");
    CHECK(std::string(err.what()).find("--drift") != std::string::npos);
  }
  CHECK_MESSAGE(thrown, "a syntax error must throw InputError");
  // muParser accepts these; a profile must not: several results, and an assignment.
  CHECK_THROWS_AS(Expression("1,2", 1, 1.0, "g"), InputError);
  CHECK_THROWS_AS(Expression("q=3", 1, 1.0, "g"), InputError);
  CHECK_NOTHROW(Expression("q<=0.5 ? 1 : (q>=0.7 ? 2 : (q==0.6 ? 3 : (q!=0.65 ? 4 : 5)))", 1, 1.0, "g"));
  // Storage only for the variables used: a profile of q3 in 64 dimensions evaluates correctly.
  Expression wide("2*q3", 64, 1.0, "g", 1024);
  std::vector<double> x(64, 0.0);
  x[3] = 1.5;
  CHECK(wide(x.data()) == 3.0);
  CHECK(wide.used_axes() == std::vector<int>{3});
  CHECK(wide.diff(0, x.data(), 1e-3) == 0.0);
}

TEST_CASE("expressions: bulk evaluation equals pointwise evaluation") {
  Expression e("q0*q0 + sin(q1)", 2, 1.0, "g", 7);  // capacity 7 forces several bulk passes
  std::vector<double> a(20), b(20), out(20);
  for (int i = 0; i < 20; ++i) { a[i] = 0.1 * i; b[i] = -0.3 * i; }
  const double* x[2] = {a.data(), b.data()};
  e.eval_bulk(x, 20, out.data());
  for (int i = 0; i < 20; ++i) {
    const double q[2] = {a[i], b[i]};
    CHECK(out[i] == e(q));
  }
}

TEST_CASE("expressions: numerical derivatives meet their stated accuracy") {
  Expression e("1 + 0.5*sin(2*_pi*q)", 1, 1.0, "g");
  const double h = derivative_step(1.0);
  for (double q : {0.0, 0.1, 0.37, 0.9}) {
    const double exact1 = 0.5 * 2 * M_PI * std::cos(2 * M_PI * q);
    const double exact2 = -0.5 * 4 * M_PI * M_PI * std::sin(2 * M_PI * q);
    // Truncation h^4 f^(5)/30 ~ 1e-12 * 3e3, round-off eps/h ~ 1e-13: 1e-8 is a loose bound.
    CHECK(std::abs(e.diff(0, &q, h) - exact1) < 1e-8);
    // Second derivative: round-off eps/h^2 ~ 2e-10 dominates; 1e-6 is a loose bound.
    CHECK(std::abs(e.diff2(0, &q, h) - exact2) < 1e-6);
  }
}

TEST_CASE("step profiles: constant - cubic table within its reported error - and exact fallback") {
  const std::vector<AxisRange> r1{{0.0, 1.0}};
  Expression c("2.5", 1, 1.0, "g");
  FastFunction fc(c, r1);
  CHECK(fc.kind() == FastFunction::Kind::constant);

  // A smooth profile fits a register-sized piecewise polynomial; a wiggly one needs the table.
  struct Case { const char* expr; FastFunction::Kind kind; double lo, hi; };
  for (const Case& cs : {Case{"1 + 0.5*sin(2*_pi*q)", FastFunction::Kind::poly, 0.5, 1.5},
                         Case{"1 + 0.5*sin(40*_pi*q)", FastFunction::Kind::table, 0.5, 1.5}}) {
    INFO(cs.expr);
    Expression s(cs.expr, 1, 1.0, "g");
    FastFunction ft(s, r1);
    REQUIRE(ft.kind() == cs.kind);
    CHECK(ft.error_bound() <= 1e-11 * 1.5);
    CHECK(ft.grid_min() == doctest::Approx(cs.lo).epsilon(1e-6));
    CHECK(ft.grid_max() == doctest::Approx(cs.hi).epsilon(1e-6));
    // Random points, including the end point hi and points outside the domain (exact fallback).
    std::mt19937_64 gen(42);
    std::uniform_real_distribution<double> u(-0.5, 1.5);
    std::vector<double> x(4001), out(4001);
    for (auto& v : x) v = u(gen);
    x[0] = 1.0;
    const double* px[1] = {x.data()};
    ft.eval(px, int(x.size()), out.data(), s);
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(out[i] - s.at(x[i])));
    // Built to 1e-11 max|g| at its check points; random points may exceed the check-point
    // maximum slightly, but not by an order of magnitude.
    CHECK(worst < 1e-10);
  }

  const std::vector<AxisRange> r2{{0.0, 1.0}, {0.0, 1.0}};
  Expression g2("1 + q0*q1", 2, 1.0, "g");
  FastFunction fg(g2, r2);
  CHECK(fg.kind() == FastFunction::Kind::general);
  CHECK(fg.grid_min() == doctest::Approx(1.0));
  CHECK(fg.grid_max() == doctest::Approx(2.0));
}

TEST_CASE("option parsing helpers reject bad values with the option named") {
  CHECK(parse_domain("-1:2.5").hi == 2.5);
  CHECK_THROWS_AS(parse_domain("1:1"), InputError);
  CHECK_THROWS_AS(parse_domain("a:1"), InputError);
  CHECK_THROWS_AS(parse_boundary("sticky"), InputError);
  CHECK_THROWS_AS(parse_noise("cauchy"), InputError);
  const auto g = parse_sign_groups("0,1;2", 4);
  REQUIRE(g.size() == 3);  // axis 3 gets its own group
  CHECK(g[0] == std::vector<int>{0, 1});
  CHECK(g[2] == std::vector<int>{3});
  WalkModel m;
  m.dim = 2;
  m.g = {"1", "1"};
  m.axes = {AxisSpec{}, AxisSpec{}};
  m.groups = parse_sign_groups("0,1;1", 2);
  try {
    m.validate();
    FAIL("an axis in two groups must be rejected");
  } catch (const InputError& e) {
    CHECK(e.option() == "sign-groups");
  }
}

TEST_SUITE_END();
