// One test body over a configuration matrix (threads 1/2, block 7/512, chunk 13/256, fused
// integrator on/off): every configuration must give the same results, dataset by dataset and bit
// for bit, and each result must satisfy exact flux continuity.
#include <doctest/doctest.h>

#include <string>

#include "helpers.hpp"
#include "soret/walk/integrator.hpp"

using namespace soret;
using namespace soret::test;

namespace {

struct Scenario {
  std::string name;
  WalkModel model;
  ObserverPlan plan;
  std::string init;
  bool fused;  ///< the fused integrator applies (when allowed)
};

std::vector<Scenario> scenarios() {
  std::vector<Scenario> out;
  const std::uint64_t T = 60;
  {  // the default workload: periodic, smooth g (piecewise polynomial), density and flux every step
    auto m = model_1d("1 + 0.5*sin(2*_pi*q)", 0.03, Boundary::periodic);
    auto p = plan_1d(m, 40, every(1, T), windows_every(1, T));
    out.push_back({"1-D periodic, every step", m, p, "uniform", true});
  }
  {  // reflecting, sparse records, long flux windows, steps over several bins
    auto m = model_1d("0.5 + q", 0.04, Boundary::reflecting);
    auto p = plan_1d(m, 64, every(7, T), {{0, 60}, {10, 11}, {13, 40}});
    p.density_avg = Window{20, 50};
    out.push_back({"1-D reflecting, windows, average", m, p, "point:0.3", true});
  }
  {  // 2-D periodic, two histogram axes, shared sign group
    WalkModel m;
    m.dim = 2;
    m.eta = 0.02;
    m.g = {"1 + 0.5*sin(2*_pi*q0)", "1.2 - 0.4*cos(2*_pi*q1)"};
    m.groups = {{0}, {1}};
    m.axes = {AxisSpec{0, 1, Boundary::periodic}, AxisSpec{-1, 1, Boundary::periodic}};
    ObserverPlan p;
    p.hist_axes = {0, 1};
    p.lattice = {Lattice(0, 1, 12), Lattice(-1, 1, 9)};
    p.density_times = every(5, T);
    p.flux_windows = windows_every(3, T);
    p.moments_every = 11;
    out.push_back({"2-D periodic", m, p, "uniform", true});
  }
  {  // the general integrator only: absorbing, Gaussian noise, Stratonovich, drift, step statistics
    auto m = model_1d("1 + 0.3*q", 0.05, Boundary::absorbing, -1, 2);
    m.noise = Noise::gaussian;
    m.alpha = 0.5;
    m.drift = {"0.002*q"};
    auto p = plan_1d(m, 30, every(4, T), windows_every(4, T));
    p.step_stats = true;
    p.moments_every = 9;
    p.density_avg = Window{0, 60};
    out.push_back({"1-D absorbing, gaussian, alpha=1/2, drift, step stats", m, p, "gaussian:0.5,0.4", false});
  }
  {  // free boundary with multi-variable g (exact muParser evaluation), uniform noise
    WalkModel m;
    m.dim = 2;
    m.eta = 0.05;
    m.g = {"1 + 0.25*sin(q0*q1)", "0.8"};
    m.groups = {{0, 1}};
    m.noise = Noise::uniform;
    m.axes = {AxisSpec{-1, 1, Boundary::free}, AxisSpec{0, 1, Boundary::reflecting}};
    ObserverPlan p;
    p.hist_axes = {0};
    p.lattice = {Lattice(-1, 1, 25)};
    p.density_times = every(6, T);
    p.flux_windows = windows_every(6, T);
    out.push_back({"2-D free + reflecting, multi-variable g", m, p, "point:0,0.5", false});
  }
  return out;
}

/// Every dataset of the results (not the timing and cost figures).
void require_same(const WalkResults& a, const WalkResults& b) {
  CHECK(a.density_t == b.density_t);
  CHECK(a.density_counts == b.density_counts);
  CHECK(a.density_outside == b.density_outside);
  CHECK(a.avg_counts == b.avg_counts);
  CHECK(a.avg_outside == b.avg_outside);
  CHECK(a.windows == b.windows);
  CHECK(a.flux_plus == b.flux_plus);
  CHECK(a.flux_minus == b.flux_minus);
  CHECK(a.ss_count == b.ss_count);
  CHECK(a.ss_mean == b.ss_mean);
  CHECK(a.ss_msq == b.ss_msq);
  CHECK(a.moments_t == b.moments_t);
  CHECK(a.alive == b.alive);
  CHECK(a.mean == b.mean);
  CHECK(a.var == b.var);
  CHECK(a.absorbed_lo == b.absorbed_lo);
  CHECK(a.absorbed_hi == b.absorbed_hi);
  CHECK(a.absorbed_initial == b.absorbed_initial);
  CHECK(a.final_positions() == b.final_positions());
  CHECK(a.final_alive == b.final_alive);
}

/// Between two consecutive density times covered by flux windows that tile the interval exactly,
/// each bin's change equals its net face crossings (1-D histograms).
int check_continuity(const ObserverPlan& p, const WalkResults& r) {
  if (p.hist_axes.size() != 1) return 0;
  const int B = p.lattice[0].bins;
  int checked = 0;
  for (size_t i = 0; i + 1 < r.density_t.size(); ++i) {
    const auto t0 = r.density_t[i], t1 = r.density_t[i + 1];
    std::vector<std::int64_t> net(B + 1, 0);
    std::uint64_t covered = t0;
    for (size_t w = 0; w < r.windows.size(); ++w)
      if (r.windows[w].first == covered && r.windows[w].second <= t1) {
        for (int f = 0; f <= B; ++f)
          net[f] += std::int64_t(r.flux_plus[w * (B + 1) + f]) - std::int64_t(r.flux_minus[w * (B + 1) + f]);
        covered = r.windows[w].second;
      }
    if (covered != t1) continue;
    for (int k = 0; k < B; ++k) {
      const std::int64_t change = std::int64_t(r.density_counts[(i + 1) * B + k]) - std::int64_t(r.density_counts[i * B + k]);
      REQUIRE(change == net[k] - net[k + 1]);
    }
    ++checked;
  }
  return checked;
}

}  // namespace

