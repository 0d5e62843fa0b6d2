#include "soret/common/progress.hpp"

#include <cstdio>

namespace soret {

Progress::Progress(std::string label, std::uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::update(std::uint64_t done, double work) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  const double el = std::chrono::duration<double>(now - start_).count();
  const double frac = total_ ? double(done) / double(total_) : 1.0;
  const double eta = frac > 0 ? el * (1 - frac) / frac : 0.0;
  std::fprintf(stderr, "\r[%s] %5.1f%%  %llu/%llu  %.3g M/s  elapsed %.0fs  ETA %.0fs   ", label_.c_str(), 100 * frac,
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
               el > 0 ? work / el / 1e6 : 0.0, el, eta);
  std::fflush(stderr);
  printed_ = true;
}

void Progress::finish() {
  if (enabled_ && printed_) std::fprintf(stderr, "\n");
}

}  // namespace soret
