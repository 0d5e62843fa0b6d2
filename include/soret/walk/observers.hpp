#pragma once
// Observers: what is measured during a walk, and how it is accumulated.
//
// All histograms are integer counts kept per thread and summed at the end (addition of integers
// is associative, so results do not depend on the thread count). Step statistics are summed in
// 64.64 fixed point for the same reason. Moments are reduced from fixed walker blocks in block
// order.
//
//  - density: counts of live walkers per bin of the histogram grid (one or two axes) at chosen
//    times t (t = completed steps; t = 0 is the initial condition), plus an optional average over
//    a range of times;
//  - flux: per range of transitions [a, b) (steps a->a+1 ... b-1->b), the number of crossings of
//    every face of the first histogram axis, left->right (plus) and right->left (minus), counted
//    exactly along each step (periodic wrap, reflection and jumps over several faces included);
//  - step statistics: per bin of the start point, the number of steps and the sum of the step
//    and of its square along each histogram axis (local drift and local eta^2 g^2);
//  - moments: mean and variance of the live walkers per axis, at chosen times.
#include <cstdint>
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
  bool step_stats = true;
  std::uint64_t moments_every = 0;  ///< 0: moments only at t = 0 and t = steps

  // Derived by finalize():
  std::vector<Window> segments;                     ///< disjoint pieces of the flux windows
  std::vector<std::vector<int>> window_segments;    ///< segments composing each window
  std::vector<std::uint64_t> moment_times;

  int total_bins() const;
  int flux_faces() const { return lattice.empty() ? 0 : lattice[0].bins + 1; }
  /// Checks ranges against the model and steps, builds segments; throws InputError.
  void finalize(const WalkModel& m, std::uint64_t steps);
};

/// Per-thread accumulators.
struct ThreadAccumulator {
  std::vector<std::uint32_t> density;      ///< slots x bins
  std::vector<std::uint64_t> outside;      ///< slots: live walkers outside the grid
  std::vector<std::uint64_t> avg_counts;   ///< bins
  std::uint64_t avg_outside = 0;
  /// Steps that stay inside the domain and move |d| <= K cells: counts per (segment, start cell a,
  /// d + K): one increment per walker-step. Turned into face crossings at the end (faces a+1..a+d
  /// left->right for d > 0, a+d+1..a right->left for d < 0). Last element: a sink for other steps.
  std::vector<std::uint64_t> pairs;
  int pair_k = 0;
  /// Other crossings (boundary events, long jumps) as difference arrays: segments x (faces + 1);
  /// crossings of face k = sum_{j<=k} D[j].
  std::vector<std::int64_t> plus, minus;
  std::vector<std::uint64_t> ss_count;     ///< bins
  std::vector<__int128> ss_sum, ss_sq;     ///< bins x hist axes, fixed point 2^-32 eta
  std::vector<double> ss_part_sum, ss_part_sq;  ///< partial sums of one block visit, flushed by flush_step_stats
  std::vector<std::uint64_t> absorbed_lo, absorbed_hi;  ///< per axis
  bool blowup = false;
  std::uint64_t blowup_walker = 0, blowup_t = 0;
  int blowup_axis = 0;

  void init(const ObserverPlan& plan, int dim, int pair_k = 0);
  void add(const ThreadAccumulator& o);
  /// Moves the double partial sums of one block visit into the fixed-point totals (the partials
  /// cover a fixed set of walkers and steps summed in a fixed order, so this is deterministic).
  void flush_step_stats(double eta);
};

/// Fixed-point scale of the step statistics: a step d is stored as llround(d / eta * 2^32).
inline constexpr double kStepScale = 4294967296.0;

struct WalkResults {
  int dim = 1;
  std::uint64_t walkers = 0, steps = 0;
  double seconds = 0.0;
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
  std::vector<double> final_pos;  ///< walkers x dim
  std::vector<std::uint8_t> final_alive;

  /// Probability density per bin at density time index i (counts / (walkers * bin volume)).
  std::vector<double> rho(const ObserverPlan& plan, size_t i) const;
  /// Net flux per walker per step through each face for window i (positive: toward larger q).
  std::vector<double> J(size_t i) const;
  std::vector<double> J_plus(size_t i) const;
  std::vector<double> J_minus(size_t i) const;
};

/// Turns the reduced accumulator into results (flux windows assembled from segments).
void collect(const ObserverPlan& plan, const ThreadAccumulator& acc, double eta, WalkResults& r);

}  // namespace soret
