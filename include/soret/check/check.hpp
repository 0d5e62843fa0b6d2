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
  /// The paper claim the row bears on (a key of claims(): "eq9", "eq10_thermo", ...; empty: none).
  std::string claim;
  /// A non-gating check of soret's own theory of the walk (a truncated expansion, a continuum
  /// limit): not a statement about the paper, even when it carries a claim key.
  bool own = false;
  /// Convention of the update rule: 0 = g at the start point, the paper's own rule; 1/2 and 1 are
  /// other update rules, and rows at them say nothing about the paper's.
  double alpha = 0;
  /// Step scale of the row (0: not one eta); used to tell a leading-order statement from its remainder.
  double eta = 0;
};

/// One of the paper's claims, with its verdict from the rows of a report.
struct Claim {
  std::string key, name, statement;
  std::string verdict;   ///< "holds", "holds to leading order", "fails", "not tested here"
  std::string evidence;  ///< numbers, with row references "#12"
  std::vector<int> rows; ///< deciding rows (1-based indices into Report::rows)
};


/// Arrays to store per scenario (HDF5 group -> dataset -> values).
using Fields = std::map<std::string, std::map<std::string, std::vector<double>>>;

struct Options {
  bool fast = false;         ///< the fast subset (test suite): fewer walkers and replicas
  int threads = 0;
  std::uint64_t seed = 20261127;
  bool progress = false;
  bool progress_log = false;      ///< progress as one line per few percent (logs) instead of a redrawn line
  std::vector<std::string> only;  ///< scenario names to run (empty: all)
};

struct Report {
  std::vector<Row> rows;
  Fields fields;
  double seconds = 0;
  bool fast = false;
  bool passed() const;
};

/// The paper claims, in the report's order, with verdicts derived from the paper rows at alpha = 0:
/// holds (every such row confirmed); holds to leading order (every refuted row has a confirmed
/// row of the same quantity at a smaller eta: the leading term holds and its remainder is resolved
/// at the larger eta); fails (otherwise); not tested here (no row).
std::vector<Claim> claims(const Report& r);

/// Scenario names, in order: the labels of the report's rows and the names --only takes.
std::vector<std::string> scenario_names();

Report run(const Options& opt);

/// Writes DIR/report.md, DIR/report.json and DIR/fields.h5 (atomically, each).
void write_report(const Report& r, const std::string& dir);

}  // namespace soret::check
