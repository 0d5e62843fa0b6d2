#pragma once
// The complete state of a network-ensemble sweep between two blocks of steps: what a checkpoint
// stores and a restart continues from (io/net_state.hpp reads and writes it).
//
// A sweep is a list of runs (one per (eta, |B|), then the mechanism runs). The state holds, in
// sweep order, every run begun so far: complete runs (t_reached == their steps) and at most one
// run in progress, last. A run's state at step t (a record boundary, or the run's end) is its
// result truncated to the records complete at t (rows [0, t/K); all rows at the end), its
// parameter-space fields so far (density snapshots taken before t, crossings of the complete
// windows), the parameters of every network at t (a diverged network's at its divergence) and
// the divergence steps. Every random draw is keyed on (seed, network, absolute step, sample), so a
// run resumed from that state makes exactly the steps, and produces exactly the records, of the
// uninterrupted run, with any thread count. `soret net --study paper` stores its runs, part after
// part, as one such sweep.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "soret/net/deep_trainer.hpp"
#include "soret/net/trainer.hpp"

namespace soret::net {

struct NetState {
  std::string backend;          ///< "twolayer" or "generic"
  std::vector<RunResult> runs;  ///< two-layer: the runs begun, in sweep order (the last may be in progress)
  std::vector<DeepRun> deep;    ///< generic backend: the same
  std::uint64_t t() const;      ///< step of the last run begun (0: none)
  std::size_t size() const { return backend == "generic" ? deep.size() : runs.size(); }
};

}  // namespace soret::net
