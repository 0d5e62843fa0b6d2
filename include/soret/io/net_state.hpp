#pragma once
// The net checkpoint file: one writer, one reader (header and checksum: io/checkpoint.hpp).
//
//   /state/counters        uint64 [backend (0 two-layer, 1 generic), runs]
//   /runs/NNN/             one group per run begun, in sweep order (000, 001, ...)
//     counters             uint64 [t_reached, records, networks, complete]
//     spec                 float64 [eta]   spec_int int64 [batch, mode, full_batch]   name  uint8 (text)
//     seconds              float64 [seconds, record_seconds]
//     t                    uint64 record steps (records)
//     diverged_at          int64 per network
//   two-layer:
//     columns/<name>       float64 records x networks (the non-empty record columns of RunResult)
//     final_W, final_b, final_V, final_params   the parameters at t_reached
//     density_t, density, cross_v_plus, cross_v_minus, cross_b_plus, cross_b_minus   the fields so far
//   generic backend:
//     columns/NN           float64 records x networks x width, in the Recorder's order
//     column_info          uint8 (text): per column name, unit, description, labels
//     final_params         float64 networks x params (NaN for a diverged network)
#include <string>

#include "soret/io/checkpoint.hpp"
#include "soret/net/state.hpp"

namespace soret::io {

/// Writes the state atomically to `path` (the previous file there survives until it is complete).
/// `options` is the INI text of the run's defining options.
void write_net_state(const std::string& path, const net::NetState& s, const std::string& options,
                     const std::string& context = "", const std::string& option = "checkpoint");

/// Reads and validates a net checkpoint (header, checksum, shapes, values); throws InputError
/// naming `option`. `header` receives the header (its stored options).
net::NetState read_net_state(const std::string& path, CheckpointHeader* header, const std::string& option = "restart");

}  // namespace soret::io
