#pragma once
// Observers: what is measured during a walk, and how it is accumulated.
//
// The integrator moves a block of walkers one step and hands the result to every observer as a
// StepView (cells and bins at the start and end of the step, steps where asked for). Each
// observer owns its per-thread accumulators and reduces them in thread order at the end; all
// counts are integers and step statistics are summed in 2^-32 eta fixed point per walker-step,
// so every result is independent of the thread count, the block size and the chunk length.
//
//  - density: counts of live walkers per bin of the histogram grid (one or two axes) at chosen
//    times t (t = completed steps; t = 0 is the initial condition), plus an optional average over
//    a range of times;
//  - flux: per range of transitions [a, b) (steps a->a+1 ... b-1->b), the number of crossings of
//    every face of the first histogram axis, left->right (plus) and right->left (minus), counted
//    exactly along each step (periodic wrap, reflection and jumps over many faces included) at
//    O(1) cost per step: one increment of a (start cell, cells moved) table for short moves,
//    difference arrays for the rest;
//  - step statistics: per bin of the start point, the number of steps and the sum of the step
//    and of its square along each histogram axis (local drift and local eta^2 g^2);
//  - moments: mean and variance of the live walkers per axis, at chosen times (fixed groups of
//    kMomentGroup walkers, combined in walker order).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "soret/walk/grid.hpp"
#include "soret/walk/model.hpp"

namespace soret {

using Window = std::pair<std::uint64_t, std::uint64_t>;  ///< transitions [first, second)

/// "0,400,1000" or "every:K" (0, K, 2K, ... <= steps) or "none"/"" -> sorted unique times.
std::vector<std::uint64_t> parse_times(const std::string& s, std::uint64_t steps, const std::string& option);
/// "0:1,400:401" or "every:K" ([0,K), [K,2K), ...) or "none"/"" -> windows in the given order.
std::vector<Window> parse_windows(const std::string& s, std::uint64_t steps, const std::string& option);

struct ObserverPlan {
  std::vector<int> hist_axes;       ///< one or two axes
  std::vector<Lattice> lattice;     ///< per histogram axis
  std::vector<std::uint64_t> density_times;
  std::optional<Window> density_avg;  ///< average of the density over times [first, second] inclusive
  std::vector<Window> flux_windows;
  bool step_stats = false;
  std::uint64_t moments_every = 0;  ///< 0: moments only at the run's first and last step

  // Derived by finalize():
  std::vector<Window> segments;                     ///< disjoint pieces of the flux windows
  std::vector<std::vector<int>> window_segments;    ///< segments composing each window
  std::vector<std::uint64_t> moment_times;

  std::int64_t total_bins() const;  ///< product of the bins, 64-bit, saturating at 2^62
  int flux_faces() const { return lattice.empty() ? 0 : lattice[0].bins + 1; }
  /// Checks ranges against the model and the run's steps [t_begin, t_begin + steps] (times are
  /// absolute step numbers), builds segments; throws InputError.
  void finalize(const WalkModel& m, std::uint64_t steps, std::uint64_t t_begin = 0);
};

/// Fixed-point scale of the step statistics: a step d is stored as llround(d / eta * 2^32).
inline constexpr double kStepScale = 4294967296.0;
/// Walkers per group of the moment reduction (fixed, so moments do not depend on --block).
inline constexpr std::uint64_t kMomentGroup = 4096;

/// Cost of one observer in a run: its share of the stepping time (measured with the time-stamp
/// counter around each call).
struct ObserverCost {
  std::string name, what;
  double fraction = 0.0;
};

struct WalkResults {
  int dim = 1;
  std::uint64_t walkers = 0, steps = 0;  ///< steps made by this run
  std::uint64_t t_begin = 0;             ///< absolute step of the initial state (the run ends at t_begin + steps)
  bool complete = true;                  ///< false: stopped by a signal; results up to t_begin + steps only
  double seconds = 0.0;                  ///< stepping time of this process (a restarted run: since the restart)
  std::uint64_t steps_here = 0;          ///< steps made by this process (a restarted run: since the restart)
  double reduce_seconds = 0.0;           ///< MPI ranks: the final reduction and gathers on rank 0 (0: one process)
  std::string kernel;                 ///< "fused" or "general" (how the steps were integrated)
  std::vector<ObserverCost> costs;    ///< what was recorded and what it cost
  std::vector<std::uint64_t> density_t;
  std::vector<std::uint64_t> density_counts;   ///< times x bins
  std::vector<std::uint64_t> density_outside;  ///< times
  std::vector<std::uint64_t> avg_counts;
  std::uint64_t avg_outside = 0;
  std::vector<Window> windows;
  std::vector<std::uint64_t> flux_plus, flux_minus;  ///< windows x faces
  std::vector<std::uint64_t> ss_count;
  std::vector<double> ss_mean, ss_msq;  ///< bins x hist axes
  std::vector<std::uint64_t> moments_t, alive;
  std::vector<double> mean, var;  ///< times x dim
  std::vector<std::uint64_t> absorbed_lo, absorbed_hi;
  std::uint64_t absorbed_initial = 0;  ///< walkers the initial condition put outside an absorbing domain
  std::vector<std::vector<double>> final_x;  ///< final positions, per axis (walkers each; no transposed copy)
  /// The final positions as walkers x dim (a copy; the file is written from final_x directly).
  std::vector<double> final_positions() const;
  std::vector<std::uint8_t> final_alive;

