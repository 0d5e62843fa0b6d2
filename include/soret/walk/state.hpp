#pragma once
// The complete state of a walk between two blocks of steps: what a checkpoint stores and a restart
// continues from (io/walk_state.hpp reads and writes it). With the same model and plan, a run
// resumed from the state of step t makes exactly the steps, and produces exactly the output, of
// the uninterrupted run: the noise is keyed on (seed, walker, absolute step) and every
// accumulator is an integer sum.
#include <cstdint>
#include <vector>

#include "soret/walk/observers.hpp"

namespace soret {

struct WalkState {
  std::uint64_t t = 0;        ///< absolute step of the state
  std::uint64_t t_begin = 0;  ///< absolute step at which the run began (its initial condition)
  std::uint64_t t_end = 0;    ///< absolute step at which the run that wrote it was to end
  std::uint64_t seed = 0;
  int dim = 0;
  std::uint64_t walkers = 0;
  std::vector<std::vector<double>> x;  ///< per axis, walkers positions
  std::vector<std::uint8_t> alive;
  std::uint64_t absorbed_initial = 0;
  std::vector<std::uint64_t> absorbed_lo, absorbed_hi;  ///< per axis, during the run so far
  std::vector<std::uint64_t> moments_t, moments_alive;  ///< the moment records so far
  std::vector<double> mean, var;                        ///< records x dim
  ObserverData observers;
  // The plan of the past (times <= t), which a resumed run's plan must reproduce.
  std::vector<std::uint64_t> density_times;  ///< density times <= t
  std::vector<Window> segments;              ///< flux segments begun before t
  bool has_avg = false;
  Window density_avg{0, 0};
  double seconds = 0.0;  ///< stepping time so far (informational)
};

}  // namespace soret
