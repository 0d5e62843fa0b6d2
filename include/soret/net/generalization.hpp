#pragma once
// The paper's link from the thermophoretic drift to generalization (Appendix A.5), measured
// (issue 12): for the runs of an eta x |B| sweep with a finite training set, a held-out set and
// the Hessian at the records (train_deep with DeepOptions::set_metrics, test, hessian_every),
// every network is compared at a matched training loss, not at a matched step.
//
// Matched loss: per run, the median over its networks of the lowest training loss any record
// reached; the target L* is the largest of these medians (so at least half of every run's
// networks reach it). A network's matched record is its first record with train_loss <= L* and
// a Hessian; networks that never reach it are counted and left out.
//
// At the matched record, per network: u = log(eta^2 / |B|), the activation rate (mean over the
// hidden layers, S record samples), the Frobenius norm of the first and of the last layer's
// weights, Tr H (exact: the Gauss-Newton trace, equal to Tr H for ReLU nets, THEORY.md), its
// Hutchinson estimate, the Eq. 62 bound, test error and test loss.
// Trends: least-squares slopes of each quantity against u over the matched networks of all runs,
// with standard errors from the residuals; a slope is "resolved" when |slope / se| >= 3.
// Explanation: the slope of test error against u alone and with the activation rate and both
// weight norms as further regressors (multiple least squares): if the first is resolved and the
// second is not, the activation rate and weight norms account for it.
// The bound: over every record with a Hessian (every network, every run), the fraction where
// eq62_bound >= the exact trace, and the quantiles of bound / trace.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "soret/net/deep_trainer.hpp"

namespace soret::net {

struct Slope {
  double slope = 0, se = 0;
  int n = 0;
  bool resolved() const { return n > 2 && se > 0 && std::abs(slope) >= 3 * se; }
};

struct MatchedRun {
  std::string name;
  double eta = 0;
  int batch = 1;
  double x = 0;                ///< eta^2 / |B|
  int networks = 0, matched = 0;
  // mean and SE over the matched networks
  double step = 0, act = 0, act_se = 0, wn_first = 0, wn_first_se = 0, wn_last = 0, wn_last_se = 0;
  double trace = 0, trace_se = 0, hutch = 0, hutch_se = 0, bound = 0, bound_se = 0;
  double test_error = 0, test_error_se = 0, test_loss = 0, test_loss_se = 0, train_loss = 0;
};

struct Generalization {
  double target_loss = 0;      ///< L*
  std::vector<MatchedRun> runs;
  /// Per matched network (run order, then network): the quantities above, and its run index.
  std::vector<double> u, act, wn_first, wn_last, trace, hutch, bound, test_error, test_loss, step;
  std::vector<std::int64_t> run_of, network;
  Slope act_vs_u, wn_first_vs_u, wn_last_vs_u, trace_vs_u, test_error_vs_u;
  Slope test_error_vs_u_controlled;  ///< with act, wn_first, wn_last as further regressors
  /// Pearson correlations among (u, act, wn_last, trace, test_error) over the matched networks.
  std::vector<std::string> corr_names;
  std::vector<double> corr;  ///< 5 x 5
  // The Eq. 62 bound over every record with a Hessian
  std::int64_t bound_records = 0, bound_holds = 0, paper_below = 0;
  double ratio_min = 0, ratio_median = 0, ratio_max = 0;
  /// Hutchinson against the exact trace: mean and largest |z| of (hutch - exact) / se.
  double hutch_z_mean = 0, hutch_z_max = 0;
};

/// The analysis of one sweep's runs (they need train_loss, test_error and the Hessian columns).
Generalization analyse_generalization(const std::vector<DeepRun>& runs);

/// Least squares y = b0 + sum_j b_j X_j; returns the coefficient of X_0 with its standard error.
Slope least_squares(const std::vector<std::vector<double>>& X, const std::vector<double>& y);

}  // namespace soret::net
