// The check report: verdicts per paper claim, valid Markdown tables, the command's stdout.
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "soret/check/check.hpp"
#include "soret/common/parse.hpp"

using namespace soret;
namespace fs = std::filesystem;

namespace {

fs::path tmpdir(const std::string& tag) {
  const fs::path d = fs::temp_directory_path() / ("soret-report-" + tag + "-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Cells of a Markdown table line: the number of unescaped '|' minus one.
int cells(const std::string& line) {
  int n = 0;
  for (size_t i = 0; i < line.size(); ++i)
    if (line[i] == '|' && (i == 0 || line[i - 1] != '\\')) ++n;
  return n - 1;
}

/// Every table of a Markdown text: each line has as many cells as its header. Returns the number
/// of table lines checked.
int check_tables(const std::string& md) {
  std::istringstream in(md);
  std::string line;
  int header = -1, checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '|') { header = -1; continue; }
    if (header < 0) header = cells(line);
    INFO(line);
    CHECK(cells(line) == header);
    ++checked;
  }
  return checked;
}

check::Row row(const std::string& claim, double eta, double z, double alpha = 0, bool own = false) {
  check::Row r;
  r.scenario = "s|x";
  r.quantity = "J profile, eta=" + std::to_string(eta).substr(0, 4) + " |U|=2";
  r.equation = "Eq. 9";
  r.measured = z;
  r.se = 1;
  r.prediction = "log|J|";
  r.z = z;
  r.claim = claim;
  r.eta = eta;
  r.alpha = alpha;
  r.own = own;
  r.verdict = std::abs(z) < 5 ? "confirmed" : "refuted";
  r.note = "max point |z| 2";
  return r;
}

const check::Claim& find(const std::vector<check::Claim>& v, const std::string& key) {
  for (const auto& c : v)
    if (c.key == key) return c;
  FAIL("no claim " << key);
  return v.front();
}

}  // namespace

TEST_CASE("claim verdicts: holds, holds to leading order, fails, other update rules kept apart") {
  check::Report r;
  r.rows.push_back(row("eq9", 0.04, 1.0));           // 1
  r.rows.push_back(row("eq9", 0.08, 8.1));           // 2: the remainder at the larger eta
  r.rows.push_back(row("eq10_thermo", 0.02, 0.5));   // 3
  r.rows.push_back(row("eq10_thermo", 0.02, 28, 0.5));  // 4: alpha = 1/2, another rule
  r.rows.push_back(row("eq10_diff", 0.04, -69));     // 5
  r.rows.push_back(row("law_1g", 0.05, 1.0));        // 6
  r.rows.push_back(row("law_1g", 0.05, 2400));       // 7: same eta: no smaller eta confirms it
  r.rows.push_back(row("j_eta2", 0.0, -0.7));        // 8
  r.rows.push_back(row("shared", 0.08, 40));         // 9: refuted with no smaller eta at all
  const auto cl = check::claims(r);
  CHECK(find(cl, "eq9").verdict == "holds to leading order");
  CHECK(find(cl, "eq10_thermo").verdict == "holds");  // the alpha = 1/2 row does not decide it
  CHECK(find(cl, "eq10_thermo").evidence.find("other update rules") != std::string::npos);
  CHECK(find(cl, "eq10_diff").verdict == "fails");
  CHECK(find(cl, "law_1g").verdict == "fails");
  CHECK(find(cl, "j_eta2").verdict == "holds");
  CHECK(find(cl, "shared").verdict == "fails");
  CHECK(find(cl, "eq8").verdict == "not tested here");
  CHECK(find(cl, "eq9").evidence.find("(#row-2)") != std::string::npos);
  // A refuted row at the smallest eta turns the leading-order verdict into a failure.
  r.rows.push_back(row("eq9", 0.01, 6.0));
  CHECK(check::claims(r)[0].verdict == "fails");
}

