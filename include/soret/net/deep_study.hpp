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
  std::vector<double> etas;
  std::vector<int> batches;
  DeepOptions opt;
  int bootstrap = 200;
};

struct DeepSweepOutput {
  std::vector<DeepRun> runs;
  /// quantities "grad_var", "grad_var_layer:<layer>", "activation_rate_layer:<layer>",
  /// "weight_norm_layer:<layer>" (suffix _B=... or _eta=...), along eta and |B|
  std::vector<Collapse> collapses;
};

/// Runs every (eta, |B|) of the sweep (the same initial networks and data streams in each: common
/// random numbers); prints a line per run unless quiet.
DeepSweepOutput run_deep_sweep(const DeepSweep& s, bool quiet);

/// The collapse analyses of a finished sweep.
std::vector<Collapse> deep_collapses(const DeepSweep& s, const std::vector<DeepRun>& runs);

/// Run name of a sweep point: "eta=0.05_B=1".
std::string run_name(double eta, int batch);

/// Text summary: speeds, divergences, first/last gradient variance, collapse exponents.
std::string deep_summary(const DeepSweep& s, const DeepSweepOutput& o);

}  // namespace soret::net
