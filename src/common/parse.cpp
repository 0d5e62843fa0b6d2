#include "soret/common/parse.hpp"

#include <cmath>
#include <sstream>

#include "soret/common/error.hpp"

namespace soret {

std::vector<std::string> split(const std::string& s, char delim) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, delim)) {
    const auto b = cur.find_first_not_of(" \t"), e = cur.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? std::string() : cur.substr(b, e - b + 1));
  }
  if (!s.empty() && s.back() == delim) out.emplace_back();
  return out;
}

double parse_double(const std::string& s, const std::string& option) {
  try {
    size_t pos = 0;
    const double v = std::stod(s, &pos);
    if (pos == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw InputError(option, "--" + option + ": '" + s + "' is not a number");
}

long long parse_int(const std::string& s, const std::string& option) {
  try {
    size_t pos = 0;
    const long long v = std::stoll(s, &pos);
    if (pos == s.size()) return v;
    // Floating notation ("1e6", "2.5e3") is accepted when it is exactly an integer.
    const double d = std::stod(s, &pos);
    if (pos == s.size() && std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.2e18) return (long long)d;
  } catch (const std::exception&) {
  }
  throw InputError(option, "--" + option + ": '" + s + "' is not an integer");
}

}  // namespace soret
