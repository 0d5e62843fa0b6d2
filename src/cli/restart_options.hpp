#pragma once
// The options a checkpoint stores and a restart takes back (walk and net).
//
// A checkpoint stores the run's defining options as INI text (OptionRecord). On --restart FILE
// the stored values fill every option not given on the command line; a defining option that is
// given and differs from the stored value is refused (InputError naming it: exit status 2), since
// the checkpoint's state would not belong to the run asked for. Options that do not change the
// results (--threads, --block, --chunk, --progress, --out, ...) are not stored and may change.
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "soret/common/error.hpp"

namespace soret::cli {

struct OptionRecord {
  std::vector<std::pair<std::string, std::string>> items;  ///< (name, value) in order; repeated names compose

  void add(const std::string& name, const std::string& value) { items.emplace_back(name, value); }
  std::string ini() const {
    std::string s;
    for (const auto& [k, v] : items) s += k + " = " + v + "\n";
    return s;
  }
};

/// Text of a parsed option value that parses back to the same value (doubles with 17 digits).
/// Vectors give one text per element.
inline std::vector<std::string> value_texts(const boost::program_options::variable_value& v) {
  const auto& a = v.value();
  char b[40];
  if (const auto* p = boost::any_cast<double>(&a)) {  // the shortest text that reads back exactly
    for (int digits = 6; digits <= 17; ++digits) {
      std::snprintf(b, sizeof b, "%.*g", digits, *p);
      if (std::strtod(b, nullptr) == *p) break;
    }
    return {b};
  }
  if (const auto* p = boost::any_cast<int>(&a)) return {std::to_string(*p)};
  if (const auto* p = boost::any_cast<unsigned long long>(&a)) return {std::to_string(*p)};
  if (const auto* p = boost::any_cast<long long>(&a)) return {std::to_string(*p)};
  if (const auto* p = boost::any_cast<bool>(&a)) return {*p ? "true" : "false"};
  if (const auto* p = boost::any_cast<std::string>(&a)) return {*p};
  if (const auto* p = boost::any_cast<std::vector<std::string>>(&a)) return *p;
  return {};
}

/// Adds the current values of `names` (those present in vm) to the record.
inline void record_options(OptionRecord& rec, const boost::program_options::variables_map& vm,
                           const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (!vm.count(n)) continue;
    for (const auto& t : value_texts(vm[n])) rec.add(n, t);
  }
}

/// --restart: merges the stored options into vm (see the header comment). Stored options named in
/// `may_differ` (--steps, --out, ...) are defaults the command line may override. Throws
/// InputError naming the first contradicting option.
inline void apply_stored_options(const boost::program_options::options_description& desc,
                                 boost::program_options::variables_map& vm, const std::string& ini,
                                 const std::string& path, const std::vector<std::string>& may_differ = {}) {
  namespace po = boost::program_options;
  std::istringstream in(ini);
  po::variables_map stored;
  try {
    po::store(po::parse_config_file(in, desc), stored);
  } catch (const po::error& e) {
    throw InputError("restart", "--restart: '" + path + "' stores options this soret does not accept: " + e.what());
  }
  for (const auto& [name, value] : stored) {
    if (value.defaulted()) continue;  // (store() adds every option's default: not the checkpoint's)
    const auto it = vm.find(name);
    if (it != vm.end() && !it->second.defaulted()) {
      if (std::find(may_differ.begin(), may_differ.end(), name) != may_differ.end()) continue;
      const auto given = value_texts(it->second), kept = value_texts(value);
      if (given != kept) {
        std::string g, k;
        for (const auto& s : given) g += (g.empty() ? "" : ", ") + s;
        for (const auto& s : kept) k += (k.empty() ? "" : ", ") + s;
        throw InputError(name, "--restart: --" + name + " " + g + " contradicts the checkpoint '" + path + "' (" + name +
                                   " = " + k + "); a restart continues the same run (leave --" + name + " out)");
      }
      continue;
    }
    vm.erase(name);
    vm.insert({name, po::variable_value(value.value(), false)});
  }
}

}  // namespace soret::cli
