#include "soret/common/budget.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "soret/common/error.hpp"
#include "soret/common/parse.hpp"

namespace soret {

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? double(pages) * double(size) : 0.0;
}

double default_memory_budget() { return 0.8 * physical_memory_bytes(); }

double parse_memory_size(const std::string& s0, const std::string& option) {
  std::string s = s0;
  const auto bad = [&] {
    return InputError(option, "--" + option + ": '" + s0 + "' is not a size (bytes, or a number with K, M, G or T, or a "
                                                          "percentage of the physical memory; 0: no limit)");
  };
  if (s.empty()) throw bad();
  double mult = 1;
  if (s.back() == '%') {
    s.pop_back();
    mult = physical_memory_bytes() / 100.0;
  } else {
    if (s.size() > 1 && (s.back() == 'B' || s.back() == 'b')) s.pop_back();
    if (s.size() > 1 && s.back() == 'i') s.pop_back();  // KiB, MiB, ...
    const char c = char(std::toupper(static_cast<unsigned char>(s.back())));
    const std::string units = "KMGT";
    if (const auto p = units.find(c); p != std::string::npos) {
      mult = std::pow(1024.0, double(p + 1));
      s.pop_back();
    }
  }
  double v = 0;
  try {
    v = parse_double(s, option);
  } catch (const InputError&) {
    throw bad();
  }
  if (!std::isfinite(v) || v < 0) throw bad();
  return v * mult;
}

std::string format_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (b >= 1024 && u < 6) { b /= 1024; ++u; }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

double MemoryEstimate::total() const {
  double t = 0;
  for (const auto& [w, b] : items) t += b;
  return t;
}

std::string MemoryEstimate::describe() const {
  auto sorted = items;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string s = format_bytes(total());
  for (size_t i = 0; i < sorted.size() && i < 4; ++i)
    s += (i ? ", " : ": ") + sorted[i].first + " " + format_bytes(sorted[i].second);
  return s;
}

void enforce_memory_budget(const MemoryEstimate& e, double budget) {
  if (budget > 0 && e.total() > budget)
    throw InputError("max-memory", "--max-memory: the run would need about " + e.describe() + ", more than the budget of " +
                                       format_bytes(budget) + " (default 80% of the physical memory); make it smaller or "
                                       "raise --max-memory");
}

}  // namespace soret