TEST_SUITE_BEGIN("slow");

TEST_CASE("configuration matrix: threads - block - chunk and integrator never change a result") {
  for (const auto& sc : scenarios()) {
    CAPTURE(sc.name);
    WalkResults ref;
    bool have_ref = false;
    int configs = 0;
    for (int threads : {1, 2})
      for (int block : {7, 512})
        for (int chunk : {13, 256})
          for (bool fused : {true, false}) {
            RunOptions o = run_opts(3001, 60, 17, threads);
            o.block = block;
            o.chunk = chunk;
            o.fused = fused;
            WalkEngine e(sc.model, sc.plan, InitSpec::parse(sc.init, sc.model.dim), o);
            CHECK(e.fused_applies() == (fused && sc.fused));
            const auto r = e.run();
            CHECK(r.kernel == std::string(fused && sc.fused ? "fused" : "general"));
            CAPTURE(threads);
            CAPTURE(block);
            CAPTURE(chunk);
            CAPTURE(fused);
            if (!have_ref) {
              ref = r;
              have_ref = true;
              const int intervals = check_continuity(sc.plan, r);
              if (sc.plan.hist_axes.size() == 1 && !sc.plan.density_avg) CHECK(intervals > 0);
            } else {
              require_same(ref, r);
            }
            ++configs;
          }
    CHECK(configs == 16);
  }
}

TEST_CASE("a fine grid: jumps over hundreds of faces are counted exactly (difference arrays)") {
  // 50 000 bins, steps of up to ~1500 bins: continuity must still hold bin by bin.
  for (Boundary b : {Boundary::periodic, Boundary::reflecting}) {
    CAPTURE(to_string(b));
    auto m = model_1d("1 + 0.5*sin(2*_pi*q)", 0.02, b);
    auto p = plan_1d(m, 50000, every(1, 6), windows_every(1, 6));
    RunOptions o = run_opts(2000, 6, 5, 2);
    WalkEngine e(m, p, InitSpec::parse("uniform", 1), o);
    const auto r = e.run();
    CHECK(check_continuity(p, r) == 6);
    std::uint64_t crossings = 0;
    for (auto c : r.flux_plus) crossings += c;
    CHECK(crossings > 2000u * 6u * 100u);  // each step crosses hundreds of faces
  }
}

