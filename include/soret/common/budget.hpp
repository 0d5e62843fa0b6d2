#pragma once
// Memory budget of a run: an estimate made before the run (from the options alone) is compared
// with --max-memory, so that an oversize run is refused at once with its estimate instead of
// growing until the kernel kills it.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace soret {

/// Physical memory of the machine in bytes (0 if unknown).
double physical_memory_bytes();
/// The default budget: 80% of the physical memory (no limit if unknown).
double default_memory_budget();
/// Parses a size: bytes, or a number with K, M, G, T (powers of 1024, optional B), or a fraction
/// of the physical memory written as a percentage ('50%'); '0' means no limit. Throws InputError.
double parse_memory_size(const std::string& s, const std::string& option);
/// "1.5 GiB".
std::string format_bytes(double bytes);

/// An itemised estimate.
struct MemoryEstimate {
  std::vector<std::pair<std::string, double>> items;  ///< (what, bytes)
  void add(const std::string& what, double bytes) { if (bytes > 0) items.emplace_back(what, bytes); }
  double total() const;
  std::string describe() const;  ///< "2.1 GiB: positions 800 MiB, density 1.2 GiB, ..."
};

/// Throws InputError("max-memory", ...) with the estimate if it exceeds a budget > 0.
void enforce_memory_budget(const MemoryEstimate& e, double budget);

}  // namespace soret
