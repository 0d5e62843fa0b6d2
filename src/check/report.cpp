// Report of `soret check`: Markdown and JSON tables, and the fields in HDF5.
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include "soret/check/check.hpp"
#include "soret/common/error.hpp"
#include "soret/io/atomic_file.hpp"
#include "soret/io/hdf5.hpp"
#include "soret/io/walk_output.hpp"
#include "soret/version.hpp"

namespace soret::check {

namespace {

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\';
    o += ch;
  }
  return o + "\"";
}


std::string md_cell(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '|') o += "\\|";
    else if (ch == '\n') o += ' ';
    else o += ch;
  }
  return o;
}

std::string md_row(const std::vector<std::string>& cells) {
  std::string o = "|";
  for (const auto& c : cells) o += " " + md_cell(c) + " |";
  return o + "\n";
}

std::string zfmt(double z) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", z);
  return b;
}

std::string link(int id) { return "[#" + std::to_string(id) + "](#row-" + std::to_string(id) + ")"; }

/// "J profile, eta=0.08" -> "J profile": the quantity without its step scale.
std::string base_quantity(const std::string& q) {
  const auto p = q.find(", eta=");
  return p == std::string::npos ? q : q.substr(0, p);
}

std::string rule_of(const Row& row) {
  if (row.gating) return "";
  if (row.alpha == 0) return "alpha=0 (the paper's)";
  return "alpha=" + num(row.alpha) + " (another rule)";
}

std::string kind_of(const Row& row) {
  if (row.gating) return "gating";
  if (row.own || row.theory_only || row.claim.empty()) return "soret theory";
  return "paper";
}

const std::vector<std::string> kHeader = {"#", "scenario", "quantity", "compared with", "measured", "SE", "prediction",
                                          "predicted", "z", "kind", "update rule", "verdict", "note"};

std::string table(const Report& r, const std::function<bool(const Row&)>& keep) {
  std::string o = md_row(kHeader);
  o += "|";
  for (size_t i = 0; i < kHeader.size(); ++i) o += "---|";
  o += "\n";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const auto& row = r.rows[i];
    if (!keep(row)) continue;
    const int id = int(i) + 1;
    // The anchor is HTML (not escaped by md_cell: it has no '|').
    o += "| <a id=\"row-" + std::to_string(id) + "\"></a>" + std::to_string(id) + " |";
    const std::vector<std::string> cells = {row.scenario, row.quantity, row.equation, num(row.measured),
                                            row.se > 0 ? num(row.se) : "-", row.prediction, num(row.predicted),
                                            row.theory_only ? "-" : num(row.z), kind_of(row), rule_of(row),
                                            row.verdict, row.note};
    for (const auto& c : cells) o += " " + md_cell(c) + " |";
    o += "\n";
  }
  return o;
}

}  // namespace

