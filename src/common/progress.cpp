#include "soret/common/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "soret/common/error.hpp"

namespace soret {

namespace {
bool g_log_lines = false;
double g_log_step = 5.0;
}  // namespace

ProgressMode progress_mode(const std::string& value, bool quiet, const std::string& option) {
  const bool tty = ::isatty(2) != 0;
  if (value == "never") return {false, false};
  if (value == "always") return {true, !tty};
  if (value == "auto") return {!quiet && tty, false};
  throw InputError(option, "--" + option + " must be always, auto or never");
}

void Progress::set_log_lines(bool on, double step_percent) {
  g_log_lines = on;
  g_log_step = step_percent > 0 ? step_percent : 5.0;
}

Progress::Progress(std::string label, std::uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::update(std::uint64_t done, double work) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double frac = total_ ? double(done) / double(total_) : 1.0;
  if (g_log_lines) {
    if (100 * frac + 1e-9 < next_log_ && done < total_) return;
    while (next_log_ <= 100 * frac + 1e-9) next_log_ += g_log_step;
  } else if (done < total_ && now - last_ < std::chrono::milliseconds(200)) {
    return;
  }
  last_ = now;
  const double el = std::chrono::duration<double>(now - start_).count();
  const double eta = frac > 0 ? el * (1 - frac) / frac : 0.0;
  std::fprintf(stderr, "%s[%s] %5.1f%%  %llu/%llu  %.3g M/s  elapsed %.0fs  ETA %.0fs%s", g_log_lines ? "" : "\r",
               label_.c_str(), 100 * frac, static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(total_), el > 0 ? work / el / 1e6 : 0.0, el, eta,
               g_log_lines ? "\n" : "   ");
  std::fflush(stderr);
  printed_ = true;
}

void Progress::finish() {
  if (enabled_ && printed_ && !g_log_lines) std::fprintf(stderr, "\n");
}

}  // namespace soret