TEST_CASE("a run over all walker ids equals the sum of runs over two ranges of ids - what MPI ranks will do") {
  for (const auto& sc : scenarios()) {
    CAPTURE(sc.name);
    const std::uint64_t N = 3001, N1 = 1234;
    RunOptions all = run_opts(N, 60, 23, 2), lo = run_opts(N1, 60, 23, 1), hi = run_opts(N - N1, 60, 23, 2);
    hi.first_walker = N1;
    auto run = [&](const RunOptions& o) {
      WalkEngine e(sc.model, sc.plan, InitSpec::parse(sc.init, sc.model.dim), o);
      return e.run();
    };
    const auto a = run(all), b = run(lo), c = run(hi);
    auto sum = [](std::vector<std::uint64_t> x, const std::vector<std::uint64_t>& y) {
      REQUIRE(x.size() == y.size());
      for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
      return x;
    };
    CHECK(a.density_counts == sum(b.density_counts, c.density_counts));
    CHECK(a.density_outside == sum(b.density_outside, c.density_outside));
    CHECK(a.avg_counts == sum(b.avg_counts, c.avg_counts));
    CHECK(a.flux_plus == sum(b.flux_plus, c.flux_plus));
    CHECK(a.flux_minus == sum(b.flux_minus, c.flux_minus));
    CHECK(a.ss_count == sum(b.ss_count, c.ss_count));
    CHECK(a.absorbed_lo == sum(b.absorbed_lo, c.absorbed_lo));
    std::vector<double> pos = b.final_positions();
    const std::vector<double> pc = c.final_positions();
    pos.insert(pos.end(), pc.begin(), pc.end());
    CHECK(a.final_positions() == pos);
  }
}

TEST_CASE("density recorded with flux windows equals density recorded alone - the end cells of the move table") {
  // Density snapshots in steps that are flux windows of their own are read off the (start cell,
  // move) table; they must equal direct counting, walker by walker, in every geometry.
  struct Case {
    std::string name;
    WalkModel m;
    int bins;
    double eta;
  };
  std::vector<Case> cases;
  cases.push_back({"periodic", model_1d("1 + 0.5*sin(2*_pi*q)", 0.03, Boundary::periodic), 40, 0.03});
  cases.push_back({"periodic, long jumps", model_1d("1 + 0.5*sin(2*_pi*q)", 0.2, Boundary::periodic), 64, 0.2});
  cases.push_back({"reflecting", model_1d("0.5 + q", 0.04, Boundary::reflecting), 33, 0.04});
  cases.push_back({"absorbing", model_1d("1 + 0.3*q", 0.05, Boundary::absorbing), 30, 0.05});
  {
    auto m = model_1d("1", 0.05, Boundary::free, -0.3, 0.3);  // walkers leave the lattice
    cases.push_back({"free", m, 12, 0.05});
  }
  {  // 2-D: counted directly (the table holds no second axis), the same equality must hold
    WalkModel m;
    m.dim = 2;
    m.eta = 0.03;
    m.g = {"1 + 0.5*sin(2*_pi*q0)", "1.2 - 0.4*cos(2*_pi*q1)"};
    m.groups = {{0}, {1}};
    m.axes = {AxisSpec{0, 1, Boundary::periodic}, AxisSpec{-1, 1, Boundary::reflecting}};
    cases.push_back({"2-D periodic x reflecting", m, 12, 0.03});
    m.axes[1] = AxisSpec{-1, 1, Boundary::free};  // walkers leave the second axis' lattice
    m.g[1] = "0.9";
    cases.push_back({"2-D periodic x free", m, 12, 0.03});
  }
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::uint64_t T = 40;
    for (int pair_k : {0, 1, 3}) {
      CAPTURE(pair_k);
      auto make = [&](std::vector<Window> w) {
        if (c.m.dim == 1) return plan_1d(c.m, c.bins, every(1, T), w);
        ObserverPlan p;
        p.hist_axes = {0, 1};
        p.lattice = {Lattice(c.m.axes[0].lo, c.m.axes[0].hi, c.bins), Lattice(c.m.axes[1].lo, c.m.axes[1].hi, 9)};
        p.density_times = every(1, T);
        p.flux_windows = w;
        return p;
      };
      auto with = make(windows_every(1, T));
      auto alone = make({});
      RunOptions o = run_opts(2003, T, 31, 2);
      o.block = 512;
      o.flux_pair_k = pair_k;
      WalkEngine ew(c.m, with, InitSpec::parse("uniform", c.m.dim), o), ea(c.m, alone, InitSpec::parse("uniform", c.m.dim), o);
      const auto rw = ew.run(), ra = ea.run();
      CHECK(rw.density_counts == ra.density_counts);
      CHECK(rw.density_outside == ra.density_outside);
      CHECK(rw.final_positions() == ra.final_positions());
    }
  }
}

TEST_SUITE_END();
