#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "helpers.hpp"
#include "soret/io/walk_output.hpp"

using namespace soret;
using namespace soret::test;
namespace fs = std::filesystem;

namespace {

struct Outcome {
  int status;
  std::string err;
};

/// Runs the soret binary with `args`; captures stderr.
Outcome soret_cmd(const std::string& args) {
  const fs::path errf = fs::temp_directory_path() / ("soret-test-err-" + std::to_string(::getpid()));
  const std::string cmd = std::string(SORET_BINARY) + " " + args + " >/dev/null 2>" + errf.string();
  const int rc = std::system(cmd.c_str());
  std::ifstream in(errf);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(errf);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

fs::path tmpdir() {
  const fs::path d = fs::temp_directory_path() / ("soret-test-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_SUITE_BEGIN("quick");

TEST_CASE("HDF5 round trip: what is written is what was measured - and file: reproduces the stored ensemble") {
  const fs::path dir = tmpdir();
  const std::string path = (dir / "rt.h5").string();
  auto m = model_1d("1 + 0.5*sin(2*_pi*q)", 0.02, Boundary::periodic);
  auto p = plan_1d(m, 16, {0, 10, 20}, {{0, 5}, {5, 20}});
  p.step_stats = true;
  WalkEngine e(m, p, InitSpec::parse("uniform", 1), run_opts(1000, 20, 4));
  const auto r = e.run();
  {
    h5::AtomicFile f(path);
    write_walk_output(f.id(), e, r, {{"eta", 0.02}, {"seed", std::int64_t(4)}});
    f.commit();
  }
  auto f = h5::open_file_read(path);
  std::vector<hsize_t> dims;
  CHECK(h5::read_u64(f, "/density/counts", &dims) == r.density_counts);
  CHECK(dims == std::vector<hsize_t>{3, 16});
  CHECK(h5::read_u64(f, "/flux/crossings_plus") == r.flux_plus);
  const auto J = h5::read_doubles(f, "/flux/J", &dims);
  CHECK(dims == std::vector<hsize_t>{2, 17});
  const auto J1 = r.J(1);
  for (int k = 0; k < 17; ++k) CHECK(J[17 + k] == J1[k]);
  const auto rho = h5::read_doubles(f, "/density/rho");
  double integral = 0;
  for (int b = 0; b < 16; ++b) integral += rho[b] / 16.0;
  CHECK(integral == doctest::Approx(1.0));
  {
    auto g = h5::open_group(f, "parameters");
    CHECK(h5::read_attr_double(g, "eta") == 0.02);
  }
  CHECK(h5::exists(f, "/h5md/creator"));
  CHECK(h5::exists(f, "/step_stats/msq"));
  CHECK(h5::exists(f, "/moments/var"));

  const auto stored = read_stored_ensemble(path);
  CHECK(stored.walkers == 1000u);
  CHECK(stored.pos == r.final_positions());
  WalkEngine e2(m, plan_1d(m, 16, {0}, {}), InitSpec::parse("file:" + path, 1), run_opts(1000, 0, 4), &stored);
  const auto r2 = e2.run();
  CHECK(r2.final_positions() == r.final_positions());
  fs::remove_all(dir);
}

// A continuation must run steps: T steps, then T more from the file, equal 2T steps in one run
// (noise keyed on the absolute step, the stored step and seed used).
TEST_CASE("file: continues a run - T steps then T more from the file equal 2T steps") {
  const fs::path dir = tmpdir();
  const std::string a = (dir / "a.h5").string(), b = (dir / "b.h5").string(), c = (dir / "c.h5").string();
  const std::string common = "walk -q --walkers 500 --g 1 --eta 0.02 --density-at none --flux-windows none ";
  REQUIRE(soret_cmd(common + "--steps 30 --out " + a).status == 0);
  REQUIRE(soret_cmd(common + "--steps 30 --init file:" + a + " --out " + b).status == 0);
  REQUIRE(soret_cmd(common + "--steps 60 --out " + c).status == 0);
  const auto first = read_stored_ensemble(a), cont = read_stored_ensemble(b), whole = read_stored_ensemble(c);
  REQUIRE(cont.pos.size() == whole.pos.size());
  CHECK(cont.pos != first.pos);  // the continuation ran steps
  CHECK(cont.pos == whole.pos);
  fs::remove_all(dir);
}

TEST_CASE("CLI: bad input gives one line naming the option - exit status 2 and no output file") {
  const fs::path dir = tmpdir();
  const std::string out = (dir / "bad.h5").string();
  const std::pair<std::string, std::string> cases[] = {
      {"--walkers 0", "walkers"},
      {"--eta 0", "eta"},
      {"--eta -1", "eta"},
      {"--bins 0", "bins"},
      {"--domain 1:0", "domain"},
      {"--hist-axes 3", "hist-axes"},
      {"--g 'sin(q'", "g"},
      {"--g 'q-0.5'", "g"},
      {"--frobnicate 3", "frobnicate"},
      {"--noise cauchy", "noise"},
      {"--boundary sticky", "boundary"},
      {"--init lattice", "init"},
      {"--flux-windows 5:2", "flux-windows"},
      {"--density-at 5000", "density-at"},
      {"--convention 2", "convention"},
  };
  for (const auto& [args, option] : cases) {
    CAPTURE(args);
    const auto o = soret_cmd("walk -q --walkers 100 --steps 10 --out " + out + " " + args);
    CHECK(o.status == 2);
    CHECK(o.err.find(option) != std::string::npos);
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    CHECK(!fs::exists(out));
  }
  const auto o = soret_cmd("walk -q --walkers 100 --steps 10 --out /nonexistent-dir/x.h5");
  CHECK(o.status == 2);
  CHECK(o.err.find("out") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("CLI: a blow-up exits with status 3 and leaves no file - a good run writes one - --config works") {
  const fs::path dir = tmpdir();
  const std::string out = (dir / "x.h5").string();
  auto o = soret_cmd("walk -q --walkers 100 --steps 50 --boundary free --drift 'q*q*1e200' --init point:0.5 --out " + out);
  CHECK(o.status == 3);
  CHECK(o.err.find("blow-up") != std::string::npos);
  CHECK(!fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir)) FAIL("left behind: " << e.path());

  const std::string cfg = (dir / "run.ini").string();
  {
    std::ofstream c(cfg);
    c << "walkers = 2000\nsteps = 20\neta = 0.03\ng = 1+q\ndomain = 0:1\nboundary = reflecting\nbins = 8\n";
  }
  o = soret_cmd("walk -q --config " + cfg + " --out " + out);
  CHECK(o.status == 0);
  REQUIRE(fs::exists(out));
  const auto s = read_stored_ensemble(out);
  CHECK(s.walkers == 2000u);
  auto f = h5::open_file_read(out);
  std::vector<hsize_t> dims;
  h5::read_u64(f, "/density/counts", &dims);
  CHECK(dims[1] == 8u);
  CHECK(soret_cmd("walk --help").status == 0);
  fs::remove_all(dir);
}

TEST_CASE("soret net - bad input gives one line naming the option and no file - a small run writes the schema" * doctest::test_suite("slow")) {
  const fs::path dir = tmpdir();
  const std::string out = (dir / "net.h5").string();
  const std::pair<std::string, std::string> cases[] = {
      {"--eta 0", "eta"}, {"--eta 0.1,x", "eta"}, {"--batch 0", "batch"}, {"--data cauchy", "data"},
      {"--labels maybe", "labels"}, {"--loss hinge", "loss"}, {"--ensemble 1", "ensemble"},
      {"--init xavier", "init"}, {"--grid-v 1:0:10", "grid-v"}, {"--hidden 0", "hidden"}};
  for (const auto& [args, option] : cases) {
    CAPTURE(args);
    const auto o = soret_cmd("net -q --steps 10 --ensemble 4 --out " + out + " " + args);
    CHECK(o.status == 2);
    CHECK(o.err.find(option) != std::string::npos);
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    CHECK(!fs::exists(out));
  }
  const auto o = soret_cmd("net -q --steps 60 --ensemble 8 --eta 0.05,0.1 --batch 1,2 --bootstrap 5 --compare 1 --out " + out);
  REQUIRE(o.status == 0);
  auto f = h5::open_file_read(out);
  CHECK(h5::exists(f, "/runs/eta=0.05_B=2/activation_rate"));
  CHECK(h5::exists(f, "/runs/gd_eta=0.1/loss"));
  CHECK(h5::exists(f, "/runs/frozenV_eta=0.1/v_norm"));
  CHECK(h5::exists(f, "/scaling/collapse"));
  std::vector<hsize_t> dims;
  h5::read_doubles(f, "/runs/eta=0.1_B=1/grad_var", &dims);
  CHECK(dims == std::vector<hsize_t>{6, 8});
  {
    auto g = h5::open_group(f, "/runs/eta=0.1_B=1");
    CHECK(h5::read_attr_double(g, "eta") == 0.1);
  }
  fs::remove_all(dir);
}

TEST_SUITE_END();
