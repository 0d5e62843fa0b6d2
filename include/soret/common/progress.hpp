#pragma once
// A progress report with percentage, rate and ETA on stderr (only when enabled). On a terminal it
// is one redrawn line; in log mode (`--progress always` with stderr not a terminal) it is one line
// per `log_step` percent, so that batch logs show progress.
#include <chrono>
#include <cstdint>
#include <string>

namespace soret {

/// `--progress always|auto|never` with `--quiet`: (enabled, log mode). auto: enabled on a terminal.
/// Throws InputError naming `option` on another value.
struct ProgressMode {
  bool enabled = false, log = false;
};
ProgressMode progress_mode(const std::string& value, bool quiet, const std::string& option = "progress");

class Progress {
 public:
  Progress(std::string label, std::uint64_t total, bool enabled);
  /// done: units completed; work: e.g. walker-steps done (for the rate).
  void update(std::uint64_t done, double work);
  void finish();
  /// Process-wide: enabled progress reports print a line per `step_percent` instead of redrawing
  /// one line (set by the command line for `--progress always` without a terminal).
  static void set_log_lines(bool on, double step_percent = 5.0);

 private:
  std::string label_;
  std::uint64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
  bool printed_ = false;
  double next_log_ = 0;
};

}  // namespace soret
