#pragma once
// A sweep of the generic backend over learning rates and batch sizes, and its analysis: the
// rescaled-time collapse of the gradient variance (all parameters, and per layer).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "soret/net/deep_trainer.hpp"
#include "soret/net/scaling.hpp"

namespace soret::net {

struct DeepSweep {
  std::string name;
  std::shared_ptr<const Architecture> arch;
  std::shared_ptr<const Dataset> train, eval;
  std::shared_ptr<const Dataset> test;  ///< held-out set (--test-size), or null
  std::vector<double> etas;
  std::vector<int> batches;
  DeepOptions opt;
  int bootstrap = 200;
  /// Early-time window of the rate fits (slope at t = 0 of per-network quadratics over t <= early);
  /// 0: max(6 K, steps / 10), as the two-layer study.
  std::uint64_t early = 0;
  std::uint64_t early_window() const;
};

struct DeepSweepOutput {
  std::vector<DeepRun> runs;
  /// quantities "grad_var", "grad_var_layer:<layer>", "activation_rate_layer:<layer>",
  /// "weight_norm_layer:<layer>" (suffix _B=... or _eta=...), along eta and |B|
  std::vector<Collapse> collapses;
  /// early-time rates of "grad_var" and "grad_var_layer:<layer>" per run, and their power laws
  /// (log|rate| vs log eta per |B|, suffix _B=...; vs log |B| per eta, suffix _eta=...)
  std::vector<EarlyRate> rates;
  std::vector<PowerFit> fits;
};

/// Runs every (eta, |B|) of the sweep (the same initial networks and data streams in each: common
/// random numbers); prints a line per run unless quiet.
DeepSweepOutput run_deep_sweep(const DeepSweep& s, bool quiet);

/// The collapse analyses of a finished sweep.
std::vector<Collapse> deep_collapses(const DeepSweep& s, const std::vector<DeepRun>& runs);

/// The early-time rates and power fits of a finished sweep (into o.rates, o.fits).
void deep_rates(const DeepSweep& s, DeepSweepOutput& o);

/// Run name of a sweep point: "eta=0.05_B=1".
std::string run_name(double eta, int batch);

/// The progress line of a finished run on stdout: its time, network-steps per second, the records'
/// share of the thread time (its record_seconds sum every rank's threads) and its divergences.
void print_run_line(const DeepRun& r, const DeepOptions& opt);

/// The SGD runs of an eta x |B| sweep, in the order of every sweep's file: |B| outer, eta inner.
std::vector<RunSpec> sweep_specs(const std::vector<double>& etas, const std::vector<int>& batches);

/// Text summary: speeds, divergences, first/last gradient variance, collapse exponents.
std::string deep_summary(const DeepSweep& s, const DeepSweepOutput& o);

}  // namespace soret::net