TEST_CASE("report.md: every table row has the header's column count, with '|' in the cells") {
  check::Report r;
  r.rows.push_back(row("eq9", 0.04, 1.0));
  r.rows.push_back(row("eq9", 0.08, 8.1));
  r.rows.push_back(row("", 0.05, 3.0, 0, true));
  check::Row g = row("", 0.05, 0.3);
  g.gating = true;
  g.verdict = "pass";
  r.rows.push_back(g);
  const fs::path d = tmpdir("synthetic");
  check::write_report(r, d.string());
  const std::string md = slurp(d / "report.md");
  CHECK(check_tables(md) >= 4 + 3 * 2 + 9);  // the verdict table and three row tables
  CHECK(md.find("s\\|x") != std::string::npos);
  // The verdicts come first, before any row.
  CHECK(md.find("## What holds of the paper") < md.find("## Rows on the paper's claims"));
  CHECK(md.find("<a id=\"row-2\"></a>2") != std::string::npos);
  // The check of the checker: an unescaped '|' is caught.
  CHECK(cells("| a | b|c |") == 3);
  fs::remove_all(d);
}

TEST_CASE("soret check --only: scenario labels, a valid report and a stdout table with a header") {
  const fs::path d = tmpdir("cli");
  const std::string outf = (d / "stdout.txt").string();
  const std::string cmd = std::string(SORET_BINARY) + " check --fast --only diffusion,scaling --threads 2 --report " +
                          d.string() + " >" + outf + " 2>/dev/null";
  const int rc = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == 0);
  const std::string md = slurp(d / "report.md");
  CHECK(check_tables(md) > 10);
  const std::string out = slurp(outf);
  CHECK(out.find("What holds of the paper") != std::string::npos);
  CHECK(out.find("\n#  scenario") != std::string::npos);
  // Only the scenarios asked for, under the names --only takes.
  std::istringstream in(md);
  std::string line;
  int rows = 0;
  while (std::getline(in, line))
    if (line.rfind("| <a id=", 0) == 0) {
      ++rows;
      const bool ok = line.find("| diffusion |") != std::string::npos || line.find("| scaling |") != std::string::npos;
      INFO(line);
      CHECK(ok);
    }
  CHECK(rows > 5);
  const auto names = check::scenario_names();
  CHECK(names.size() == 7);  // README: "Seven scenarios"
  fs::remove_all(d);
}

TEST_CASE("integers in floating notation are accepted when exact") {
  CHECK(parse_int("1e6", "walkers") == 1000000);
  CHECK(parse_int("2.5e3", "walkers") == 2500);
  CHECK(parse_int("42", "walkers") == 42);
  CHECK_THROWS(parse_int("1.5", "walkers"));
  CHECK_THROWS(parse_int("1e6x", "walkers"));
  CHECK_THROWS(parse_int("inf", "walkers"));
}

// --- self-describing network files -----------------------------------------------------------
#include <hdf5.h>
#include <hdf5_hl.h>

#include "soret/io/hdf5.hpp"

