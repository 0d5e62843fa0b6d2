#pragma once
// The HDF5 file of `soret walk` (schema: docs/hdf5-schema.md) and reading it back.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "soret/walk/init.hpp"
#include "soret/walk/integrator.hpp"
#include "soret/io/hdf5.hpp"

namespace soret {

struct Parameter {
  std::string name;
  /// Numbers as numbers (lists as 1-D arrays), strings as UTF-8 strings.
  std::variant<std::string, double, std::int64_t, std::vector<double>, std::vector<std::int64_t>> value;
};

/// Writes /parameters, /density, /flux, /step_stats, /moments, /absorbed, /final, /run.
void write_walk_output(hid_t file, const WalkEngine& engine, const WalkResults& r, const std::vector<Parameter>& params);

/// Common metadata: root attributes and the /h5md group (creator, version).
void write_h5md_header(hid_t file, const std::string& command);

/// Final positions (/final/position, /final/alive) of an earlier walk file; throws InputError("init").
StoredEnsemble read_stored_ensemble(const std::string& path);

}  // namespace soret
