// `soret check`: runs the validation scenarios and writes the report.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "soret/common/mpi.hpp"
#include "soret/check/check.hpp"
#include "soret/common/error.hpp"
#include "soret/io/atomic_file.hpp"
#include "soret/common/progress.hpp"
#include "soret/walk/model.hpp"

namespace po = boost::program_options;

namespace soret::cli {

int check_main(int argc, char** argv) {
  po::options_description desc(
      "soret check: theory-vs-measurement scenarios for the paper's Eq. 9-12 (see validation/THEORY.md)\n"
      "Usage: soret check [options]\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("fast", "the fast subset (fewer walkers; no long stationary runs for alpha != 0)")
    ("only", po::value<std::string>()->default_value(""), "comma-separated scenarios, the report's scenario labels: eq9, thermophoresis, scaling, diffusion, soret, shared, noise (default all seven)")
    ("report", po::value<std::string>()->default_value("soret-check"), "report directory (report.md, report.json, fields.h5)")
    ("seed", po::value<unsigned long long>()->default_value(20261127), "base seed of the replicas")
    ("threads", po::value<int>()->default_value(0), "OpenMP threads (0: all)")
    ("progress", po::value<std::string>()->default_value("auto"), "always | auto (on a terminal) | never; without a terminal, always prints a line per 5%")
    ("quiet,q", "no table on stdout (and no progress unless --progress always)");
  // clang-format on
  po::variables_map vm;
  if (!parse_options(desc, argc, argv, vm)) return 0;
  check::Options opt;
  opt.fast = vm.count("fast") > 0;
  opt.seed = vm["seed"].as<unsigned long long>();
  opt.threads = threads_option(vm);
  const bool quiet = vm.count("quiet") > 0;
  const auto pm = progress_mode(vm["progress"].as<std::string>(), quiet);
  opt.progress = pm.enabled && mpi::root();
  opt.progress_log = pm.log;
  const auto names = check::scenario_names();
  for (const auto& s : split(vm["only"].as<std::string>(), ',')) {
    if (s.empty()) continue;
    if (std::find(names.begin(), names.end(), s) == names.end())
      throw InputError("only", "--only: unknown scenario '" + s + "'");
    opt.only.push_back(s);
  }
  const auto dir = vm["report"].as<std::string>();
  mpi::agreed([&] { io::check_output_dir(dir, "report"); });  // before the run (rank 0 writes; every rank stops)
  // MPI ranks: every replica's walkers are split over the ranks; every rank computes the rows,
  // rank 0 writes the report and prints.
  const auto rep = check::run(opt);
  if (!mpi::root()) return rep.passed() ? 0 : 1;
  check::write_report(rep, dir);
  if (!quiet) {
    // The verdicts on the paper's claims first, then every row, in columns as wide as their widest cell.
    std::printf("What holds of the paper (rows at alpha = 0, the paper's update rule; details in %s/report.md):\n",
                dir.c_str());
    size_t wn = 5;
    for (const auto& c : check::claims(rep)) wn = std::max(wn, c.name.size());
    for (const auto& c : check::claims(rep))
      std::printf("  %-*s  %s\n", int(wn), c.name.c_str(), c.verdict.c_str());
    std::vector<std::vector<std::string>> t = {{"#", "scenario", "quantity", "compared with", "kind", "z / value", "verdict"}};
    int gating = 0, failed = 0;
    for (size_t i = 0; i < rep.rows.size(); ++i) {
      const auto& r = rep.rows[i];
      if (r.gating) { ++gating; failed += r.verdict != "pass"; }
      char v[32];
      std::snprintf(v, sizeof v, "%s%.3g", r.theory_only ? "value " : "z ", r.theory_only ? r.measured : r.z);
      const std::string kind = r.gating ? "gating" : (r.own || r.theory_only || r.claim.empty()) ? "soret theory"
                               : r.alpha != 0 ? "paper, other rule" : "paper";
      t.push_back({std::to_string(i + 1), r.scenario, r.quantity, r.equation, kind, v, r.verdict});
    }
    std::vector<size_t> w(t[0].size(), 0);
    for (const auto& row : t)
      for (size_t k = 0; k < row.size(); ++k) w[k] = std::max(w[k], row[k].size());
    std::printf("\n");
    for (size_t i = 0; i < t.size(); ++i) {
      std::string line;
      for (size_t k = 0; k < t[i].size(); ++k) {
        std::string cell = t[i][k];
        if (k + 1 < t[i].size()) cell.resize(w[k], ' ');
        line += (k ? "  " : "") + cell;
      }
      std::printf("%s\n", line.c_str());
    }
    std::printf("soret check: %d gating comparisons, %d failed; %.1f s; report in %s/\n", gating, failed, rep.seconds,
                dir.c_str());
  }
  return rep.passed() ? 0 : 1;
}

}  // namespace soret::cli