  /// Probability density per bin at density time index i (counts / (walkers * bin volume)).
  std::vector<double> rho(const ObserverPlan& plan, size_t i) const;
  /// Net flux per walker per step through each face for window i (positive: toward larger q).
  std::vector<double> J(size_t i) const;
  std::vector<double> J_plus(size_t i) const;
  std::vector<double> J_minus(size_t i) const;
};

/// What the integrator hands to the observers after one step of one block of walkers.
struct StepView {
  std::uint64_t t = 0;    ///< the transition t -> t+1 (for the initial view: the run's first step, initial = true)
  bool initial = false;   ///< the view describes the initial condition: no step was made
  std::uint64_t w0 = 0;   ///< global id of the block's first walker
  int n = 0;
  const std::int32_t* c0 = nullptr;   ///< flux-axis cell at the start of the step
  const std::int32_t* cu = nullptr;   ///< flux-axis cell at the end on the unfolded line (== c0: nothing to count)
  const std::int32_t* bin = nullptr;  ///< flat histogram bin at the end: >= 0, -1 outside the grid, -2 dead
  const std::int32_t* bin0 = nullptr; ///< flat bin at the start (only for observers that need_steps)
  const double* const* dx = nullptr;  ///< per axis, the unfolded step (only for observers that need_steps)
  const std::uint8_t* alive0 = nullptr;  ///< alive at the start of the step
};

/// The accumulators of observers at a checkpoint, by name ("density/counts", "flux/plus", ...):
/// thread-reduced integers in a layout that depends only on the plan (not on threads, blocks or
/// the flux table's width), covering the density times <= t and the flux segments begun before t.
/// Additive: the element-wise sum of two ranks' data is the data of their union (MPI reduction).
using ObserverData = std::map<std::string, std::vector<std::int64_t>>;

/// An observer of the stepping. Calls from one thread use its own tid; no locking.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual std::string name() const = 0;
  /// One line: what it records ("density at 11 times", ...).
  virtual std::string what() const = 0;
  virtual void start(int threads) = 0;
  /// Prepares the schedule of transitions [t0, t1) (called between chunks, single-threaded).
  virtual void begin_chunk(std::uint64_t t0, std::uint64_t t1) = 0;
  /// Does it look at transition t (the block's cells / bins are needed)?
  virtual bool wants(std::uint64_t t) const = 0;
  /// Does it need the end bins of transition t (flat histogram bins)?
  virtual bool needs_bins(std::uint64_t t) const { (void)t; return false; }
  /// Does it need the flux-axis cells (c0, cu) of transition t?
  virtual bool needs_cells(std::uint64_t t) const { (void)t; return false; }
  /// Does it need the steps dx and start bins (forces the general integrator)?
  virtual bool needs_steps() const { return false; }
  /// The initial condition (t = 0): bins of the live walkers.
  virtual void observe_initial(int tid, const StepView& v) { (void)tid; (void)v; }
  virtual void observe(int tid, const StepView& v) = 0;
  /// Reduces the threads in order and fills its part of the results.
  virtual void finish(WalkResults& r) const = 0;
  /// Checkpoint at absolute step t (between chunks): the reduced accumulators (see ObserverData).
  virtual void save(ObserverData& d, std::uint64_t t) const = 0;
  /// Restart: adds saved accumulators into thread 0's (after start()); integer sums, so the
  /// final results equal those of an uninterrupted run. Throws InputError("restart") on a shape
  /// that does not fit the plan.
  virtual void load(const ObserverData& d, std::uint64_t t) = 0;
};

/// The observers a plan asks for (density, flux, step statistics), built for a model.
/// `pair_k`: moves of at most this many cells are counted in the (start cell, move) table.
std::vector<std::unique_ptr<Observer>> make_observers(const ObserverPlan& plan, const WalkModel& model, int pair_k,
                                                      std::uint64_t walkers);

}  // namespace soret
