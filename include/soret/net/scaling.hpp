#pragma once
// Scaling analysis of a sweep: rescaled-time collapse exponents and early-time rates.
#include <cstdint>
#include <string>
#include <vector>

#include "soret/net/trainer.hpp"

namespace soret::net {

/// A record-by-network field of a run (e.g. activation_rate).
using Field = std::vector<double> RunResult::*;

struct Collapse {
  std::string quantity, variable;  ///< variable: "eta" (tau = t eta^k) or "batch" (tau = t / B^k)
  std::vector<double> k;           ///< exponent grid
  std::vector<double> metric;      ///< spread between curves at equal tau, in units of their SE^2
  double best = 0, ci_lo = 0, ci_hi = 0;  ///< best exponent and bootstrap 95% interval
  int bootstrap = 0;
  /// The best exponent is an end of the grid: no collapse in the range searched (best and the
  /// interval are then not estimates and are not reported as such).
  bool at_edge = false;
  /// "k = 1.94 [1.92, 1.96]", "k = 2.76 [0.40, 2.98] (unresolved: ...)" when the interval is wider
  /// than the value, or "no collapse in k in [0.00, 3.00]" at an end of the searched range.
  std::string text() const;
};

/// A records x networks series of one run of a sweep (NaN = diverged), for the analyses.
struct Series {
  double eta = 0;
  int batch = 1;
  std::vector<std::uint64_t> t;  ///< record steps
  std::vector<double> v;         ///< records x networks
  std::size_t networks = 0;
};

/// As below, on series of any trainer.
Collapse collapse(const std::vector<Series>& runs, const std::string& quantity, const std::string& variable, bool square,
                  int bootstrap, std::uint64_t seed);

/// Collapse of the ensemble-mean curves of `runs` (which differ in `variable`) under
/// tau = t * s^k, s = eta or 1/B; metric(k) = mean over 40 tau points of
/// sum_c (m_c - m_bar)^2 / se_c^2 / (C - 1). Networks are resampled jointly across runs
/// (common random numbers) for the bootstrap interval.
Collapse collapse(const std::vector<const RunResult*>& runs, Field f, const std::string& quantity,
                  const std::string& variable, bool square, int bootstrap, std::uint64_t seed);

struct EarlyRate {
  std::string run, quantity;
  double eta = 0;
  int batch = 0;
  double rate = 0, se = 0;  ///< slope at t = 0 of a per-network quadratic fit over t <= t_end, mean and SE
  std::uint64_t t_end = 0;
};

/// Early-time rate: the slope at t = 0 of a least-squares quadratic fitted per network to the records
/// with t <= t_end; mean and standard error over networks.
EarlyRate early_rate(const RunResult& r, Field f, const std::string& quantity, bool square, std::uint64_t t_end);
/// The same on a series of any trainer (NaN = diverged: that network is left out).
EarlyRate early_rate(const Series& s, const std::string& run, const std::string& quantity, bool square,
                     std::uint64_t t_end);

struct PowerFit {
  std::string quantity, variable;
  double slope = 0, se = 0;  ///< log|rate| vs log(variable), weighted least squares
  int points = 0;            ///< rates used (nonzero, finite, with a positive SE)
  /// The 95% interval (slope +- 1.96 se) is wider than |slope|, or there are fewer than 2 points:
  /// the exponent is not resolved and is not reported as an estimate.
  bool unresolved() const { return !(points >= 2 && 2 * 1.96 * se <= std::abs(slope)); }
  /// "eta^-1.93 [-2.05, -1.81]" or "unresolved: eta^0.31 +- 0.80 (95% interval wider than the value)".
  std::string text() const;
};

/// Runaway growth (divergence without an overflow): per network, the first record step at which
/// ||V||_2 exceeds `factor` times its value at t = 0, or -1. NaN records (networks that diverged
/// by the non-finite/|parameter| > blowup criterion) are skipped.
std::vector<std::int64_t> runaway_at(const RunResult& r, double factor);
PowerFit power_fit(const std::vector<EarlyRate>& rates, const std::string& variable);

}  // namespace soret::net
