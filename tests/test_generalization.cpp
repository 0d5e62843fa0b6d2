// Issue 12 wiring: held-out sets, train/test records, the Hessian records of train_deep, the
// matched-loss analysis, and --study generalization from the command line.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "soret/common/error.hpp"
#include "soret/io/hdf5.hpp"
#include "soret/net/dataset.hpp"
#include "soret/net/deep_trainer.hpp"
#include "soret/net/generalization.hpp"
#include "soret/net/hessian.hpp"

using namespace soret;
using namespace soret::net;
namespace fs = std::filesystem;

namespace {

NetConfig teacher(int M, int N, std::uint64_t n) {
  NetConfig c;
  c.M = M;
  c.N = N;
  c.data = Data::gaussian;
  c.labels = Labels::teacher;
  c.train_size = n;
  return c;
}

DeepOptions small_options(int E, std::uint64_t steps, std::uint64_t seed, int threads, int S) {
  DeepOptions o;
  o.ensemble = E;
  o.steps = steps;
  o.record_every = 10;
  o.seed = seed;
  o.threads = threads;
  o.grad_samples = S;
  o.sampler = SamplerKind::epoch;
  return o;
}

int run_cli(const std::string& args, std::string* err = nullptr) {
  const fs::path base = fs::temp_directory_path() / ("soret-gen-" + std::to_string(::getpid()));
  const std::string cmd = std::string(SORET_BINARY) + " " + args + " >/dev/null 2>" + base.string() + ".err";
  const int rc = std::system(cmd.c_str());
  if (err) {
    std::ifstream in(base.string() + ".err");
    std::stringstream ss;
    ss << in.rdbuf();
    *err = ss.str();
  }
  fs::remove(base.string() + ".err");
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

TEST_SUITE_BEGIN("quick");

TEST_CASE("generalization: the synthetic held-out set is fixed and is not the training set") {
  const NetConfig c = teacher(5, 4, 32);
  SyntheticDataset train(c, 7);
  SyntheticTestSet test(c, 7, 50), again(c, 7, 50);
  CHECK(test.size() == 50);
  std::vector<double> x(5), y(5), z(5);
  int ones = 0;
  for (std::uint64_t i = 0; i < 50; ++i) {
    const int a = test.item(i, x.data()), b = again.item(i, y.data());
    CHECK(a == b);
    CHECK(x == y);
    ones += a;
    for (std::uint64_t k = 0; k < 32; ++k) {
      train.item(k, z.data());
      CHECK(z != x);
    }
  }
  CHECK(ones > 0);  // teacher labels of both classes (a constant label would make the error meaningless)
  CHECK(ones < 50);
  CHECK_THROWS_AS(SyntheticTestSet(c, 7, 0), InputError);
}

TEST_CASE("generalization: train and test loss and error records equal a direct evaluation of the final parameters") {
  const NetConfig c = teacher(6, 8, 40);
  SyntheticDataset train(c, 3);
  SyntheticTestSet test(c, 3, 70);
  const Architecture a = Architecture::twolayer(train.input(), 8, true);
  DeepOptions o = small_options(3, 30, 3, 2, 8);
  o.set_metrics = true;
  o.test = &test;
  RunSpec spec;
  spec.eta = 0.1;
  spec.batch = 4;
  spec.name = "r";
  const DeepRun r = train_deep(a, train, train, spec, o);
  REQUIRE(r.records() == 4);
  Workspace ws(a);
  for (int e = 0; e < 3; ++e) {
    const double* p = &r.final_params[size_t(e) * a.params()];
    auto direct = [&](const Dataset& d, double* loss, double* err) {
      std::vector<double> x(d.input().size());
      double s = 0, df = 0;
      int wrong = 0;
      for (std::uint64_t i = 0; i < d.size(); ++i) {
        const int y = d.item(i, x.data());
        bool ok = false;
        s += loss_and_grad(Loss::bce, forward(a, p, x.data(), ws), 1, y, &df, &ok);
        wrong += !ok;
      }
      *loss = s / double(d.size());
      *err = double(wrong) / double(d.size());
    };
    double tl = 0, te = 0, sl = 0, se = 0;
    direct(train, &tl, &te);
    direct(test, &sl, &se);
    CHECK(r.rec.column("train_loss").v[3 * 3 + e] == doctest::Approx(tl).epsilon(1e-12));
    CHECK(r.rec.column("train_error").v[3 * 3 + e] == te);
    CHECK(r.rec.column("test_loss").v[3 * 3 + e] == doctest::Approx(sl).epsilon(1e-12));
    CHECK(r.rec.column("test_error").v[3 * 3 + e] == se);
  }
}

TEST_CASE("generalization: Hessian records equal hessian_record on the whole training set") {
  const NetConfig c = teacher(5, 6, 24);  // 24 <= hessian_samples: the whole set
  SyntheticDataset train(c, 5);
  const Architecture a = Architecture::twolayer(train.input(), 6, true);
  DeepOptions o = small_options(2, 20, 5, 1, 4);
  o.hessian_every = 2;  // records 0 and 2
  o.hessian_probes = 16;
  const DeepRun r = train_deep(a, train, train, RunSpec{"r", 0.1, 2}, o);
  REQUIRE(r.records() == 3);
  const auto& tr = r.rec.column("hessian_trace").v;
  CHECK(std::isnan(tr[1 * 2 + 0]));  // record 1 has none
  std::vector<double> X(24 * 5);
  std::vector<int> y(24);
  for (int k = 0; k < 24; ++k) y[k] = train.item(std::uint64_t(k), &X[size_t(k) * 5]);
  HessianWorkspace hws(a);
  for (int e = 0; e < 2; ++e) {
    const HessianRecord h = hessian_record(a, &r.final_params[size_t(e) * a.params()], X.data(), y.data(), 24, Loss::bce,
                                           ProbeOptions{16, 5, std::uint64_t(e), 2}, hws);
    CHECK(tr[2 * 2 + e] == doctest::Approx(h.hutchinson.trace).epsilon(1e-12));
    CHECK(r.rec.column("gauss_newton_trace").v[2 * 2 + e] == doctest::Approx(h.gn.trace).epsilon(1e-12));
    CHECK(r.rec.column("eq62_bound").v[2 * 2 + e] == doctest::Approx(h.eq62.bound).epsilon(1e-12));
    CHECK(r.rec.column("eq62_bound").v[2 * 2 + e] >= r.rec.column("gauss_newton_trace").v[2 * 2 + e]);
  }
}

TEST_CASE("generalization: least squares recovers known coefficients and the controlled slope") {
  // y = 2 - 0.5 u + 3 w exactly, w correlated with u: the slope on u alone is -0.5 + 3 cov(u,w)/var(u),
  // with w as a regressor it is -0.5 with zero error.
  std::vector<double> u, w, y;
  for (int i = 0; i < 40; ++i) {
    u.push_back(i * 0.1);
    w.push_back(0.2 * i * 0.1 + ((i * 7) % 5) * 0.01);
    y.push_back(2 - 0.5 * u.back() + 3 * w.back());
  }
  const Slope both = least_squares({u, w}, y);
  CHECK(both.slope == doctest::Approx(-0.5).epsilon(1e-9));
  CHECK(both.se < 1e-9);
  const Slope alone = least_squares({u}, y);
  CHECK(alone.slope == doctest::Approx(0.1).epsilon(0.05));  // -0.5 + 3 x 0.2
  CHECK(alone.se > 0);
  // A simple regression with residuals: slope and SE against the textbook formulas
  // b = Sxy / Sxx, SE = sqrt(RSS / (n - 2) / Sxx).
  std::vector<double> x, z;
  for (int i = 0; i < 12; ++i) {
    x.push_back(i);
    z.push_back(1.5 * i + ((i * 5) % 7 - 3) * 0.4);
  }
  double mx = 0, mz = 0;
  for (int i = 0; i < 12; ++i) { mx += x[i] / 12; mz += z[i] / 12; }
  double sxx = 0, sxy = 0;
  for (int i = 0; i < 12; ++i) { sxx += (x[i] - mx) * (x[i] - mx); sxy += (x[i] - mx) * (z[i] - mz); }
  const double b = sxy / sxx;
  double rss = 0;
  for (int i = 0; i < 12; ++i) rss += std::pow(z[i] - mz - b * (x[i] - mx), 2);
  const Slope simple = least_squares({x}, z);
  CHECK(simple.slope == doctest::Approx(b).epsilon(1e-12));
  CHECK(simple.se == doctest::Approx(std::sqrt(rss / 10 / sxx)).epsilon(1e-9));
  CHECK(simple.n == 12);
  Slope s;
  s.slope = 1;
  s.se = 0.34;
  s.n = 10;
  CHECK(!s.resolved());
  s.se = 0.33;
  CHECK(s.resolved());
}

TEST_CASE("generalization: the matched-loss analysis picks each network's first record at the target loss") {
  // Two runs of two networks, three records; train losses chosen so that L* is known.
  auto make = [](double eta, int B, std::vector<double> loss, std::vector<double> act) {
    DeepRun r;
    r.spec = RunSpec{"r", eta, B};
    r.t = {0, 10, 20};
    r.rec = Recorder(3, 2);
    const int cl = r.rec.add("train_loss", {}, "", ""), ct = r.rec.add("test_error", {}, "", ""),
              cs = r.rec.add("test_loss", {}, "", ""), ca = r.rec.add("activation_rate_layer", {"h"}, "", ""),
              cw = r.rec.add("weight_norm_layer", {"a", "b"}, "", ""), cg = r.rec.add("gauss_newton_trace", {}, "", ""),
              ch = r.rec.add("hessian_trace", {}, "", ""), cse = r.rec.add("hessian_trace_se", {}, "", ""),
              cb = r.rec.add("eq62_bound", {}, "", ""), cp = r.rec.add("eq62_paper", {}, "", "");
    for (size_t k = 0; k < 3; ++k)
      for (size_t e = 0; e < 2; ++e) {
        *r.rec.at(cl, k, e) = loss[k * 2 + e];
        *r.rec.at(ct, k, e) = 0.1 * double(k);
        *r.rec.at(cs, k, e) = 0.2;
        *r.rec.at(ca, k, e) = act[k * 2 + e];
        r.rec.at(cw, k, e)[0] = 1;
        r.rec.at(cw, k, e)[1] = 2;
        *r.rec.at(cg, k, e) = 4;
        *r.rec.at(ch, k, e) = 4.1;
        *r.rec.at(cse, k, e) = 0.1;
        *r.rec.at(cb, k, e) = k == 2 && e == 1 ? 3.0 : 8.0;  // one record where the "bound" fails
        *r.rec.at(cp, k, e) = 1;
      }
    return r;
  };
  // run 0: best losses 0.3, 0.5 (median 0.4); run 1: best 0.1, 0.1 (median 0.1): L* = 0.4
  const DeepRun a = make(0.1, 1, {0.9, 0.9, 0.3, 0.6, 0.35, 0.5}, {0.5, 0.5, 0.4, 0.45, 0.3, 0.3});
  const DeepRun b = make(0.2, 4, {0.9, 0.9, 0.2, 0.2, 0.1, 0.1}, {0.5, 0.5, 0.35, 0.36, 0.3, 0.3});
  const Generalization g = analyse_generalization({a, b});
  CHECK(g.target_loss == doctest::Approx(0.4));
  REQUIRE(g.runs.size() == 2);
  CHECK(g.runs[0].matched == 1);  // network 1 of run 0 never reaches 0.4
  CHECK(g.runs[1].matched == 2);
  CHECK(g.act == std::vector<double>{0.4, 0.35, 0.36});  // record 1 of each matched network
  CHECK(g.run_of == std::vector<std::int64_t>{0, 1, 1});
  CHECK(g.u[0] == doctest::Approx(std::log(0.01)));
  CHECK(g.u[1] == doctest::Approx(std::log(0.01)));
  CHECK(g.bound_records == 12);
  CHECK(g.bound_holds == 10);  // the two failing records are reported, not hidden
  CHECK(g.paper_below == 12);
  CHECK(g.hutch_z_mean == doctest::Approx(1.0));
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("slow");

TEST_CASE("soret net --hessian-every --test-size: the records and the bound from the command line") {
  const fs::path d = fs::temp_directory_path() / ("soret-gen-dir-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  const std::string out = (d / "g.h5").string();
  std::string err;
  REQUIRE(run_cli("net -q --arch twolayer --inputs 8 --hidden 12 --labels teacher --train-size 100 --test-size 300 "
                  "--hessian-every 1 --hessian-probes 32 --ensemble 4 --steps 200 --record-every 50 --eta 0.1 --batch 2 "
                  "--out " + out, &err) == 0);
  auto f = h5::open_file_read(out);
  {
    auto p = h5::open_group(f, "/parameters");
    CHECK(h5::read_attr_string(p, "sampler") == "epoch");  // auto with a held-out set
    CHECK(h5::read_attr_int64(p, "test_size") == 300);
  }
  std::vector<hsize_t> dims;
  const auto tr = h5::read_doubles(f, "/runs/eta=0.1_B=2/hessian_trace", &dims);
  CHECK(dims == std::vector<hsize_t>{5, 4});
  const auto se = h5::read_doubles(f, "/runs/eta=0.1_B=2/hessian_trace_se", &dims);
  const auto gn = h5::read_doubles(f, "/runs/eta=0.1_B=2/gauss_newton_trace", &dims);
  const auto bd = h5::read_doubles(f, "/runs/eta=0.1_B=2/eq62_bound", &dims);
  const auto te = h5::read_doubles(f, "/runs/eta=0.1_B=2/test_error", &dims);
  const auto tl = h5::read_doubles(f, "/runs/eta=0.1_B=2/train_loss", &dims);
  // Tr H = Tr G for ReLU nets (THEORY.md): the Hutchinson estimate agrees with the exact Gauss-Newton
  // trace within its standard error (|z| < 5 at each of the 20 records, and on average).
  double zsum = 0;
  for (size_t i = 0; i < tr.size(); ++i) {
    CAPTURE(i);
    REQUIRE(se[i] > 0);
    const double z = (tr[i] - gn[i]) / se[i];
    CHECK(std::abs(z) < 5);
    zsum += z;
    CHECK(bd[i] >= gn[i]);
    CHECK(te[i] >= 0);
    CHECK(te[i] <= 1);
  }
  CHECK(std::abs(zsum / std::sqrt(double(tr.size()))) < 5);
  CHECK(tl[4 * 4] < tl[0]);  // training reduces the training loss
  // bad input
  CHECK(run_cli("net -q --hessian-every 1 --hessian-probes 1 --out " + (d / "x.h5").string(), &err) == 2);
  CHECK(err.find("--hessian-probes") != std::string::npos);
  CHECK(run_cli("net -q --test-size -3 --out " + (d / "x.h5").string(), &err) == 2);
  CHECK(err.find("--test-size") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "x.h5"));
  fs::remove_all(d);
}

TEST_CASE("soret net --study generalization --study-size tiny: parts, matched-loss file and verdicts") {
  const fs::path d = fs::temp_directory_path() / ("soret-gen-study-" + std::to_string(::getpid()));
  fs::remove_all(d);
  std::string err;
  REQUIRE(run_cli("net -q --study generalization --study-size tiny --out " + d.string(), &err) == 0);
  for (const char* p : {"teacher_twolayer.h5", "fc300_fmnist.h5", "generalization.h5", "summary.md"}) {
    CAPTURE(p);
    CHECK(fs::exists(d / p));
  }
  auto f = h5::open_file_read((d / "generalization.h5").string());
  for (const char* g : {"teacher_twolayer", "fc300_fmnist"}) {
    CAPTURE(g);
    auto grp = h5::open_group(f, g);
    CHECK(std::isfinite(h5::read_attr_double(grp, "target_loss")));
    std::vector<hsize_t> dims;
    const auto act = h5::read_doubles(f, std::string("/") + g + "/activation_rate", &dims);
    CHECK(!act.empty());
    CHECK(h5::read_attr_int64(grp, "bound_holds") == h5::read_attr_int64(grp, "bound_records"));
  }
  std::ifstream in(d / "summary.md");
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str().find("Verdicts at matched training loss") != std::string::npos);
  CHECK(ss.str().find("Does the Hessian trace fall with it?") != std::string::npos);
  fs::remove_all(d);
}

TEST_SUITE_END();
