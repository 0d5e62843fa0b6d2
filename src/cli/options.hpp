#pragma once
// Shared option handling of the sub-commands: command line first, then an INI file given by
// --config (the command line wins), then notify.
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "soret/common/error.hpp"

namespace soret::cli {

/// Options read as unsigned integers: Boost wraps "-1" to 2^64 - 1, so a sign is refused here.
inline void check_unsigned(const std::vector<boost::program_options::option>& opts) {
  for (const auto& o : opts)
    if (o.string_key == "seed")
      for (const auto& v : o.value)
        if (v.find('-') != std::string::npos)
          throw InputError("seed", "--seed must be an integer >= 0 (got '" + v + "')");
}

/// --threads: 0 (all) or a count up to 1024 (libgomp fails on huge counts).
inline int threads_option(const boost::program_options::variables_map& vm) {
  const int t = vm["threads"].as<int>();
  if (t < 0 || t > 1024) throw InputError("threads", "--threads must be in [0, 1024] (0: all cores)");
  return t;
}

/// Parses argv (and --config FILE if the description has it) into vm. Returns false after
/// printing the help text when --help was given. Refused: positional arguments (every value
/// belongs to an option: `--g 1 0.5+q1` would otherwise drop the second profile), a --config
/// that is not a readable regular file, and a `config =` line inside a config file.
inline bool parse_options(const boost::program_options::options_description& desc, int argc, char** argv,
                          boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  const auto parsed = po::command_line_parser(argc, argv).options(desc).run();
  for (const auto& o : parsed.options)
    if (o.position_key >= 0 || o.string_key.empty()) {
      const std::string tok = o.original_tokens.empty() ? (o.value.empty() ? "" : o.value[0]) : o.original_tokens[0];
      throw InputError("", "unexpected argument '" + tok +
                               "': every value belongs to an option (an option taking one value per axis is repeated: "
                               "--g A --g B)");
    }
  check_unsigned(parsed.options);
  po::store(parsed, vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return false;
  }
  if (desc.find_nothrow("config", false) && vm.count("config")) {
    const auto path = vm["config"].as<std::string>();
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) throw InputError("config", "--config: cannot read '" + path + "'");
    if (!S_ISREG(st.st_mode)) throw InputError("config", "--config: '" + path + "' is not a regular file");
    std::ifstream in(path);
    if (!in) throw InputError("config", "--config: cannot read '" + path + "'");
    const auto file = po::parse_config_file(in, desc);
    for (const auto& o : file.options)
      if (o.string_key == "config")
        throw InputError("config", "--config: '" + path + "' has a 'config =' line; config files do not nest");
    check_unsigned(file.options);
    po::store(file, vm);
  }
  po::notify(vm);
  return true;
}

}  // namespace soret::cli