namespace {

struct Visit {
  std::vector<std::string> missing, unscaled;
  int datasets = 0;
};

herr_t visit_one(hid_t obj, const char* name, const H5O_info_t* info, void* data) {
  auto* v = static_cast<Visit*>(data);
  if (info->type != H5O_TYPE_DATASET) return 0;
  ++v->datasets;
  const std::string n = name;
  hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
  if (H5Aexists(d, "unit") <= 0 || H5Aexists(d, "description") <= 0) v->missing.push_back(n);
  // Every records x networks dataset of a run has the step and network axes as dimension scales.
  hid_t sp = H5Dget_space(d);
  const int rank = H5Sget_simple_extent_ndims(sp);
  H5Sclose(sp);
  const bool is_scale = H5DSis_scale(d) > 0;
  if (n.rfind("runs/", 0) == 0 && rank == 2 && !is_scale && n.find("param_space") == std::string::npos &&
      n.find("final_") == std::string::npos)
    if (H5DSget_num_scales(d, 0) < 1 || H5DSget_num_scales(d, 1) < 1) v->unscaled.push_back(n);
  H5Dclose(d);
  return 0;
}

Visit visit(const std::string& path) {
  Visit v;
  auto f = h5::open_file_read(path);
  H5Ovisit2(f.id(), H5_INDEX_NAME, H5_ITER_NATIVE, visit_one, &v, H5O_INFO_BASIC);
  return v;
}

int run_quiet(const std::string& args, std::string* err = nullptr) {
  const fs::path errf = fs::temp_directory_path() / ("soret-report-err-" + std::to_string(::getpid()));
  const std::string cmd = std::string(SORET_BINARY) + " " + args + " >/dev/null 2>" + errf.string();
  const int rc = std::system(cmd.c_str());
  if (err) *err = slurp(errf);
  fs::remove(errf);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

TEST_CASE("net files describe themselves: unit and description on every dataset, dimension scales, numbers") {
  const fs::path d = tmpdir("net");
  const std::string two = (d / "two.h5").string(), deep = (d / "deep.h5").string();
  REQUIRE(run_quiet("net -q --eta 0.05,0.1 --ensemble 4 --steps 300 --record-every 10 --bootstrap 4 --compare 1 "
                    "--threads 2 --out " + two) == 0);
  REQUIRE(run_quiet("net -q --arch fc:6,5 --inputs 4 --eta 0.05,0.1 --ensemble 3 --steps 40 --record-every 10 "
                    "--grad-samples 8 --bootstrap 4 --threads 2 --out " + deep) == 0);
  for (const auto& path : {two, deep}) {
    CAPTURE(path);
    const auto v = visit(path);
    CHECK(v.datasets > 20);
    CHECK(v.missing == std::vector<std::string>{});
    CHECK(v.unscaled == std::vector<std::string>{});
    auto f = h5::open_file_read(path);
    auto p = h5::open_group(f, "/parameters");
    // Lists of numbers are numeric arrays; threads is the number used.
    hid_t a = H5Aopen(p.id(), "eta", H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    CHECK(H5Tget_class(t) == H5T_FLOAT);
    H5Tclose(t);
    H5Aclose(a);
    CHECK(h5::read_attr_double(p, "threads") == 2);
  }
  // Eq. 27 has its own step axis (every 10th record of 30), no NaN padding.
  auto f = h5::open_file_read(two);
  const auto st = h5::read_u64(f, "/runs/eta=0.1_B=1/eq27/step");
  CHECK(st == std::vector<std::uint64_t>{0, 100, 200});
  std::vector<hsize_t> dims;
  const auto db = h5::read_doubles(f, "/runs/eta=0.1_B=1/eq27/b_drift", &dims);
  CHECK(dims == std::vector<hsize_t>{3, 4});
  for (double x : db) CHECK(std::isfinite(x));
  CHECK(!h5::exists(f, "/runs/eta=0.1_B=1/eq27_b_drift"));
  // Divergence by runaway growth is stored; the mechanism runs record their real batch and records.
  CHECK(h5::exists(f, "/runs/eta=0.1_B=1/runaway_at"));
  auto gd = h5::open_group(f, "/runs/gd_eta=0.1");
  CHECK(h5::read_attr_double(gd, "batch") == 1024);
  CHECK(h5::read_attr_double(gd, "records") >= 3);
  fs::remove_all(d);
}

TEST_CASE("--study refuses options it would ignore") {
  std::string err;
  CHECK(run_quiet("net -q --study paper --steps 10 --out /tmp/soret-report-never", &err) == 2);
  CHECK(err.find("--steps") != std::string::npos);
  CHECK(!fs::exists("/tmp/soret-report-never"));
  CHECK(run_quiet("net -q --study deep --ensemble 4 --out /tmp/soret-report-never", &err) == 2);
  CHECK(err.find("--ensemble") != std::string::npos);
}

// --- Eq. 27 and Eq. 8 for the two-layer net (validation/THEORY.md) ----------------------------
#include <random>

#include "soret/net/eq8.hpp"

TEST_CASE("Eq. 27: phi_1, phi_2 and their b-derivatives against closed forms, Monte Carlo and finite differences") {
  using soret::net::eq27_unit;
  // b = 0, s = 1, c2 = 1: E relu^2 = 1/2, P(h > 0) = 1/2, E relu = 1/sqrt(2 pi).
  const auto u0 = eq27_unit(0.0, 1.0, 1.0, 1.0, 0.1, 1);
  CHECK(u0.phi1 == doctest::Approx(std::sqrt(0.5)).epsilon(1e-14));
  CHECK(u0.phi2 == doctest::Approx(std::sqrt(0.5)).epsilon(1e-14));
  CHECK(u0.dphi1 == doctest::Approx(1 / std::sqrt(M_PI)).epsilon(1e-14));
  CHECK(u0.dphi2 == doctest::Approx(0.5 / std::sqrt(M_PI)).epsilon(1e-14));
  // Monte Carlo of the defining integrals for h ~ N(b, s^2), with the SE of the mean.
  const double b = 0.3, s = 0.7, c2 = 0.2;
  std::mt19937_64 gen(7);
  std::normal_distribution<double> nd(b, s);
  const int n = 400000;
  double m2 = 0, m2s = 0, pa = 0;
  for (int k = 0; k < n; ++k) {
    const double h = nd(gen), r2 = h > 0 ? h * h : 0.0;
    m2 += r2; m2s += r2 * r2; pa += h > 0;
  }
  m2 /= n;
  const double se2 = std::sqrt((m2s / n - m2 * m2) / n), pp = pa / n, sep = std::sqrt(pp * (1 - pp) / n);
  const auto u = eq27_unit(b, s, -1.5, c2, 0.1, 1);
  CHECK(std::abs(u.phi1 * u.phi1 / c2 - m2) / se2 < 5);
  CHECK(std::abs(u.phi2 * u.phi2 / c2 - pp) / sep < 5);
  // Derivatives in b by central differences.
  const double d = 1e-5;
  const auto up = eq27_unit(b + d, s, -1.5, c2, 0.1, 1), um = eq27_unit(b - d, s, -1.5, c2, 0.1, 1);
  CHECK(u.dphi1 == doctest::Approx((up.phi1 - um.phi1) / (2 * d)).epsilon(1e-8));
  CHECK(u.dphi2 == doctest::Approx((up.phi2 - um.phi2) / (2 * d)).epsilon(1e-8));
}

TEST_CASE("Eq. 27 is half of Eq. 10's thermophoretic term with g_V = phi_1/sqrt|B|, g_b = |V| phi_2/sqrt|B|") {
  using soret::net::eq27_unit;
  const double b = -0.2, s = 0.9, V = 0.8, c2 = 0.25, eta = 0.1;
  const int B = 3;
  // Eq. 10's term sum_ij g_i g_j d_j g_i / |g_U| over U = {V, b}, derivatives by central differences.
  auto gv = [&](double vv, double bb) { return eq27_unit(bb, s, vv, c2, eta, B).phi1 / std::sqrt(double(B)); };
  auto gb = [&](double vv, double bb) { return std::abs(vv) * eq27_unit(bb, s, vv, c2, eta, B).phi2 / std::sqrt(double(B)); };
  const double h = 1e-5;
  const double GV = gv(V, b), Gb = gb(V, b);
  const double dV_gv = (gv(V + h, b) - gv(V - h, b)) / (2 * h), db_gv = (gv(V, b + h) - gv(V, b - h)) / (2 * h);
  const double dV_gb = (gb(V + h, b) - gb(V - h, b)) / (2 * h), db_gb = (gb(V, b + h) - gb(V, b - h)) / (2 * h);
  const double sum = GV * GV * dV_gv + GV * Gb * db_gv + Gb * GV * dV_gb + Gb * Gb * db_gb;
  const double eq10 = eta * eta * sum / std::sqrt(GV * GV + Gb * Gb);
  const auto u = eq27_unit(b, s, V, c2, eta, B);
  CHECK(eta * eta / B * u.psi == doctest::Approx(eq10 / 2).epsilon(1e-7));
  // The drift of b is the flux's b component: -(eta^2/|B|) psi g_b/|g_U|; it is negative (toward smaller b).
  CHECK(u.b_drift == doctest::Approx(-eta * eta / B * u.psi * Gb / std::sqrt(GV * GV + Gb * Gb)).epsilon(1e-12));
  CHECK(u.b_drift < 0);
  CHECK(u.v2_drift < 0);
}

TEST_CASE("Eq. 8 measured on per-sample steps: correlation 1 exactly when only the sign varies, below 1 otherwise") {
  using namespace soret::net;
  NetConfig c;
  c.M = 5;
  c.N = 3;
  const std::size_t E = 4;
  std::vector<double> W(E * 3 * 5, 0.0), b(E * 3, 0.5), V(E * 3);
  for (std::size_t i = 0; i < V.size(); ++i) V[i] = (i % 2 ? -0.7 : 0.4) + 0.01 * double(i);
  // W = 0: h_i = b_i > 0 for every sample, so (dV_i, s_i db_i) = -(p - y)(b_i, |V_i|): one sign, fixed sizes.
  const auto one = eq8_step_covariance(c, W, b, V, E, 256, 3);
  CHECK(one.networks == 4);
  CHECK(one.corr == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(one.cross == doctest::Approx(one.eq8_cross).epsilon(1e-12));
  // Random W: the sizes vary with x (relu(h) against [h > 0]): the correlation is measurably below 1.
  std::mt19937_64 gen(5);
  std::normal_distribution<double> nd(0.0, 0.5);
  for (auto& w : W) w = nd(gen);
  const auto many = eq8_step_covariance(c, W, b, V, E, 2048, 3);
  CHECK(many.corr < 1 - 5 * many.corr_se);
  CHECK(many.corr > 0);
}

TEST_CASE("--progress always without a terminal: a line per 5 percent, with percentage and ETA") {
  const fs::path d = tmpdir("progress");
  const std::string errf = (d / "err.txt").string();
  const std::string cmd = std::string(SORET_BINARY) + " walk -q --progress always --walkers 2e4 --steps 4000 --threads 2 "
                          "--out " + (d / "w.h5").string() + " >/dev/null 2>" + errf;
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string err = slurp(errf);
  int lines = 0;
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line))
    if (line.find("%") != std::string::npos && line.find("ETA") != std::string::npos) ++lines;
  CHECK(lines >= 5);
  CHECK(err.find('\r') == std::string::npos);
  std::string e2;
  CHECK(run_quiet("walk -q --progress sometimes --out " + (d / "x.h5").string(), &e2) == 2);
  CHECK(e2.find("progress") != std::string::npos);
  fs::remove_all(d);
}

#include "soret/net/scaling.hpp"

// (The name once held a ';', which CTest's doctest discovery splits into two names that match no
// test case: the case ran as two empty tests and its stale expectations went unnoticed.)
TEST_CASE("unresolved fits are flagged and runaway growth is found from the V-norm records") {
  using namespace soret::net;
  PowerFit p;
  p.variable = "batch";
  p.points = 3;
  p.slope = 0.51;
  p.se = 0.84;
  CHECK(p.unresolved());
  CHECK(p.text().find("unresolved") != std::string::npos);
  p.slope = 1.68;
  p.se = 0.03;
  CHECK(!p.unresolved());
  CHECK(p.text() == "|B|^1.68 [1.62, 1.74]");
  Collapse c;
  c.k = {0.0, 1.0, 3.0};
  c.best = 2.76;
  c.ci_lo = 0.10;  // interval 2.88 wide, wider than the value
  c.ci_hi = 2.98;
  c.bootstrap = 10;
  CHECK(c.text().find("unresolved") != std::string::npos);
  c.ci_lo = 2.70;
  CHECK(c.text() == "k = 2.76 [2.70, 2.98]");
  c.at_edge = true;
  CHECK(c.text().find("no collapse in k in [0.00, 3.00]") == 0);
  RunResult r;
  r.t = {0, 10, 20};
  r.diverged_at = {-1, -1, -1};
  // records x networks: network 0 grows 1000x by t = 20, network 1 stays, network 2 diverged (NaN).
  r.v_norm = {1.0, 1.0, 1.0, 50.0, 1.2, NAN, 1000.0, 1.1, NAN};
  const auto ra = runaway_at(r, 100.0);
  CHECK(ra == std::vector<std::int64_t>{20, -1, -1});
}
