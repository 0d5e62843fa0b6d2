#pragma once
// The integrator: advances an ensemble of walkers under a WalkModel and hands every step of every
// block of walkers to the observers.
//
// Walkers are stored as structure of arrays and processed in fixed blocks of `block` walkers;
// a block is copied to thread-local buffers and stepped through a chunk of up to `chunk` steps
// while it sits in L1/L2 (cache blocking in time). One step of a block is: noise -> g -> update
// -> boundaries (this file), then the observers (observers.hpp). Blocks are independent: each
// walker's noise comes from its own counter-based stream keyed on (walker id, absolute step), and
// every accumulator is an integer, so results are bit-identical for any thread count, block size
// and chunk length.
//
// Two integrators compute the same numbers:
//  - fused: one SIMD pass per axis does sign -> g (piecewise polynomial in registers) -> update
//    -> periodic wrap or reflecting test -> cells. Used for Rademacher noise, alpha = 0, no drift,
//    periodic or reflecting axes whose g is constant or a function of the axis' own coordinate,
//    steps shorter than the domain, and no step statistics;
//  - general: everything else (other noises, alpha > 0, drift, absorbing and free boundaries,
//    multi-variable g, step statistics), pass by pass.
// Both apply the same arithmetic in the same order, so a model both can run gives bit-identical
// results on either (tested).
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
#include "soret/walk/state.hpp"

namespace soret {

struct RunOptions {
  std::uint64_t walkers = 1000000;     ///< walkers simulated here: global ids first_walker .. first_walker + walkers - 1
  std::uint64_t first_walker = 0;      ///< global id of the first (noise and initial positions are keyed on global ids)
  bool split_over_ranks = false;       ///< this run's walkers are split over the MPI ranks (soret walk)
  std::uint64_t total_walkers = 0;     ///< walkers of the whole run over all MPI ranks (0: = walkers). With
                                       ///< split_over_ranks (common/mpi.hpp) each rank runs its range and rank 0
                                       ///< receives the reduced results; its range must start at a multiple
                                       ///< of kMomentGroup (mpi::split) so that moments combine as in one process
  std::uint64_t steps = 1000;          ///< steps of this run: absolute steps t_begin .. t_begin + steps
  std::uint64_t t_begin = 0;           ///< absolute step of the initial state (noise is keyed on absolute steps)
  std::uint64_t seed = 1;
  int threads = 0;       ///< 0: OpenMP default
  bool progress = false; ///< progress line with ETA on stderr
  int block = 0;         ///< walkers per block (0: auto_block)
  int chunk = 256;       ///< steps per block visit
  int flux_pair_k = -1;  ///< moves of up to K cells counted in the (cell, move) table (-1: auto; 0: all by difference arrays)
  bool fused = true;     ///< allow the fused integrator (false: always the general one; same results)
  // Checkpoints and restart (results never depend on them).
  std::uint64_t checkpoint_every = 0;  ///< > 0: call on_checkpoint every K steps (counted from t_begin)
  bool checkpoint_at_end = false;      ///< also call on_checkpoint with the final state
  std::function<void(const WalkState&)> on_checkpoint;
  bool stop_on_interrupt = false;      ///< stop between chunks on SIGINT/SIGTERM (common/interrupt.hpp):
                                       ///< checkpoint, then return the results so far (complete = false)
  std::uint64_t stop_at = 0;           ///< > 0: stop at this absolute step as on SIGTERM (a run in pieces)
  const WalkState* resume = nullptr;   ///< continue this state (positions, accumulators) instead of sampling
};

/// The default block of walkers. 1024 (its scratch stays in L1/L2), or 8192 where the observers
/// scatter a step's counts over rows of more than 8 KB (a 2-D density of 50 x 50 bins, a grid of
/// 50 000 bins), which a block then fetches once per 8192 walkers instead of once per 1024. Measured
/// on Zen 3, 2 threads: +10-20% for those, -8% for stepping alone with 8192 (bench/bench_walk).
/// Fewer where the run has fewer than 16 blocks per thread (multiples of 256, at least 256).
/// Results never depend on it.
int auto_block(std::uint64_t walkers, int threads, const ObserverPlan& plan);

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
  /// How each g_i and drift a_i is evaluated ("piecewise-poly P=16 D=7 max|err|=3e-14", "exact", ...).
  std::vector<std::string> g_evaluation() const;
  std::vector<std::string> drift_evaluation() const;
  /// Largest measured tabulation error of the g_i.
  double g_table_error() const;
  /// Would the fused integrator run this model and plan (with RunOptions::fused)?
  bool fused_applies() const;
  /// Throws InputError("restart") unless `s` fits this engine's model and plan: dimension,
  /// walkers, seed, t_begin, and the plan of the past (density times, flux segments, average).
  void check_resume(const WalkState& s) const;

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
