#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "soret/common/error.hpp"
#include "soret/net/scaling.hpp"
#include "soret/net/trainer.hpp"

using namespace soret;
using namespace soret::net;

namespace {

NetConfig small(Data d = Data::gaussian, Loss l = Loss::bce) {
  NetConfig c;
  c.M = 7;
  c.N = 5;  // not a multiple of 8: exercises the padded units
  c.data = d;
  c.loss = l;
  return c;
}

TrainOptions opts(std::uint64_t steps, int E = 4, int threads = 1) {
  TrainOptions o;
  o.ensemble = E;
  o.steps = steps;
  o.record_every = 1;
  o.threads = threads;
  o.seed = 3;
  return o;
}

/// Loss of one sample, written independently of the trainer.
double loss(const NetConfig& c, const std::vector<double>& W, const std::vector<double>& b,
            const std::vector<double>& V, const double* x, double y) {
  double f = 0;
  for (int i = 0; i < c.N; ++i) {
    double h = b[i];
    for (int j = 0; j < c.M; ++j) h += W[size_t(i) * c.M + j] * x[j];
    f += V[i] * std::max(h, 0.0);
  }
  if (c.loss == Loss::mse) return 0.5 * (f - y) * (f - y);
  return std::max(f, 0.0) - f * y + std::log1p(std::exp(-std::abs(f)));
}

}  // namespace

TEST_SUITE_BEGIN("quick");

TEST_CASE("one SGD step equals minus eta times the finite-difference gradient of the sample loss") {
  for (Loss l : {Loss::bce, Loss::mse})
    for (Data d : {Data::gaussian, Data::uniform}) {
      const NetConfig c = small(d, l);
      RunSpec spec;
      spec.eta = 0.1;
      const auto r = train(c, spec, opts(1));
      DataSource data(c, 3);
      for (int e = 0; e < 4; ++e) {
        std::vector<double> W(size_t(c.N) * c.M), b(c.N), V(c.N), x(c.M);
        init_network(c, 3, e, Params{W.data(), b.data(), V.data()});
        const double y = data.sample(e, 0, 0, x.data());
        auto fd = [&](double& p) {  // central difference of the loss in parameter p
          const double h = 1e-6, p0 = p;
          p = p0 + h;
          const double lp = loss(c, W, b, V, x.data(), y);
          p = p0 - h;
          const double lm = loss(c, W, b, V, x.data(), y);
          p = p0;
          return (lp - lm) / (2 * h);
        };
        for (int i = 0; i < c.N; ++i) {
          for (int j = 0; j < c.M; ++j) {
            const double expect = W[size_t(i) * c.M + j] - spec.eta * fd(W[size_t(i) * c.M + j]);
            CHECK(r.final_W[(size_t(e) * c.N + i) * c.M + j] == doctest::Approx(expect).epsilon(1e-7));
          }
          if (c.biases()) CHECK(r.final_b[size_t(e) * c.N + i] == doctest::Approx(b[i] - spec.eta * fd(b[i])).epsilon(1e-7));
          else CHECK(r.final_b[size_t(e) * c.N + i] == 0.0);
          CHECK(r.final_V[size_t(e) * c.N + i] == doctest::Approx(V[i] - spec.eta * fd(V[i])).epsilon(1e-7));
        }
      }
    }
}

TEST_CASE("net ensembles are bit-identical for 1 and 2 threads") {
  const NetConfig c = small();
  RunSpec spec;
  spec.eta = 0.05;
  spec.batch = 3;
  auto o1 = opts(200, 9, 1), o2 = opts(200, 9, 2);
  o1.record_every = o2.record_every = 10;
  const auto a = train(c, spec, o1), b = train(c, spec, o2);
  CHECK(a.final_W == b.final_W);
  CHECK(a.activation_rate == b.activation_rate);
  CHECK(a.grad_var_w == b.grad_var_w);
  CHECK(a.density == b.density);
  CHECK(a.cross_b_plus == b.cross_b_plus);
  CHECK(a.w_norm == b.w_norm);
  CHECK(a.v_norm == b.v_norm);
  // Every network's first record is its own initial state, whatever ran before on its thread.
  auto o3 = o1;
  o3.ensemble = 1;
  const auto single = train(c, spec, o3);
  CHECK(single.w_norm[0] == a.w_norm[0]);
  CHECK(single.grad_var_w[0] == a.grad_var_w[0]);
}

TEST_CASE("divergence is detected per network and kept out of the statistics") {
  NetConfig c = small(Data::gaussian, Loss::mse);
  RunSpec spec;
  spec.eta = 5.0;  // far beyond stability for MSE
  auto o = opts(200, 6);
  o.record_every = 10;
  const auto r = train(c, spec, o);
  int diverged = 0;
  for (auto d : r.diverged_at) diverged += d >= 0;
  CHECK(diverged > 0);
  for (int e = 0; e < 6; ++e)
    if (r.diverged_at[e] >= 0) {
      const size_t last = (r.records() - 1) * 6 + e;
      CHECK(std::isnan(r.v_norm[last]));
    }
}

