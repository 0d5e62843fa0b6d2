#pragma once
// The integrator: advances an ensemble of walkers under a WalkModel and feeds the observers.
//
// Walkers are stored as structure of arrays and processed in fixed blocks of `block` walkers;
// a block is copied to thread-local buffers and stepped through a chunk of up to `chunk` steps
// while it sits in L1/L2 (cache blocking in time). Blocks are independent: each walker's noise
// comes from its own counter-based stream, and histograms are integer counts, so results are
// bit-identical for any thread count.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "soret/common/expression.hpp"
#include "soret/walk/init.hpp"
#include "soret/walk/model.hpp"
#include "soret/walk/observers.hpp"
#include "soret/walk/profile.hpp"

namespace soret {

struct RunOptions {
  std::uint64_t walkers = 1000000;
  std::uint64_t steps = 1000;
  std::uint64_t seed = 1;
  int threads = 0;       ///< 0: OpenMP default
  bool progress = false; ///< progress line with ETA on stderr
  int block = 512;       ///< walkers per block
  int chunk = 256;       ///< steps per block visit
  int flux_pair_k = -1;  ///< fast-path jump range in cells for flux counting (-1: auto; 0: all exact slow path)
};

class WalkEngine {
 public:
  /// Compiles the expressions, checks them on the domain grid; throws InputError.
  WalkEngine(WalkModel model, ObserverPlan plan, InitSpec init, RunOptions opt,
             const StoredEnsemble* stored = nullptr);
  ~WalkEngine();

  WalkResults run();

  const WalkModel& model() const { return model_; }
  const ObserverPlan& plan() const { return plan_; }
  const RunOptions& options() const { return opt_; }
  /// How each g_i and drift a_i is evaluated ("cubic-table T=1024 err<=3e-14", "exact", ...).
  std::vector<std::string> g_evaluation() const;
  std::vector<std::string> drift_evaluation() const;
  /// Largest measured tabulation error of the g_i.
  double g_table_error() const;

 private:
  struct Impl;
  WalkModel model_;
  ObserverPlan plan_;
  InitSpec init_;
  RunOptions opt_;
  const StoredEnsemble* stored_;
  std::vector<std::unique_ptr<Expression>> g_expr_, drift_expr_;
  std::vector<FastFunction> g_fast_, drift_fast_;
};

}  // namespace soret
