#include <doctest/doctest.h>

#include <cmath>

#include "helpers.hpp"
#include "soret/common/error.hpp"
#include "soret/walk/integrator.hpp"

using namespace soret;
using namespace soret::test;

namespace {
WalkResults run(const WalkModel& m, const ObserverPlan& p, const std::string& init, const RunOptions& o) {
  WalkEngine e(m, p, InitSpec::parse(init, m.dim), o);
  return e.run();
}
}  // namespace

TEST_SUITE_BEGIN("quick");

TEST_CASE("hand-built walks: a deterministic drift crosses known faces (periodic wrap included)") {
  // g = 0 and drift +1/4 per step on [0,1) with 8 bins: 1/16 -> 5/16 -> 9/16 -> 13/16 -> 17/16 = 1/16.
  auto m = model_1d("0", 0.1, Boundary::periodic);
  m.drift = {"0.25"};
  auto p = plan_1d(m, 8, every(1, 4), windows_every(1, 4));
  const auto r = run(m, p, "point:0.0625", run_opts(3, 4));
  const std::vector<std::vector<int>> faces{{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  for (size_t w = 0; w < 4; ++w) {
    for (int f = 0; f <= 8; ++f) {
      const bool crossed = std::find(faces[w].begin(), faces[w].end(), f) != faces[w].end() ||
                           (f == 0 && w == 3);  // face 8 is face 0 on a circle
      CHECK(r.flux_plus[w * 9 + f] == (crossed ? 3u : 0u));
      CHECK(r.flux_minus[w * 9 + f] == 0u);
    }
  }
  CHECK(r.final_positions()[0] == 0.0625);
  // The density follows the walkers: bin 0, 2, 4, 6, 0.
  const int bins_at[5] = {0, 2, 4, 6, 0};
  for (int t = 0; t <= 4; ++t) CHECK(r.density_counts[t * 8 + bins_at[t]] == 3u);
}

TEST_CASE("hand-built walks: reflection and absorption") {
  {
    auto m = model_1d("0", 0.1, Boundary::reflecting);
    m.drift = {"0.375"};
    auto p = plan_1d(m, 8, {0, 1}, {{0, 1}});
    const auto r = run(m, p, "point:0.8125", run_opts(1, 1));
    CHECK(r.final_positions()[0] == 0.8125);  // 1.1875 mirrored at 1
    CHECK(r.flux_plus[7] == 1u);      // out through face 7 ...
    CHECK(r.flux_minus[7] == 1u);     // ... and back
    CHECK(r.flux_plus[8] == 0u);      // the wall is never crossed
  }
  {
    auto m = model_1d("0", 0.1, Boundary::absorbing);
    m.drift = {"0.25"};
    auto p = plan_1d(m, 8, {0, 1, 2}, {{0, 2}});
    const auto r = run(m, p, "point:0.8125", run_opts(5, 2));
    CHECK(r.absorbed_hi[0] == 5u);
    CHECK(r.flux_plus[7] == 5u);
    CHECK(r.flux_plus[8] == 5u);
    CHECK(r.density_counts[1 * 8 + 7] == 0u);
    CHECK(r.alive.back() == 0u);
  }
}

TEST_CASE("flux continuity: each bin's change equals its net face crossings - exactly" * doctest::test_suite("slow")) {
  // Large steps (eta g up to 3.75 bins) so that multi-face jumps, wraps and reflections occur.
  for (Boundary b : {Boundary::periodic, Boundary::reflecting, Boundary::absorbing, Boundary::free}) {
    CAPTURE(to_string(b));
    auto m = model_1d("1 + 0.5*sin(2*_pi*q)", 0.05, b);
    m.noise = Noise::gaussian;  // unbounded steps: long jumps hit the exact slow path too
    const int B = 50;
    const std::uint64_t T = 60;
    auto p = plan_1d(m, B, every(1, T), windows_every(1, T));
    const auto r = run(m, p, "uniform", run_opts(20000, T, 7));
    for (std::uint64_t t = 0; t < T; ++t)
      for (int i = 0; i < B; ++i) {
        const auto* P = &r.flux_plus[t * (B + 1)];
        const auto* M = &r.flux_minus[t * (B + 1)];
        const std::int64_t net = std::int64_t(P[i]) - std::int64_t(M[i]) - std::int64_t(P[i + 1]) + std::int64_t(M[i + 1]);
        const std::int64_t change = std::int64_t(r.density_counts[(t + 1) * B + i]) - std::int64_t(r.density_counts[t * B + i]);
        if (net != change) {
          FAIL("bin " << i << " step " << t << ": change " << change << " vs net crossings " << net);
        }
      }
    if (b == Boundary::reflecting) {
      for (std::uint64_t t = 0; t < T; ++t) CHECK(r.flux_plus[t * (B + 1)] == 0u);
    }
  }
}

TEST_CASE("the fast flux path and the exact slow path count the same crossings") {
  auto m = model_1d("1 + 0.5*sin(2*_pi*q)", 0.03, Boundary::periodic);
  auto p = plan_1d(m, 40, {0, 50}, {{0, 1}, {0, 50}, {20, 35}});
  auto fast = run_opts(5000, 50, 3);
  auto slow = fast;
  slow.flux_pair_k = 0;
  const auto a = run(m, p, "uniform", fast), b = run(m, p, "uniform", slow);
  CHECK(a.flux_plus == b.flux_plus);
  CHECK(a.flux_minus == b.flux_minus);
  CHECK(a.density_counts == b.density_counts);
}

TEST_CASE("the (cell, move) table counts what the exact slow path counts: 1-D walls and 2-D grids") {
  // Windows of several steps, and 2-D densities counted in the same pass as the table; walls and
  // moves of more than K cells go to the difference arrays. 4999 walkers: no whole tile.
  struct Case {
    std::string name;
    WalkModel m;
    ObserverPlan p;
  };
  std::vector<Case> cases;
  for (Boundary b : {Boundary::reflecting, Boundary::absorbing, Boundary::free}) {
    auto m = model_1d("0.6 + 0.5*q", 0.04, b);
    cases.push_back({to_string(b), m, plan_1d(m, 37, {0, 30}, {{0, 7}, {3, 30}, {29, 30}})});
  }
  WalkModel m2;
  m2.dim = 2;
  m2.eta = 0.03;
  m2.g = {"1 + 0.5*sin(2*_pi*q0)", "1.2 - 0.4*cos(2*_pi*q1)"};
  m2.groups = {{0}, {1}};
  for (Boundary b : {Boundary::periodic, Boundary::reflecting}) {
    m2.axes = {AxisSpec{0, 1, b}, AxisSpec{-1, 1, Boundary::reflecting}};
    ObserverPlan p;
    p.hist_axes = {0, 1};
    p.lattice = {Lattice(0, 1, 23), Lattice(-1, 1, 9)};
    p.density_times = every(1, 30);
    p.flux_windows = windows_every(1, 30);
    cases.push_back({b == Boundary::periodic ? "2-D periodic" : "2-D reflecting", m2, p});
  }
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto fast = run_opts(4999, 30, 17);
    auto slow = fast;
    slow.flux_pair_k = 0;
    const auto a = run(c.m, c.p, "uniform", fast), b = run(c.m, c.p, "uniform", slow);
    std::uint64_t crossings = 0;
    for (auto v : a.flux_plus) crossings += v;
    CHECK(crossings > 1000);  // the walk crosses faces: the comparison is not of zeros
    CHECK(a.flux_plus == b.flux_plus);
    CHECK(a.flux_minus == b.flux_minus);
    CHECK(a.density_counts == b.density_counts);
  }
}

TEST_CASE("same seed gives bit-identical results for 1 and 2 threads and any block size" * doctest::test_suite("slow")) {
  auto m = model_1d("0.5 + q", 0.02, Boundary::reflecting);
  m.alpha = 0.5;
  auto p = plan_1d(m, 30, every(10, 100), windows_every(25, 100));
  p.moments_every = 7;
  p.density_avg = Window{50, 100};
  auto o1 = run_opts(3001, 100, 11, 1), o2 = run_opts(3001, 100, 11, 2);
  o2.chunk = 13;
  const auto a = run(m, p, "uniform", o1), b = run(m, p, "uniform", o2);
  CHECK(a.final_positions() == b.final_positions());
  CHECK(a.density_counts == b.density_counts);
  CHECK(a.avg_counts == b.avg_counts);
  CHECK(a.flux_plus == b.flux_plus);
  CHECK(a.flux_minus == b.flux_minus);
  CHECK(a.ss_mean == b.ss_mean);
  CHECK(a.ss_msq == b.ss_msq);
  CHECK(a.mean == b.mean);
  CHECK(a.var == b.var);
  const auto c = run(m, p, "uniform", run_opts(3001, 100, 12, 2));
  CHECK(c.final_positions() != a.final_positions());
}

TEST_CASE("sign groups: coordinates of one group share zeta") {
  WalkModel m;
  m.dim = 3;
  m.eta = 0.1;
  m.g = {"1", "1", "1"};
  m.groups = {{0, 1}, {2}};
  m.axes = {AxisSpec{-10, 10, Boundary::free}, AxisSpec{-10, 10, Boundary::free}, AxisSpec{-10, 10, Boundary::free}};
  ObserverPlan p;
  p.hist_axes = {0};
  p.lattice = {Lattice(-10, 10, 10)};
  const auto r = run(m, p, "point:0", run_opts(500, 20, 5));
  int same02 = 0;
  const auto pos = r.final_positions();
  for (int w = 0; w < 500; ++w) {
    CHECK(pos[w * 3 + 0] == pos[w * 3 + 1]);
    same02 += pos[w * 3 + 0] == pos[w * 3 + 2];
  }
  CHECK(same02 < 250);  // independent zeta: equal only by chance (P = C(40,20)/2^40 ~ 0.13 each)
}

TEST_CASE("conventions: one step lands where the alpha rule says") {
  // g = 1 + q^2 on a free line, Rademacher: the end point is one of two values per convention.
  for (double alpha : {0.0, 0.5, 1.0}) {
    CAPTURE(alpha);
    auto m = model_1d("1 + q*q", 0.1, Boundary::free, -5, 5);
    m.alpha = alpha;
    auto p = plan_1d(m, 10, {}, {});
    const auto r = run(m, p, "point:0.5", run_opts(64, 1, 9));
    const double x = 0.5, eta = 0.1;
    auto end = [&](double z) {
      const double xm = x + alpha * (-eta * (1 + x * x) * z);
      return x - eta * (1 + xm * xm) * z;
    };
    int up = 0, down = 0;
    for (int w = 0; w < 64; ++w) {
      const double v = r.final_x[0][w];
      if (std::abs(v - end(-1.0)) < 1e-12) ++up;
      else if (std::abs(v - end(1.0)) < 1e-12) ++down;
      else FAIL("walker " << w << " ended at " << v);
    }
    CHECK(up > 0);
    CHECK(down > 0);
  }
}

TEST_CASE("initial conditions: point - gaussian folded by the boundary - density by rejection") {
  auto m = model_1d("1", 0.01, Boundary::reflecting);
  auto p = plan_1d(m, 10, {0}, {});
  auto r = run(m, p, "gaussian:0.5,2", run_opts(2000, 0));
  for (double v : r.final_positions()) CHECK((v >= 0.0 && v <= 1.0));
  // density:q on [0,1): mean 2/3, sd of the mean sqrt(1/18 / N).
  r = run(m, p, "density:q", run_opts(40000, 0));
  double mean = 0;
  for (double v : r.final_positions()) mean += v;
  mean /= 40000;
  const double se = std::sqrt(1.0 / 18.0 / 40000);
  CHECK(std::abs(mean - 2.0 / 3.0) / se < 5);
  CHECK_THROWS_AS(InitSpec::parse("point:1,2", 1), InputError);
  CHECK_THROWS_AS(InitSpec::parse("lattice", 1), InputError);
}

TEST_CASE("a numerical blow-up is detected and reported") {
  auto m = model_1d("1", 0.1, Boundary::free, 0, 1);
  m.drift = {"q*q*1e200"};
  auto p = plan_1d(m, 10, {0}, {});
  WalkEngine e(m, p, InitSpec::parse("point:0.5", 1), run_opts(10, 20));
  CHECK_THROWS_AS(e.run(), NumericalError);
}

TEST_CASE("bad models are rejected with the option named") {
  auto m = model_1d("q - 0.5", 0.1, Boundary::periodic);  // negative on half the domain
  auto p = plan_1d(m, 10, {0}, {});
  try {
    WalkEngine e(m, p, InitSpec::parse("uniform", 1), run_opts(10, 1));
    FAIL("negative g accepted");
  } catch (const InputError& e) {
    CHECK(e.option() == "g");
  }
  m = model_1d("1/(q-0.5)^2", 0.1, Boundary::periodic);  // inf at a grid node
  try {
    WalkEngine e(m, p, InitSpec::parse("uniform", 1), run_opts(10, 1));
    FAIL("infinite g accepted");
  } catch (const InputError& e) {
    CHECK(e.option() == "g");
  }
  m = model_1d("1", 0.1, Boundary::periodic);
  p.hist_axes = {1};
  CHECK_THROWS_AS(WalkEngine(m, p, InitSpec::parse("uniform", 1), run_opts(10, 1)), InputError);
}

TEST_SUITE_END();