TEST_CASE("per-unit (V b) crossings satisfy continuity with the density snapshots") {
  const NetConfig c = small();
  RunSpec spec;
  spec.eta = 0.2;
  auto o = opts(40, 8);
  o.record_every = 1;
  o.density_every = 1;
  o.v_lo = -20; o.v_hi = 20; o.b_lo = -20; o.b_hi = 20;
  o.grid_bins_v = 60;
  o.grid_bins_b = 6;
  const auto r = train(c, spec, o);
  // The marginal density along V changes between consecutive snapshots exactly by the net
  // crossings of the V grid lines in the window between them (all units stay inside the grid).
  const int Bv = 60, Bb = 6, F = Bv + 1;
  for (size_t s = 0; s + 1 < r.density_t.size(); ++s)
    for (int i = 0; i < Bv; ++i) {
      std::int64_t n0 = 0, n1 = 0;
      for (int k = 0; k < Bb; ++k) {
        n0 += std::int64_t(r.density[(s * Bv + i) * Bb + k]);
        n1 += std::int64_t(r.density[((s + 1) * Bv + i) * Bb + k]);
      }
      const auto* p = &r.cross_v_plus[s * F];
      const auto* m = &r.cross_v_minus[s * F];
      const std::int64_t net = std::int64_t(p[i]) - std::int64_t(m[i]) - std::int64_t(p[i + 1]) + std::int64_t(m[i + 1]);
      CHECK(n1 - n0 == net);
    }
  // All units are inside the grid here, so every unit is counted at every snapshot.
  std::uint64_t tot = 0;
  for (int q = 0; q < Bv * Bb; ++q) tot += r.density[q];
  CHECK(r.cross_v_plus[0 * F + Bv / 2] + r.cross_v_minus[Bv / 2] + r.cross_v_plus[Bv / 2 + 1] > 0u);  // something moved
  CHECK(tot == std::uint64_t(8 * c.N));
}

TEST_CASE("collapse finds the exponent of synthetic curves q = exp(-t eta^2) and exp(-t / B)") {
  auto fake = [](double eta, int B, double k_true, bool batch) {
    RunResult r;
    r.spec.eta = eta;
    r.spec.batch = B;
    const int E = 16;
    r.diverged_at.assign(E, -1);
    for (int k = 0; k <= 100; ++k) {
      r.t.push_back(std::uint64_t(k * 10));
      for (int e = 0; e < E; ++e) {
        const double rate = batch ? std::pow(1.0 / B, k_true) : std::pow(eta, k_true);
        r.activation_rate.push_back(std::exp(-double(k * 10) * rate * 1e-3) + 1e-3 * ((e % 4) - 1.5));
      }
    }
    return r;
  };
  std::vector<RunResult> runs{fake(1, 1, 2, false), fake(2, 1, 2, false), fake(3, 1, 2, false)};
  std::vector<const RunResult*> p{&runs[0], &runs[1], &runs[2]};
  const auto c = collapse(p, &RunResult::activation_rate, "a", "eta", false, 20, 1);
  CHECK(c.best == doctest::Approx(2.0).epsilon(0.02));
  std::vector<RunResult> br{fake(1, 1, 1, true), fake(1, 2, 1, true), fake(1, 4, 1, true)};
  std::vector<const RunResult*> bp{&br[0], &br[1], &br[2]};
  const auto cb = collapse(bp, &RunResult::activation_rate, "a", "batch", false, 0, 1);
  CHECK(cb.best == doctest::Approx(1.0).epsilon(0.03));
}

TEST_CASE("full-batch GD on a fixed training set uses every example exactly once per step") {
  NetConfig c = small(Data::gaussian, Loss::mse);
  c.train_size = 13;
  RunSpec spec;
  spec.eta = 0.1;
  spec.mode = Mode::full_batch;
  const auto r = train(c, spec, opts(1, 2));
  DataSource data(c, 3);
  for (int e = 0; e < 2; ++e) {
    std::vector<double> W(size_t(c.N) * c.M), b(c.N), V(c.N);
    std::vector<std::vector<double>> xs(13, std::vector<double>(c.M));
    std::vector<double> ys(13);
    init_network(c, 3, e, Params{W.data(), b.data(), V.data()});
    for (int i = 0; i < 13; ++i) ys[i] = data.item(i, xs[i].data());
    auto mean_loss = [&] {
      double s = 0;
      for (int i = 0; i < 13; ++i) s += loss(c, W, b, V, xs[i].data(), ys[i]);
      return s / 13;
    };
    auto fd = [&](double& p) {
      const double h = 1e-6, p0 = p;
      p = p0 + h;
      const double lp = mean_loss();
      p = p0 - h;
      const double lm = mean_loss();
      p = p0;
      return (lp - lm) / (2 * h);
    };
    for (int i = 0; i < c.N; ++i) {
      CHECK(r.final_V[size_t(e) * c.N + i] == doctest::Approx(V[i] - spec.eta * fd(V[i])).epsilon(1e-7));
      CHECK(r.final_b[size_t(e) * c.N + i] == doctest::Approx(b[i] - spec.eta * fd(b[i])).epsilon(1e-7));
    }
  }
}

