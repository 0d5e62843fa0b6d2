#pragma once
// Memory of a walk, estimated from its options before anything large is allocated.
#include "soret/common/budget.hpp"
#include "soret/walk/integrator.hpp"

namespace soret {

/// Positions (walkers x dims, the final copy and the output file image), per-thread scratch
/// (block x dims, only the buffers the integrator uses), density snapshots (times x bins x
/// threads), flux tables (windows x faces x threads), step statistics, chunk tables, moments.
/// `plan` must be finalized. An estimate: within tens of percent, never counting small items.
MemoryEstimate estimate_walk_memory(const WalkModel& m, const ObserverPlan& plan, const RunOptions& opt, bool from_file,
                                    int threads);

}  // namespace soret
