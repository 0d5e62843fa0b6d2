// Checkpoint and restart of `soret net` (issue 9), in separate processes: a run stopped (--stop-at,
// SIGTERM, SIGINT) and continued with --restart writes the same file, dataset by dataset and byte
// for byte, as the uninterrupted run; so does a run extended with --restart --steps. Refusals
// (contradicting options, damaged or foreign checkpoints) exit with status 2 and write nothing.
#include <doctest/doctest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <cmath>
#include <csignal>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

#include "restart_support.hpp"
#include "soret/common/interrupt.hpp"
#include "soret/io/hdf5.hpp"
#include "soret/io/net_state.hpp"

namespace fs = std::filesystem;
using soret::test::h5_differences;
using soret::test::soret_run;

namespace {

fs::path fresh_dir(const std::string& tag) { return soret::test::fresh_test_dir("restart-net", tag); }

/// Attributes that differ between an uninterrupted run and a stopped + restarted one by design:
/// wall times (each run's `seconds`, the generic backend's `record_seconds`, the checkpoints'
/// `checkpoint_seconds`), how many checkpoints this process wrote (`checkpoints_written`), and
/// where the restart came from (`restarted_from`: a path; `restarted_at`: the checkpoint's step).
const std::set<std::string> kIgnored = {"@seconds", "@record_seconds", "/run@checkpoint_seconds",
                                        "/run@checkpoints_written", "/run@restarted_from", "/run@restarted_at"};

std::string join_diffs(const std::vector<std::string>& v) { return soret::test::join_lines(v); }

std::int64_t run_attr(const fs::path& file, const char* name) {
  soret::h5::Handle f = soret::h5::open_file_read(file.string());
  auto g = soret::h5::open_group(f, "run");
  return soret::h5::read_attr_int64(g, name);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const std::string kTwoLayer =
    "net --inputs 5 --hidden 6 --ensemble 8 --record-every 10 --bootstrap 10 --density-every 3 --progress never -q";
const std::string kDeep =
    "net --arch fc:6,5 --inputs 5 --ensemble 6 --record-every 10 --grad-samples 8 --bootstrap 10 --progress never -q";

/// Uninterrupted run vs a run stopped at sweep step `stop` and continued with `restart_extra`.
void check_stop_and_restart(const std::string& base, const std::string& name, long long stop, const std::string& restart_extra,
                            std::set<std::string> ignore = kIgnored) {
  const fs::path d = fresh_dir(name);
  auto p = soret_run(base + " --out full.h5", d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
  p = soret_run(base + " --out b.h5 --stop-at " + std::to_string(stop), d);
  REQUIRE_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  CHECK(p.err.find("stopped (--stop-at)") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "b.h5"));
  REQUIRE(fs::exists(d / "b.checkpoint.h5"));
  REQUIRE(fs::exists(d / "b.partial.h5"));
  CHECK(run_attr(d / "b.partial.h5", "complete") == 0);
  fs::copy_file(d / "b.partial.h5", d / "stopped.h5");
  p = soret_run("net --restart b.checkpoint.h5 --progress never -q" + restart_extra, d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
  CHECK(run_attr(d / "b.h5", "complete") == 1);
  CHECK_FALSE(fs::exists(d / "b.partial.h5"));  // the complete output supersedes it
  const auto diffs = h5_differences((d / "full.h5").string(), (d / "b.h5").string(), ignore);
  CHECK_MESSAGE(diffs.empty(), join_diffs(diffs));
  // The comparison can fail: the partial output is not the complete one.
  CHECK_FALSE(h5_differences((d / "full.h5").string(), (d / "stopped.h5").string(), ignore).empty());
  fs::remove_all(d);
}

}  // namespace

TEST_SUITE_BEGIN("restart");

TEST_CASE("net two-layer: stopped at T and restarted to 2T equals the uninterrupted run") {
  check_stop_and_restart(kTwoLayer + " --eta 0.05 --steps 200", "twolayer", 100, "");
}

TEST_CASE("net: --stop-at is rounded up to a record boundary and may fall between two runs of a sweep") {
  check_stop_and_restart(kTwoLayer + " --eta 0.05 --steps 200", "rounded", 105, "");
  check_stop_and_restart(kTwoLayer + " --eta 0.05,0.1 --steps 200", "between", 200, "");
  const fs::path d = fresh_dir("rounding");
  auto p = soret_run(kTwoLayer + " --eta 0.05,0.1 --steps 200 --out b.h5 --stop-at 105", d);
  REQUIRE(p.status == soret::kExitInterrupted);
  CHECK(run_attr(d / "b.partial.h5", "t_reached") == 110);
  CHECK(run_attr(d / "b.partial.h5", "runs_complete") == 0);
  p = soret_run(kTwoLayer + " --eta 0.05,0.1 --steps 200 --out c.h5 --stop-at 200", d);
  REQUIRE(p.status == soret::kExitInterrupted);
  CHECK(p.err.find("run eta=0.1_B=1") != std::string::npos);
  CHECK(run_attr(d / "c.partial.h5", "runs_complete") == 1);
  fs::remove_all(d);
}

TEST_CASE("net two-layer: a restart with another thread count gives the same file") {
  auto ignore = kIgnored;
  ignore.insert({"/parameters@threads", "/run@threads"});  // the thread count of the run is a parameter of the file
  check_stop_and_restart(kTwoLayer + " --eta 0.05 --steps 200 --threads 2", "threads", 100, " --threads 1", ignore);
}

TEST_CASE("net two-layer sweep of two etas with --compare: the stop falls in the second run") {
  check_stop_and_restart(kTwoLayer + " --eta 0.05,0.1 --steps 200 --compare 1 --full-batch 16", "sweep", 330, "");
}

TEST_CASE("net fc: stopped in the second run of a sweep and restarted equals the uninterrupted run") {
  check_stop_and_restart(kDeep + " --eta 0.05,0.1 --steps 200", "deep", 250, "");
}

TEST_CASE("net fc: a restart with another thread count gives the same file") {
  auto ignore = kIgnored;
  ignore.insert({"/parameters@threads", "/run@threads"});
  check_stop_and_restart(kDeep + " --eta 0.05 --steps 200 --threads 2", "deepthreads", 60, " --threads 1", ignore);
}

TEST_CASE("net: a run of T with --checkpoint extended by --restart --steps 2T equals the run of 2T") {
  for (const std::string& base : {kTwoLayer + " --eta 0.05,0.1 --compare 1 --full-batch 16", kDeep + " --eta 0.05,0.1"}) {
    const fs::path d = fresh_dir("extend");
    auto p = soret_run(base + " --steps 400 --out full.h5", d);
    REQUIRE_MESSAGE(p.status == 0, p.err);
    p = soret_run(base + " --steps 200 --out e.h5 --checkpoint c.h5", d);
    REQUIRE_MESSAGE(p.status == 0, p.err);
    REQUIRE(fs::exists(d / "c.h5"));
    CHECK_FALSE(h5_differences((d / "full.h5").string(), (d / "e.h5").string(), kIgnored).empty());
    p = soret_run("net --restart c.h5 --steps 400 --progress never -q", d);
    REQUIRE_MESSAGE(p.status == 0, p.err);
    const auto diffs = h5_differences((d / "full.h5").string(), (d / "e.h5").string(), kIgnored);
    CHECK_MESSAGE(diffs.empty(), join_diffs(diffs));
    fs::remove_all(d);
  }
}

TEST_CASE("net: a restart with options that contradict the checkpoint is refused and writes nothing") {
  const fs::path d = fresh_dir("contradict");
  auto p = soret_run(kTwoLayer + " --eta 0.05 --steps 200 --out b.h5 --stop-at 100", d);
  REQUIRE(p.status == soret::kExitInterrupted);
  p = soret_run(kDeep + " --eta 0.05 --steps 200 --out d.h5 --stop-at 100", d);
  REQUIRE(p.status == soret::kExitInterrupted);
  const std::string ck = slurp(d / "b.checkpoint.h5"), dk = slurp(d / "d.checkpoint.h5");
  struct Case {
    std::string args, option;
  };
  for (const Case& c : {Case{"--restart b.checkpoint.h5 --eta 0.1", "--eta"}, Case{"--restart b.checkpoint.h5 --ensemble 9", "--ensemble"},
                        Case{"--restart b.checkpoint.h5 --hidden 7", "--hidden"},
                        Case{"--restart b.checkpoint.h5 --arch fc:6,5", "--arch"},
                        Case{"--restart d.checkpoint.h5 --arch fc:6,6", "--arch"},
                        Case{"--restart d.checkpoint.h5 --seed 2", "--seed"}}) {
    CAPTURE(c.args);
    p = soret_run("net " + c.args + " --out x.h5 -q", d);
    CHECK(p.status == 2);
    CHECK(p.err.find(c.option) != std::string::npos);
    CHECK(p.err.find("contradicts the checkpoint") != std::string::npos);
    CHECK(std::count(p.err.begin(), p.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(d / "x.h5"));
    CHECK_FALSE(fs::exists(d / "x.partial.h5"));
  }
  CHECK(slurp(d / "b.checkpoint.h5") == ck);
  CHECK(slurp(d / "d.checkpoint.h5") == dk);
  // Refused too: a checkpoint period that does not fall on record boundaries (of a sweep, of a
  // study: test_restart_study.cpp).
  p = soret_run(kTwoLayer + " --eta 0.05 --steps 200 --out y.h5 --checkpoint-every 15", d);
  CHECK(p.status == 2);
  CHECK(p.err.find("--checkpoint-every") != std::string::npos);
  p = soret_run("net --study paper --out study --checkpoint-every 15 -q", d);
  CHECK(p.status == 2);
  CHECK(p.err.find("--checkpoint") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "y.h5"));
  CHECK_FALSE(fs::exists(d / "study"));
  fs::remove_all(d);
}

TEST_CASE("net: corrupt truncated and foreign files for --restart are refused in one line naming the option") {
  const fs::path d = fresh_dir("corrupt");
  auto p = soret_run(kTwoLayer + " --eta 0.05 --steps 200 --out b.h5 --stop-at 100", d);
  REQUIRE(p.status == soret::kExitInterrupted);
  p = soret_run("walk --walkers 200 --steps 100 --stop-at 50 --out w.h5 -q --progress never", d);
  REQUIRE_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  REQUIRE(fs::exists(d / "w.checkpoint.h5"));
  const std::string good = slurp(d / "b.checkpoint.h5");
  {  // a byte flipped inside the data of a dataset (the parameters of the networks)
    haddr_t off = HADDR_UNDEF;
    {
      soret::h5::Handle f = soret::h5::open_file_read((d / "b.checkpoint.h5").string());
      soret::h5::Handle ds(H5Dopen2(f, "runs/000/final_W", H5P_DEFAULT), H5Dclose);
      off = H5Dget_offset(ds);
    }
    REQUIRE(off != HADDR_UNDEF);
    std::string bad = good;
    bad[off + 17] = char(bad[off + 17] ^ 0x10);
    std::ofstream(d / "flipped.h5", std::ios::binary) << bad;
  }
  std::ofstream(d / "truncated.h5", std::ios::binary) << good.substr(0, good.size() / 2);
  std::ofstream(d / "text.h5", std::ios::binary) << "not an HDF5 file\n";
  for (const char* f : {"flipped.h5", "truncated.h5", "text.h5", "w.checkpoint.h5", "b.partial.h5", "missing.h5"}) {
    CAPTURE(f);
    p = soret_run("net --restart " + std::string(f) + " --out x.h5 -q", d);
    CHECK(p.status == 2);
    CHECK(p.err.find("--restart") != std::string::npos);
    CHECK(std::count(p.err.begin(), p.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(d / "x.h5"));
    CHECK_FALSE(fs::exists(d / "x.partial.h5"));
    CHECK_FALSE(fs::exists(d / "x.checkpoint.h5"));
  }
  // The intact checkpoint is accepted (the refusals above are the damage's).
  p = soret_run("net --restart b.checkpoint.h5 --out x.h5 -q", d);
  CHECK_MESSAGE(p.status == 0, p.err);
  fs::remove_all(d);
}

TEST_CASE("net: checkpoints of the right kind with a valid checksum but an inconsistent state are refused") {
  const fs::path d = fresh_dir("schema");
  auto p = soret_run(kTwoLayer + " --eta 0.05,0.1 --steps 200 --out b.h5 --stop-at 300", d);
  REQUIRE(p.status == soret::kExitInterrupted);
  soret::io::CheckpointHeader h;
  const auto good = soret::io::read_net_state((d / "b.checkpoint.h5").string(), &h);
  REQUIRE(good.runs.size() == 2);
  struct Case {
    const char* what;
    std::function<void(soret::net::NetState&)> edit;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"record steps", [](soret::net::NetState& s) { s.runs[0].t[3] = s.runs[0].t[2]; }, "record steps are not increasing"},
      {"divergence step", [](soret::net::NetState& s) { s.runs[1].diverged_at[0] = 100000; }, "divergence step"},
      {"parameters", [](soret::net::NetState& s) { s.runs[1].final_V[3] = std::nan(""); }, "non-finite parameter"},
      {"records at t", [](soret::net::NetState& s) {
         s.runs[1].t_reached += 10;
       }, "records at step"},
      {"another sweep", [](soret::net::NetState& s) { std::swap(s.runs[0], s.runs[1]); }, "is not this sweep's"},
      {"backend", [](soret::net::NetState& s) { s.backend = "generic"; s.deep.resize(1); s.runs.clear(); }, "--restart"}};
  for (const auto& c : cases) {
    const std::string what = c.what;
    CAPTURE(what);
    auto st = good;
    c.edit(st);
    soret::io::write_net_state((d / "bad.h5").string(), st, h.options, h.context);
    p = soret_run("net --restart bad.h5 --out x.h5 -q", d);
    CHECK(p.status == 2);
    CHECK_MESSAGE(p.err.find(c.message) != std::string::npos, p.err);
    CHECK(p.err.find("--restart") != std::string::npos);
    CHECK(std::count(p.err.begin(), p.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(d / "x.h5"));
    CHECK_FALSE(fs::exists(d / "x.partial.h5"));
  }
  // The unedited state, written again by the same writer, restarts.
  soret::io::write_net_state((d / "same.h5").string(), good, h.options, h.context);
  p = soret_run("net --restart same.h5 --out x.h5 -q", d);
  CHECK_MESSAGE(p.status == 0, p.err);
  fs::remove_all(d);
}

TEST_CASE("net: SIGTERM and SIGINT stop a running sweep with a checkpoint and a partial output - and the restart completes it") {
  const std::string base = "--inputs 10 --hidden 10 --ensemble 16 --record-every 20 --eta 0.05 --bootstrap 10 --density-every 50 "
                           "--progress never -q --steps 6000 --checkpoint-every 500";
  for (int sig : {SIGTERM, SIGINT}) {
    CAPTURE(sig);
    const fs::path d = fresh_dir("signal");
    auto p = soret_run("net " + base + " --out full.h5", d);
    REQUIRE_MESSAGE(p.status == 0, p.err);
    std::vector<std::string> args = {"net"};
    std::istringstream in(base + " --out s.h5");
    for (std::string w; in >> w;) args.push_back(w);
    const pid_t pid = soret::test::soret_spawn(args, d);
    REQUIRE(pid > 0);
    REQUIRE(soret::test::wait_for_file(d / "s.checkpoint.h5", pid, 60));
    ::kill(pid, sig);
    CHECK(soret::test::soret_wait(pid) == soret::kExitInterrupted);
    CHECK(fs::exists(d / "s.checkpoint.h5"));
    REQUIRE(fs::exists(d / "s.partial.h5"));
    CHECK(run_attr(d / "s.partial.h5", "complete") == 0);
    CHECK(run_attr(d / "s.partial.h5", "t_reached") < 6000);
    CHECK_FALSE(fs::exists(d / "s.h5"));
    p = soret_run("net --restart s.checkpoint.h5 -q --progress never", d);
    REQUIRE_MESSAGE(p.status == 0, p.err);
    const auto diffs = h5_differences((d / "full.h5").string(), (d / "s.h5").string(), kIgnored);
    CHECK_MESSAGE(diffs.empty(), join_diffs(diffs));
    fs::remove_all(d);
  }
}

TEST_CASE("net: SIGKILL leaves no file under --out and a checkpoint that restarts") {
  const std::string base = "--inputs 10 --hidden 10 --ensemble 16 --record-every 20 --eta 0.05 --bootstrap 10 --density-every 50 "
                           "--progress never -q --steps 6000 --checkpoint-every 500";
  const fs::path d = fresh_dir("sigkill");
  std::vector<std::string> args = {"net"};
  std::istringstream in(base + " --out k.h5");
  for (std::string w; in >> w;) args.push_back(w);
  const pid_t pid = soret::test::soret_spawn(args, d);
  REQUIRE(pid > 0);
  REQUIRE(soret::test::wait_for_file(d / "k.checkpoint.h5", pid, 60));
  ::kill(pid, SIGKILL);
  CHECK(soret::test::soret_wait(pid) == 128 + SIGKILL);
  CHECK_FALSE(fs::exists(d / "k.h5"));
  auto p = soret_run("net --restart k.checkpoint.h5 --stop-at 5000 -q --progress never", d);
  CHECK_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  CHECK(run_attr(d / "k.partial.h5", "t_reached") == 5000);
  fs::remove_all(d);
}

TEST_CASE("h5_differences compares dimension-scale references by the paths they refer to") {
  const fs::path d = fresh_dir("support");
  auto p = soret_run(kTwoLayer + " --eta 0.05,0.1 --steps 40 --out a.h5", d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
  p = soret_run(kTwoLayer + " --eta 0.05,0.1 --steps 40 --out b.h5 --seed 2", d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
  {
    soret::h5::Handle f = soret::h5::open_file_read((d / "a.h5").string());
    soret::h5::Handle ds(H5Oopen(f, "runs/eta=0.1_B=1/loss", H5P_DEFAULT), H5Oclose);
    std::string dims;
    for (const auto& [name, v] : soret::test::detail::attrs(ds))
      if (name == "DIMENSION_LIST") dims.assign(v.begin(), v.end());
    CHECK(dims == "[1: /runs/eta=0.1_B=1/step][1: /runs/eta=0.1_B=1/network]");
  }
  CHECK(h5_differences((d / "a.h5").string(), (d / "a.h5").string()).empty());
  const auto diffs = h5_differences((d / "a.h5").string(), (d / "b.h5").string(), kIgnored);
  CHECK(std::find(diffs.begin(), diffs.end(), "dataset /runs/eta=0.1_B=1/loss") != diffs.end());
  fs::remove_all(d);
}

TEST_SUITE_END();
