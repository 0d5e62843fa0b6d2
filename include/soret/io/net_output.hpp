#pragma once
// The HDF5 file of a generic-backend `soret net` sweep (schema: docs/hdf5-schema.md, "soret net
// --arch"): /parameters, /architecture, one /runs/<name> group per (eta, |B|) whose datasets are
// the recorder's named columns, and /scaling/collapse.
#include <functional>
#include <string>
#include <vector>

#include "soret/io/walk_output.hpp"
#include "soret/net/deep_study.hpp"

namespace soret {

/// Writes the recorder's columns into group g: records x networks (x width) datasets.
void write_columns(hid_t g, const net::Recorder& rec);

/// Writes a whole sweep to `path` atomically (no file under that name unless it succeeds).
/// `extra`, when given, adds to the file before it is committed (the CLI's /run group).
void write_deep_sweep(const std::string& path, const net::DeepSweep& s, const net::DeepSweepOutput& o,
                      const std::vector<Parameter>& params, const std::function<void(hid_t)>& extra = {});

}  // namespace soret