TEST_CASE("a collapse search that ends at the edge of its range is reported as no collapse - not as an estimate") {
  auto series = [](double eta, double k_true) {
    Series s;
    s.eta = eta;
    s.networks = 16;
    for (int k = 0; k <= 100; ++k) {
      s.t.push_back(std::uint64_t(k * 10));
      for (int e = 0; e < 16; ++e)
        s.v.push_back(std::exp(-double(k * 10) * std::pow(eta, k_true) * 1e-3) + 1e-3 * ((e % 4) - 1.5));
    }
    return s;
  };
  // curves that do not depend on eta: the best k is the lower end of the grid
  const auto flat = collapse({series(1, 0), series(2, 0), series(3, 0)}, "q", "eta", false, 10, 1);
  CHECK(flat.at_edge);
  CHECK(flat.text().find("no collapse in k in [") == 0);
  // a true exponent inside the range is an estimate with an interval
  const auto two = collapse({series(1, 2), series(2, 2), series(3, 2)}, "q", "eta", false, 10, 1);
  CHECK(!two.at_edge);
  CHECK(two.best == doctest::Approx(2.0).epsilon(0.02));
  CHECK(two.text().find("k = 2.0") == 0);
}

TEST_CASE("early rates recover the slope at t = 0 of per-network quadratics, and the power fit their exponent") {
  const int E = 8;
  std::vector<EarlyRate> rates;
  for (double eta : {0.025, 0.05, 0.1}) {
    Series s;
    s.eta = eta;
    s.batch = 1;
    s.networks = E;
    for (std::uint64_t t = 0; t <= 4000; t += 100) s.t.push_back(t);
    s.v.resize(s.t.size() * E);
    for (size_t k = 0; k < s.t.size(); ++k)
      for (int e = 0; e < E; ++e) {
        const double t = double(s.t[k]);
        const double r = -eta * eta * 1e-3 * (1.0 + 0.2 * (e - (E - 1) / 2.0) / E);  // mean -eta^2 1e-3
        s.v[k * E + e] = 2.0 + 0.1 * e + r * t + 3e-9 * (e + 1) * t * t;
      }
    const auto er = early_rate(s, "run", "q", false, 1000);
    CHECK(er.rate == doctest::Approx(-eta * eta * 1e-3).epsilon(1e-9));
    CHECK(er.se > 0);
    rates.push_back(er);
  }
  const auto p = power_fit(rates, "eta");
  CHECK(p.points == 3);
  CHECK(p.slope == doctest::Approx(2.0).epsilon(1e-9));
  CHECK(!p.unresolved());
  CHECK(p.text().find("unresolved") == std::string::npos);
}

TEST_CASE("a power fit whose 95% interval is wider than its value is flagged unresolved") {
  std::vector<EarlyRate> r(2);
  r[0].eta = 1.0;
  r[0].rate = 1.0;
  r[0].se = 0.5;
  r[1].eta = 2.0;
  r[1].rate = 1.1;
  r[1].se = 0.5;
  const auto p = power_fit(r, "eta");
  CHECK(p.slope == doctest::Approx(std::log(1.1) / std::log(2.0)));
  CHECK(2 * 1.96 * p.se > std::abs(p.slope));
  CHECK(p.unresolved());
  CHECK(p.text().rfind("unresolved", 0) == 0);
  // one usable point: no fit, and the text says so instead of printing NaN
  r[1].rate = 0.0;
  CHECK(power_fit(r, "eta").unresolved());
  CHECK(power_fit(r, "eta").text().rfind("not determined", 0) == 0);
  // rates that are NaN (fewer than 4 records in the early window): the same
  r[0].rate = r[1].rate = NAN;
  r[0].se = r[1].se = NAN;
  const auto none = power_fit(r, "eta");
  CHECK(none.points == 0);
  CHECK(none.text().find("nan") == std::string::npos);
  CHECK(none.text().rfind("not determined", 0) == 0);
}

TEST_SUITE_END();
