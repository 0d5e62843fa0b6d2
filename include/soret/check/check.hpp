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

/// A gating row passes when |z| < kGateZ, z = (measured - predicted) / SE with the SE of the mean
/// of kReplicas independent replicas. Under the null hypothesis z follows Student's t with
/// kReplicas - 1 = 15 degrees of freedom (not a normal law: the SE is itself estimated), so the
/// false-alarm rate of one correct row is P(|t_15| >= 5) = kGateFalseAlarm = 1.58e-4 (a normal
/// law would give 5.7e-7; matching that would need |t| < 8.27). With ~50 gating rows a correct
/// simulator fails a full check about once in 130 runs. A row with SE = 0 (identical replicas)
/// fails. validation/zscore_sweep.py checks the distribution of z over seeds.
inline constexpr double kGateZ = 5.0;
inline constexpr int kReplicas = 16;
inline constexpr double kGateFalseAlarm = 1.584e-4;

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
