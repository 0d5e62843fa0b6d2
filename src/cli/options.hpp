#pragma once
// Shared option handling of the sub-commands: command line first, then an INI file given by
// --config (the command line wins), then notify.
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "soret/common/error.hpp"

namespace soret::cli {

/// Parses argv (and --config FILE if the description has it) into vm. Returns false after
/// printing the help text when --help was given.
inline bool parse_options(const boost::program_options::options_description& desc, int argc, char** argv,
                          boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return false;
  }
  if (desc.find_nothrow("config", false) && vm.count("config")) {
    const auto path = vm["config"].as<std::string>();
    std::ifstream in(path);
    if (!in) throw InputError("config", "--config: cannot read '" + path + "'");
    po::store(po::parse_config_file(in, desc), vm);
  }
  po::notify(vm);
  return true;
}

}  // namespace soret::cli
