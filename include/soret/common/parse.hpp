#pragma once
// Option-value parsing helpers shared by every sub-command: errors name the option.
#include <string>
#include <vector>

namespace soret {

/// Splits on a delimiter, trimming blanks.
std::vector<std::string> split(const std::string& s, char delim);
/// Parses a double or throws InputError naming `option`.
double parse_double(const std::string& s, const std::string& option);
/// Parses an integer or throws InputError naming `option`; floating notation (1e6) is accepted
/// when the value is exactly an integer.
long long parse_int(const std::string& s, const std::string& option);

}  // namespace soret
