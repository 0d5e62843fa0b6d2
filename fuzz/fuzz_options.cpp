// Fuzz target: command-line and INI option parsing (cli/options.hpp with option types as in
// `soret walk`), and the value parsers of every sub-command. Input: argv tokens separated by
// '\n'; after a NUL byte, the contents of a --config file. Bad input must end in InputError or a
// Boost.Program_options error (what main() turns into one line and exit 2); anything else —
// another exception, a crash, a sanitizer report — is a finding.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "soret/common/budget.hpp"
#include "soret/common/error.hpp"
#include "soret/common/parse.hpp"
#include "soret/net/model.hpp"
#include "soret/walk/init.hpp"
#include "soret/walk/model.hpp"
#include "soret/walk/observers.hpp"

namespace po = boost::program_options;
using namespace soret;

namespace {

template <class F>
void expect_input_error(F&& f) {
  try {
    f();
  } catch (const InputError&) {
  } catch (const po::error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const auto nul = in.find('\0');
  const std::string args = in.substr(0, nul), ini = nul == std::string::npos ? "" : in.substr(nul + 1);

  std::vector<std::string> tokens{"walk"};
  for (const auto& t : split(args, '\n')) tokens.push_back(t);
  static const std::string cfg = "/tmp/soret-fuzz-" + std::to_string(::getpid()) + ".ini";
  if (nul != std::string::npos) {
    std::ofstream(cfg, std::ios::binary) << ini;
    tokens.push_back("--config");
    tokens.push_back(cfg);
  }
  std::vector<char*> argv;
  for (auto& t : tokens) argv.push_back(t.data());

  po::options_description desc("fuzz");
  desc.add_options()("help,h", "")("config", po::value<std::string>(), "")("dim", po::value<int>()->default_value(1), "")(
      "walkers", po::value<long long>()->default_value(1), "")("eta", po::value<double>()->default_value(0.02), "")(
      "g", po::value<std::vector<std::string>>()->composing(), "")("seed", po::value<unsigned long long>()->default_value(1), "")(
      "step-stats", po::value<bool>()->default_value(false), "")("threads", po::value<int>()->default_value(0), "")(
      "init", po::value<std::string>()->default_value("uniform"), "")("times", po::value<std::string>()->default_value(""), "")(
      "windows", po::value<std::string>()->default_value(""), "")("domain", po::value<std::string>()->default_value("0:1"), "")(
      "groups", po::value<std::string>()->default_value(""), "")("net-init", po::value<std::string>()->default_value("pytorch"), "")(
      "max-memory", po::value<std::string>()->default_value("80%"), "")("quiet,q", "");
  po::variables_map vm;
  expect_input_error([&] {
    std::FILE* devnull = std::freopen("/dev/null", "w", stdout);  // --help prints
    (void)devnull;
    if (!cli::parse_options(desc, int(argv.size()), argv.data(), vm)) return;
    cli::threads_option(vm);
    const int dim = std::max(1, std::min(vm["dim"].as<int>(), 8));
    expect_input_error([&] { InitSpec::parse(vm["init"].as<std::string>(), dim); });
    expect_input_error([&] { parse_times(vm["times"].as<std::string>(), 1000, "density-at"); });
    expect_input_error([&] { parse_windows(vm["windows"].as<std::string>(), 1000, "flux-windows"); });
    expect_input_error([&] { parse_domain(vm["domain"].as<std::string>()); });
    expect_input_error([&] { parse_sign_groups(vm["groups"].as<std::string>(), dim); });
    expect_input_error([&] { net::Init::parse(vm["net-init"].as<std::string>()); });
    expect_input_error([&] { parse_memory_size(vm["max-memory"].as<std::string>(), "max-memory"); });
  });
  // The raw value parsers on the whole input.
  expect_input_error([&] { parse_double(args, "x"); });
  expect_input_error([&] { parse_int(args, "x"); });
  expect_input_error([&] { parse_boundary(args); });
  expect_input_error([&] { parse_noise(args); });
  expect_input_error([&] { parse_times(args, 1u << 20, "density-at"); });
  return 0;
}
