#pragma once
// SGD on ensembles of two-layer ReLU networks, seen as walkers in parameter space.
//
// Each network is trained for all its steps in one go by one thread (its parameters stay in
// L1/L2); the weight update of step t is fused with the forward pass of step t+1 (one sweep over W
// per step). Networks are independent and use counter-based streams, so results do not depend on
// the thread count, nor on the number of MPI ranks that share the networks.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "soret/net/model.hpp"

namespace soret::net {

enum class Mode { sgd, full_batch, frozen_v };

/// Where a resumable run stops and what it does at its block boundaries (two-layer and deep).
struct BlockPlan {
  std::uint64_t checkpoint_every = 0;  ///< steps between periodic checkpoints (a multiple of K; 0: none)
  std::uint64_t stop_at = 0;           ///< stop at the first record boundary >= this step (0: none)
  std::uint64_t block = 0;             ///< steps per block between two polls of the interrupt flag (0: automatic)
  bool stop_on_interrupt = false;      ///< stop at the end of the block on SIGINT/SIGTERM (common/interrupt.hpp)
  /// Does a run stop at the block boundary t (--stop-at reached, or a stop signal)?
  bool stops_at(std::uint64_t t) const;
  /// Is a periodic checkpoint due at the block boundary t?
  bool checkpoint_due(std::uint64_t t) const { return checkpoint_every > 0 && t % checkpoint_every == 0; }
};

/// The end of the block that begins at t0 (a record boundary): the first of t0 + block, the next
/// periodic checkpoint, the stop, and T; every one a record boundary (or T).
std::uint64_t block_end(const BlockPlan& p, std::uint64_t t0, std::uint64_t T, std::uint64_t K);


/// One training configuration of a sweep.
struct RunSpec {
  std::string name;
  double eta = 0.05;
  int batch = 1;
  Mode mode = Mode::sgd;  ///< full_batch: the gradient of `full_batch` fresh samples (or of the whole
                          ///< training set); frozen_v: SGD with the second layer held fixed
  int full_batch = 1024;
};

struct RunResult;

struct TrainOptions {
  int ensemble = 64;
  std::uint64_t steps = 1000;
  std::uint64_t record_every = 10;
  std::uint64_t seed = 1;
  int threads = 0;
  bool progress = false;
  int probe = 0;  ///< >0: also the activation rate on this many fixed probe samples at each record
  /// Parameter density / face-crossing flux of the per-unit (V_i, b_i) points (0 bins: off).
  int grid_bins_v = 40, grid_bins_b = 40;
  double v_lo = -1, v_hi = 1, b_lo = -1, b_hi = 1;
  std::uint64_t density_every = 0;  ///< records between density snapshots (0: 10 snapshots in all)
  double blowup = 1e6;              ///< |parameter| above this (or a non-finite loss) = divergence
  /// MPI ranks (common/mpi.hpp): each rank trains the networks split(E, 1, rank, ranks) and the
  /// result (records, fields, parameters) is shared, so every rank returns one process's result.
  /// A collective call then: every rank must make it. false: this rank trains every network alone.
  bool split_over_ranks = true;
  // Checkpoint and restart (net/state.hpp): continue from `resume` (a state of this run at a record
  // boundary), stop where `blocks` says, call on_checkpoint with the state at each periodic checkpoint.
  const RunResult* resume = nullptr;
  BlockPlan blocks;
  std::function<void(const RunResult&)> on_checkpoint;
};

/// Per-network records (records x networks, row-major) and the parameter-space fields.
struct RunResult {
  RunSpec spec;
  std::vector<std::uint64_t> t;  ///< record times: statistics of parameters at t, sample-based
                                 ///< statistics averaged over the batches of steps t .. t+K-1
  std::vector<double> activation_rate, v_norm, bias_mean, bias_std, w_norm, loss, p_mean;
  std::vector<double> grad_var_v, grad_var_b, grad_var_w;  ///< trace of the mini-batch gradient covariance
  std::vector<double> probe_activation;                     ///< if probe > 0
  std::vector<double> c2;  ///< mean (p - y)^2 over the record window
  std::vector<double> eq27_b_drift, eq27_v2_drift;  ///< Eq. 27 thermophoretic drift per step (unit mean), every 10th record
  std::vector<std::int64_t> diverged_at;  ///< per network: step of divergence, or -1
  // (V_i, b_i) density snapshots and crossings of V and b grid lines per record window.
  std::vector<std::uint64_t> density_t;
  std::vector<std::uint64_t> density;  ///< snapshots x bins_v x bins_b
  std::vector<std::uint64_t> cross_v_plus, cross_v_minus;  ///< windows x (bins_v + 1)
  std::vector<std::uint64_t> cross_b_plus, cross_b_minus;  ///< windows x (bins_b + 1)
  /// Final parameters of every network: W (E x N x M, row-major per network), b (E x N), V (E x N).
  std::vector<double> final_W, final_b, final_V;
  /// The same, one buffer per network (E x params) in the block layout of the generic backend's
  /// Architecture::twolayer: dense0.weight (W), dense0.bias (b, with biases), dense1.weight (V).
  std::vector<double> final_params;
  double seconds = 0;
  /// Step reached: steps for a complete run; for a stopped one (and a checkpoint's state) a record
  /// boundary, records() = t_reached / K, final_* = the parameters at t_reached.
  std::uint64_t t_reached = 0;
  bool complete = true;
  std::size_t records() const { return t.size(); }
  /// The records x networks columns by name (for the state's reader and writer).
  std::vector<std::pair<std::string, std::vector<double>*>> columns();
};

RunResult train(const NetConfig& c, const RunSpec& spec, const TrainOptions& opt);

}  // namespace soret::net