std::vector<Claim> claims(const Report& r) {
  struct Def { const char* key; const char* name; const char* statement; };
  const Def defs[] = {
      {"eq9", "Eq. 9", "Delta+ - Delta- = 2 eta^2 sum_j g_j d_j g_i + O(eta^3) (one axis: 2 eta^2 g g')"},
      {"eq10_thermo", "Eq. 10, thermophoretic term", "the flux contains -eta^2 g g' rho (for the paper's update: g at the start point)"},
      {"eq10_diff", "Eq. 10, diffusion term", "the flux contains -eta^2 g^2 rho' (D = eta^2 g^2)"},
      {"law_1g", "zero flux => rho ~ 1/g", "Eq. 10 at J = 0 gives the stationary density rho ~ 1/g (Soret coefficient S_T T = 1/2)"},
      {"eq11", "Eq. 11", "c <= 0: the drift goes toward smaller g"},
      {"a4", "App. A.4", "c = +eta^2 g g'/2"},
      {"j_eta2", "J ~ eta^2", "the thermophoretic flux scales as eta^2"},
      {"shared", "shared-sign case (|U| = 2, 3)", "Eqs. 9-10 for coordinates sharing one sign, as fluxes through the planes q_i = const"},
      {"eq8", "Eq. 8", "SGD's step reduces to q_i <- q_i - eta g_i zeta_i with one sign zeta shared within U"}};
  std::vector<Claim> out;
  for (const auto& d : defs) {
    Claim c;
    c.key = d.key;
    c.name = d.name;
    c.statement = d.statement;
    std::vector<int> conf, refu, other, own;
    for (size_t i = 0; i < r.rows.size(); ++i) {
      const auto& row = r.rows[i];
      if (row.claim != c.key || row.gating) continue;
      const int id = int(i) + 1;
      if (row.own || row.theory_only) own.push_back(id);
      else if (row.alpha != 0) other.push_back(id);
      else (row.verdict == "confirmed" ? conf : refu).push_back(id);
    }
    auto at = [&](int id) -> const Row& { return r.rows[size_t(id - 1)]; };
    std::string ev;
    if (conf.empty() && refu.empty()) {
      c.verdict = "not tested here";
      ev = c.key == "eq8" ? "soret check simulates Eq. 8 itself (its walks are the reduced walk by construction); "
                            "whether SGD's steps have this form is measured by soret net (step covariance)"
                          : "no row in this report (scenario not run)";
    } else {
      bool leading = !refu.empty();
      for (int id : refu) {
        const Row& x = at(id);
        bool found = false;
        for (int k : conf)
          found = found || (at(k).equation == x.equation && base_quantity(at(k).quantity) == base_quantity(x.quantity) &&
                            at(k).eta > 0 && at(k).eta < x.eta);
        leading = leading && x.eta > 0 && found;
      }
      c.verdict = refu.empty() ? "holds" : leading ? "holds to leading order" : "fails";
      if (!conf.empty()) {
        double zmax = 0;
        for (int id : conf) zmax = std::max(zmax, std::abs(at(id).z));
        ev += (leading ? "leading order confirmed in " : "confirmed in ") + std::to_string(conf.size()) +
              " row(s), |z| <= " + zfmt(zmax) + ":";
        for (int id : conf) ev += " " + link(id);
      }
      if (!refu.empty()) {
        ev += ev.empty() ? "" : "; ";
        ev += leading ? "its higher-order remainder resolved at larger eta:" : "refuted in " + std::to_string(refu.size()) + " row(s):";
        for (size_t k = 0; k < refu.size(); ++k) {
          const Row& x = at(refu[k]);
          ev += (k ? ", " : " ") + link(refu[k]) + (k == 0 ? " " + x.quantity + " vs " + x.equation : "") +
                " (z = " + zfmt(x.z) + ")";
        }
      }
      c.rows = conf;
      c.rows.insert(c.rows.end(), refu.begin(), refu.end());
    }
    if (!other.empty()) {
      ev += "; other update rules (statements about them, not about the paper's rule):";
      for (size_t k = 0; k < other.size(); ++k)
        ev += (k ? ", " : " ") + link(other[k]) + " alpha=" + num(at(other[k]).alpha) + " " + at(other[k]).verdict +
              " (z = " + zfmt(at(other[k]).z) + ")";
    }
    if (!own.empty()) {
      ev += "; soret's theory of the walk:";
      for (size_t k = 0; k < own.size(); ++k) {
        const int id = own[k];
        const Row& x = at(id);
        ev += (k ? ", " : " ") + link(id) + " " + x.equation + " " + x.verdict +
              (x.theory_only ? " (value " + zfmt(x.measured) + " vs " + x.prediction + ")" : " (z = " + zfmt(x.z) + ")");
      }
    }
    c.evidence = ev;
    out.push_back(c);
  }
  return out;
}

