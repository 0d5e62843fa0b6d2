#pragma once
// `soret check`: named theory-vs-measurement scenarios (issue 3 of the project; derivations in
// validation/THEORY.md). Each scenario runs the walk engine on fixed seeds with independent
// replicas, measures with the engine's observers, and compares each measured quantity with each
// prediction: z = (measured - predicted) / SE, SE from the spread of the replicas.
//
// Rows are of two kinds:
//  - gating: the simulator against the controlled theory of the walk; the suite passes when every
//    gating row has |z| < 5;
//  - paper:  a paper equation against the measurement; its verdict (confirmed / refuted) is a
//    result, not a pass/fail of the suite.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace soret::check {

struct Row {
  std::string scenario, quantity, equation;  ///< equation: "Eq. 9", "controlled", ...
  double measured = 0, se = 0;               ///< se = 0: a theory-only row
  std::string prediction;                    ///< name of the prediction
  double predicted = 0;
  double z = 0;
  bool gating = false;
  bool theory_only = false;  ///< a prediction checked against another prediction (no Monte Carlo)
  std::string verdict;  ///< "pass"/"FAIL" for gating rows; "confirmed"/"refuted"/... for paper rows
  std::string note;
};

/// Arrays to store per scenario (HDF5 group -> dataset -> values).
using Fields = std::map<std::string, std::map<std::string, std::vector<double>>>;

struct Options {
  bool fast = false;         ///< the fast subset (test suite): fewer walkers and replicas
  int threads = 0;
  std::uint64_t seed = 20261127;
  bool progress = false;
  std::vector<std::string> only;  ///< scenario names to run (empty: all)
};

struct Report {
  std::vector<Row> rows;
  Fields fields;
  double seconds = 0;
  bool fast = false;
  bool passed() const;
};

/// Scenario names, in order.
std::vector<std::string> scenario_names();

Report run(const Options& opt);

/// Writes DIR/report.md, DIR/report.json and DIR/fields.h5 (atomically, each).
void write_report(const Report& r, const std::string& dir);

}  // namespace soret::check
