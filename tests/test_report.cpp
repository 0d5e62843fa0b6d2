// The check report: verdicts per paper claim, valid Markdown tables, the command's stdout.
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

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