void write_report(const Report& r, const std::string& dir) {
  io::check_output_dir(dir, "report");

  int gating = 0, failed = 0;
  for (const auto& row : r.rows)
    if (row.gating) { ++gating; failed += row.verdict != "pass"; }
  std::ostringstream md;
  md << "# soret check report\n\n"
     << "soret " << soret::version << ", " << (r.fast ? "fast subset" : "full suite") << ", "
     << num(r.seconds) << " s. Simulator against soret's theory of the walk: **" << (r.passed() ? "PASSED" : "FAILED")
     << "** (" << gating << " gating rows, " << failed << " with |z| >= 5).\n\n"
     << "## What holds of the paper\n\n"
     << "Verdicts on the paper's claims from the rows that test the paper's own update rule (g taken at the start "
        "point, alpha = 0): **holds** (every such row confirmed, |z| < 5), **holds to leading order** (confirmed at "
        "small eta; the remainder beyond the leading term is resolved at a larger eta), **fails** (refuted, |z| >= 5, "
        "where no smaller eta confirms it). #N links to a row below.\n\n";
  md << md_row({"claim", "the paper says", "verdict", "deciding rows"}) << "|---|---|---|---|\n";
  for (const auto& c : claims(r)) {
    // Links contain no '|'; escape the text parts only.
    md << "| " << md_cell(c.name) << " | " << md_cell(c.statement) << " | **" << c.verdict << "** | "
       << md_cell(c.evidence) << " |\n";
  }
  md << "\nz = (measured - predicted) / SE, SE from 16 independent replicas: z follows Student's t with 15 degrees of "
        "freedom, so a correct row fails |z| < 5 with probability 1.6e-4 (a row with SE = 0 fails). Profile rows: Hotelling T^2 on 6 "
        "Fourier modes with the replica covariance, z = normal quantile of its F-test p-value (measured: T^2, "
        "predicted: K = 6). Rows at alpha = 1/2 (midpoint) and alpha = 1 (end point) test other update rules than "
        "the paper's: a refutation there is a statement about those rules.\n\n"
     << "## Rows on the paper's claims\n\n"
     << table(r, [](const Row& x) { return kind_of(x) == "paper"; })
     << "\n## Gating rows: the simulator against soret's theory of the walk (validation/THEORY.md)\n\n"
     << table(r, [](const Row& x) { return x.gating; })
     << "\n## soret's own theory, not gating (truncated expansions and continuum limits; differs = the "
        "neglected higher order is resolved)\n\n"
     << table(r, [](const Row& x) { return kind_of(x) == "soret theory"; });
  // The three files replace their predecessors together: all are written (every write checked,
  // fsync) before any is renamed into place, so a full disk leaves the previous report whole.
  io::AtomicOutput md_file(dir + "/report.md", "report");
  md_file.write(md.str());
  md_file.prepare();

  std::ostringstream js;
  js << "{\n  \"program\": \"soret\",\n  \"version\": " << json_str(soret::version) << ",\n  \"fast\": "
     << (r.fast ? "true" : "false") << ",\n  \"seconds\": " << num(r.seconds) << ",\n  \"passed\": "
     << (r.passed() ? "true" : "false") << ",\n  \"rows\": [\n";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const auto& row = r.rows[i];
    js << "    {\"scenario\": " << json_str(row.scenario) << ", \"quantity\": " << json_str(row.quantity)
       << ", \"equation\": " << json_str(row.equation) << ", \"measured\": " << num(row.measured)
       << ", \"se\": " << num(row.se) << ", \"prediction\": " << json_str(row.prediction)
       << ", \"predicted\": " << num(row.predicted) << ", \"z\": " << num(row.z)
       << ", \"gating\": " << (row.gating ? "true" : "false")
       << ", \"theory_only\": " << (row.theory_only ? "true" : "false") << ", \"verdict\": " << json_str(row.verdict)
       << ", \"claim\": " << json_str(row.claim) << ", \"own\": " << (row.own ? "true" : "false")
       << ", \"alpha\": " << num(row.alpha) << ", \"eta\": " << num(row.eta)
       << ", \"note\": " << json_str(row.note) << "}" << (i + 1 < r.rows.size() ? "," : "") << "\n";
  }
  js << "  ],\n  \"claims\": [\n";
  const auto cl = claims(r);
  for (size_t i = 0; i < cl.size(); ++i) {
    js << "    {\"key\": " << json_str(cl[i].key) << ", \"name\": " << json_str(cl[i].name)
       << ", \"verdict\": " << json_str(cl[i].verdict) << ", \"rows\": [";
    for (size_t k = 0; k < cl[i].rows.size(); ++k) js << (k ? ", " : "") << cl[i].rows[k];
    js << "], \"evidence\": " << json_str(cl[i].evidence) << "}" << (i + 1 < cl.size() ? "," : "") << "\n";
  }
  js << "  ]\n}\n";
  io::AtomicOutput json_file(dir + "/report.json", "report");
  json_file.write(js.str());
  json_file.prepare();

  h5::AtomicFile f(dir + "/fields.h5", "report");
  write_h5md_header(f.id(), "check");
  h5::attr(f.id(), "fast", std::int64_t(r.fast));
  for (const auto& [group, sets] : r.fields) {
    // Nested group path: create each level.
    std::string path;
    std::vector<h5::Handle> held;
    hid_t loc = f.id();
    std::stringstream ss(group);
    std::string part;
    while (std::getline(ss, part, '/')) {
      path += "/" + part;
      held.push_back(h5::exists(f.id(), path) ? h5::open_group(f.id(), path) : h5::create_group(loc, part));
      loc = held.back().id();
    }
    for (const auto& [name, v] : sets) h5::write(loc, name, v, {hsize_t(v.size())});
  }
  f.prepare();
  md_file.publish();
  json_file.publish();
  f.publish();
}

}  // namespace soret::check
