#pragma once
// A one-line progress report with rate and ETA on stderr (only when enabled: the CLI enables it
// when stderr is a terminal and --quiet is not given).
#include <chrono>
#include <cstdint>
#include <string>

namespace soret {

class Progress {
 public:
  Progress(std::string label, std::uint64_t total, bool enabled);
  /// done: units completed; work: e.g. walker-steps done (for the rate).
  void update(std::uint64_t done, double work);
  void finish();

 private:
  std::string label_;
  std::uint64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
  bool printed_ = false;
};

}  // namespace soret
