// `soret check`: runs the validation scenarios and writes the report.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "soret/check/check.hpp"
#include "soret/common/error.hpp"
#include "soret/io/atomic_file.hpp"
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
    ("only", po::value<std::string>()->default_value(""), "comma-separated scenarios: eq9, diffusion, soret, shared, noise (default all)")
    ("report", po::value<std::string>()->default_value("soret-check"), "report directory (report.md, report.json, fields.h5)")
    ("seed", po::value<unsigned long long>()->default_value(20261127), "base seed of the replicas")
    ("threads", po::value<int>()->default_value(0), "OpenMP threads (0: all)")
    ("quiet,q", "no progress and no table on stdout");
  // clang-format on
  po::variables_map vm;
  if (!parse_options(desc, argc, argv, vm)) return 0;
  check::Options opt;
  opt.fast = vm.count("fast") > 0;
  opt.seed = vm["seed"].as<unsigned long long>();
  opt.threads = threads_option(vm);
  const bool quiet = vm.count("quiet") > 0;
  opt.progress = !quiet && ::isatty(2);
  const auto names = check::scenario_names();
  for (const auto& s : split(vm["only"].as<std::string>(), ',')) {
    if (s.empty()) continue;
    if (std::find(names.begin(), names.end(), s) == names.end())
      throw InputError("only", "--only: unknown scenario '" + s + "'");
    opt.only.push_back(s);
  }
  const auto dir = vm["report"].as<std::string>();
  io::check_output_dir(dir, "report");  // before the run, not after it
  const auto rep = check::run(opt);
  check::write_report(rep, dir);
  if (!quiet) {
    int gating = 0, failed = 0;
    for (const auto& r : rep.rows) {
      if (r.gating) { ++gating; failed += r.verdict != "pass"; }
      std::printf("%-34.34s %-46.46s %-30.30s %s=%9.3g  %s\n", r.scenario.c_str(), r.quantity.c_str(),
                  r.equation.c_str(), r.theory_only ? "value" : "z", r.theory_only ? r.measured : r.z,
                  r.verdict.c_str());
    }
    std::printf("soret check: %d gating comparisons, %d failed; %.1f s; report in %s/\n", gating, failed, rep.seconds,
                dir.c_str());
  }
  return rep.passed() ? 0 : 1;
}

}  // namespace soret::cli
