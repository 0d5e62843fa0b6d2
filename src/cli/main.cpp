// The `soret` program: dispatches to sub-commands and turns errors into one line + exit status.
#include <boost/program_options/errors.hpp>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.hpp"
#include "soret/common/error.hpp"
#include "soret/common/mpi.hpp"
#include "soret/io/atomic_file.hpp"
#include "soret/version.hpp"

namespace {

void usage() {
  std::printf(
      "soret %s: Monte Carlo of particle density under inhomogeneous random walks, and SGD as such a walk\n\n"
      "Usage: soret <command> [options]\n\n"
      "Commands:\n"
      "  walk    simulate a walker ensemble; density, exact face-crossing flux, moments -> HDF5\n"
      "  check   theory-vs-measurement validation of the paper's Eq. 9-12 (report: Markdown, JSON, HDF5)\n"
      "  net     SGD on ensembles of two-layer ReLU nets; eta and batch sweeps; scaling study -> HDF5\n"
      "  help    this text\n\n"
      "Run 'soret <command> --help' for the options of a command.\n",
      soret::version);
}

}  // namespace

namespace {
int run(int argc, char** argv);
/// Set when an error was met by this rank alone (outside an agreement point, mpi::agree): the
/// other ranks may be waiting for it in a collective call, so every rank is ended at once.
bool g_rank_only_error = false;
}  // namespace

int main(int argc, char** argv) {
  soret::mpi::init(&argc, &argv);
  const int status = run(argc, argv);
  if (g_rank_only_error) soret::mpi::abort(status);
  soret::mpi::finalize();
  return status;
}


namespace {

/// Errors every rank meets alike (options, input files, agreed failures of a run) are printed by
/// rank 0 only; others by the rank that met them, marked with its number.
void report(const std::string& cmd, const char* what, bool shared) {
  if (soret::mpi::root()) std::fprintf(stderr, "soret %s: error: %s\n", cmd.c_str(), what);
  else if (!shared) std::fprintf(stderr, "soret %s: error (rank %d): %s\n", cmd.c_str(), soret::mpi::rank(), what);
}

/// An input or numerical error: met by every rank alike when it came out of an agreement or
/// before a distributed run started (options, validation); otherwise possibly by this rank alone
/// (a checkpoint written by rank 0 that cannot be created): then every rank is ended.
int fail(const std::string& cmd, const char* what, int status) {
  const bool shared = !soret::mpi::distributed() || soret::mpi::error_agreed() || !soret::mpi::run_started();
  report(cmd, what, shared);
  if (!shared) g_rank_only_error = true;
  return status;
}

int run(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("soret %s\n", soret::version);
    return 0;
  }
  const std::string cmd = argv[1];
  soret::io::install_signal_cleanup();  // SIGINT/SIGTERM/SIGHUP remove temporary output files
  try {
    if (cmd == "walk") return soret::cli::walk_main(argc - 1, argv + 1);
    if (cmd == "check") return soret::cli::check_main(argc - 1, argv + 1);
    if (cmd == "net") return soret::cli::net_main(argc - 1, argv + 1);
    std::fprintf(stderr, "soret: unknown command '%s' (try 'soret help')\n", cmd.c_str());
    return 2;
  } catch (const soret::InputError& e) {
    return fail(cmd, e.what(), 2);
  } catch (const boost::program_options::error& e) {
    report(cmd, e.what(), true);
    return 2;
  } catch (const soret::NumericalError& e) {
    return fail(cmd, e.what(), 3);
  } catch (const soret::mpi::SharedError& e) {
    report(cmd, e.what(), true);
    return 1;
  } catch (const std::exception& e) {
    report(cmd, e.what(), false);
    g_rank_only_error = true;
    return 1;
  }
}

}  // namespace
