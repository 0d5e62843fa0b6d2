#pragma once
// The walk checkpoint file: one writer, one reader (header and checksum: io/checkpoint.hpp).
//
//   /state/counters   uint64 [t, t_begin, t_end, seed, walkers, dim, absorbed_initial,
//                            has_avg, avg_first, avg_second]
//   /state/position   dim x walkers (float64)     /state/alive   walkers (uint8, 0 or 1)
//   /state/absorbed_lo, absorbed_hi   dim          walkers absorbed at each wall so far
//   /state/moments_t, moments_alive   records      /state/mean, var   records x dim
//   /state/density_times             density times <= t
//   /state/segments                  flux segments begun before t (n x 2)
//   /state/seconds                   stepping time so far
//   /observers/<observer>.<name>     int64 accumulators (walk/observers.hpp, ObserverData)
#include <string>

#include "soret/io/checkpoint.hpp"
#include "soret/walk/state.hpp"

namespace soret::io {

/// Writes the state atomically to `path` (the previous file there survives until it is complete).
/// `options` is the INI text of the run's defining options.
void write_walk_state(const std::string& path, const WalkState& s, const std::string& options,
                      const std::string& context = "", const std::string& option = "checkpoint");

/// Reads and validates a walk checkpoint (header, checksum, shapes, values); throws InputError
/// naming `option`. `header` receives the header (its stored options).
WalkState read_walk_state(const std::string& path, CheckpointHeader* header, const std::string& option = "restart");

}  // namespace soret::io
