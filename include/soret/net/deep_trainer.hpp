#pragma once
// SGD on ensembles of networks built from layers (the generic backend): any Architecture, any
// Dataset and Sampler. Each network is trained by one thread; every random choice is keyed by
// (seed, stream, network, step, sample), so results do not depend on the thread count.
//
// Every K steps (the first record at step 0, before any update), per network, from S fresh
// samples at the current parameters (stream net_grad_samples; from the evaluation set when it is
// a fixed set): per parameter layer the gradient variance (unbiased sample variance over the S
// samples of each parameter's exact per-sample gradient of the per-sample loss, summed over the
// layer's weights and bias: grad_trace_layer; divided by its parameter count: grad_var_layer),
// the weight norm (Frobenius norm of the weights, biases excluded: weight_norm_layer); per ReLU
// layer the fraction of positive pre-activations (activation_rate_layer); loss and accuracy.
// Optionally (DeepOptions) the loss and error over the whole training and held-out sets, and the
// Hessian of the training loss (trace, Gauss-Newton trace, Eq. 62 bound).
#include <cstdint>
#include <string>
#include <vector>

#include "soret/net/dataset.hpp"
#include "soret/net/layers.hpp"
#include "soret/net/recorder.hpp"
#include "soret/net/trainer.hpp"

namespace soret::net {

struct DeepRun;

struct DeepOptions {
  int ensemble = 16;
  std::uint64_t steps = 1000;
  std::uint64_t record_every = 10;
  std::uint64_t seed = 1;
  int threads = 0;
  bool progress = false;
  int grad_samples = 256;  ///< S (>= 2; 0: no per-record measurements except the weight norms)
  SamplerKind sampler = SamplerKind::online;
  Loss loss = Loss::bce;
  double blowup = 1e6;     ///< |parameter| above this (or a non-finite loss) = divergence
  /// Batches of at least this many samples (and the records' S samples) go through the batched
  /// passes (Dense layers as matrix products); smaller ones sample by sample.
  int batched_from = 4;
  bool blas = true;        ///< batched Dense products by OpenBLAS (false: hand-written loops)
  ConvImpl conv = default_conv_impl();  ///< how convolutions are computed (layers.hpp)
  Init init;               ///< pytorch (default) or gaussian (init_gaussian(): per-layer scales)
  bool split_over_ranks = true;  ///< MPI ranks share the networks (as TrainOptions::split_over_ranks)
  /// Generalization (issue 12). With a fixed training set (train.size() > 0) and set_metrics:
  /// train_loss, train_error over the whole training set at every record; with `test` (a held-out
  /// fixed set): test_loss, test_error over all of it.
  bool set_metrics = false;
  const Dataset* test = nullptr;
  /// The Hessian of the training loss every hessian_every records (0: off; the record at step 0
  /// included), net/hessian.hpp: over the whole fixed training set when it has at most
  /// hessian_samples examples, else over hessian_samples examples drawn from it (with replacement,
  /// keyed on network and record), or that many fresh samples for online data. Columns
  /// hessian_trace (Hutchinson, hessian_probes Rademacher probes) and its SE, gauss_newton_trace
  /// (exact), hessian_dropped (Tr H - Tr G from the same probes, paired) and its SE, eq62_bound
  /// (THEORY.md) and eq62_paper (the printed form); NaN at the other records.
  int hessian_every = 0;
  int hessian_probes = 32;
  int hessian_samples = 256;
  // Checkpoint and restart (net/state.hpp), as TrainOptions.
  const DeepRun* resume = nullptr;
  BlockPlan blocks;
  std::function<void(const DeepRun&)> on_checkpoint;
};

struct DeepRun {
  RunSpec spec;
  std::vector<std::uint64_t> t;           ///< record steps
  Recorder rec;                           ///< the named columns (see the header comment)
  std::vector<std::int64_t> diverged_at;  ///< per network: step of divergence, or -1
  std::vector<double> final_params;       ///< networks x params, laid out by Architecture::blocks
  double seconds = 0;                     ///< wall time of the run
  double record_seconds = 0;              ///< summed over threads: time spent in the records
  /// Step reached: steps for a complete run; for a stopped one (and a checkpoint's state) a record
  /// boundary t, with the records before t (rows [0, t/K); the record at t is made by the run that
  /// continues) and final_params = the parameters at t (NaN for a diverged network).
  std::uint64_t t_reached = 0;
  bool complete = true;
  std::size_t records() const { return t.size(); }
};

/// Loss of one sample and dL/d(outputs) (written to df). `label` is 0/1 for bce and mse, the
/// class for ce. `correct` is set to whether the prediction is right.
double loss_and_grad(Loss loss, const double* f, int outputs, int label, double* df, bool* correct);

/// Trains spec.batch-sample SGD (spec.eta) from PyTorch's initialisation. `train` gives the
/// training examples through `opt.sampler`; `eval` the record samples.
DeepRun train_deep(const Architecture& a, const Dataset& train, const Dataset& eval, const RunSpec& spec,
                   const DeepOptions& opt);

}  // namespace soret::net
