// Checkpoint and restart of `soret walk` (issue 9): a run of 2T steps and a run stopped at T and
// restarted to 2T give bit-identical output files (every dataset; of the attributes only the
// timings, paths and thread counts may differ), in separate processes; a running process
// stopped by SIGTERM leaves a checkpoint and a partial output and no file under --out; SIGKILL
// leaves the last complete checkpoint. In-process: resuming from every checkpoint of a run
// reproduces its results exactly.
#include <doctest/doctest.h>

#include <signal.h>

#include <filesystem>
#include <set>

#include "helpers.hpp"
#include "restart_support.hpp"
#include "soret/common/error.hpp"
#include "soret/common/interrupt.hpp"
#include "soret/io/walk_state.hpp"

using namespace soret;
using namespace soret::test;
namespace fs = std::filesystem;

namespace {

fs::path fresh(const std::string& tag) { return soret::test::fresh_test_dir("restart", tag); }

/// Attributes a restarted run may write differently: timings, the output and restart paths, the
/// thread count, and the restart's own bookkeeping.
const std::set<std::string> kMayDiffer{"/run@seconds", "/run@walker_steps_per_second", "/run@threads", "/run@block",
                                       "/parameters@threads", "/parameters@out", "/run@restarted_from",
                                       "/run@restarted_at", "/run@seconds_before_restart", "/run@checkpoints_written",
                                       "/run@checkpoint_seconds"};

std::string join(const std::vector<std::string>& v) { return soret::test::join_lines(v); }

/// `soret walk -q ARGS` (a restart) succeeds and writes `out` equal to the uninterrupted d/a.h5.
void restart_equals(const fs::path& d, const std::string& args, const std::string& out) {
  const auto r = soret_run("walk -q " + args, d);
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  const auto diff = h5_differences((d / "a.h5").string(), (d / out).string(), kMayDiffer);
  CHECK_MESSAGE(diff.empty(), join(diff));
}

/// Uninterrupted vs stopped at `stop` and restarted (other thread count), same options.
void stop_and_restart(const std::string& tag, const std::string& opts, int stop) {
  const fs::path d = fresh(tag);
  REQUIRE(soret_run("walk -q " + opts + " --threads 2 --out a.h5", d).status == 0);
  const auto s = soret_run("walk -q " + opts + " --threads 1 --stop-at " + std::to_string(stop) + " --out b.h5", d);
  CAPTURE(s.err);
  REQUIRE(s.status == kExitInterrupted);
  CHECK(fs::exists(d / "b.checkpoint.h5"));
  CHECK(fs::exists(d / "b.partial.h5"));
  CHECK_FALSE(fs::exists(d / "b.h5"));  // only a complete run writes under --out
  {
    auto f = h5::open_file_read((d / "b.partial.h5").string());
    auto g = h5::open_group(f, "run");
    CHECK(h5::read_attr_int64(g, "complete") == 0);
    CHECK(h5::read_attr_int64(g, "t_reached") == stop);
  }
  restart_equals(d, "--restart b.checkpoint.h5 --threads 2", "b.h5");
  CHECK_FALSE(fs::exists(d / "b.partial.h5"));  // superseded by the complete run, and removed
  // The comparison itself can fail: another seed differs.
  REQUIRE(soret_run("walk -q " + opts + " --seed 99 --out c.h5", d).status == 0);
  CHECK_FALSE(h5_differences((d / "a.h5").string(), (d / "c.h5").string(), kMayDiffer).empty());
  fs::remove_all(d);
}

}  // namespace

TEST_SUITE_BEGIN("restart");

TEST_CASE("walk 1-D: 2T equals T + restart + T bit for bit - density average and flux windows spanning the stop") {
  stop_and_restart("1d", "--walkers 20000 --steps 2000 --density-at every:200 --flux-windows 0:700,700:2000,300:1300 "
                         "--density-avg 500:1500 --moments-every 100", 1013);
}

TEST_CASE("walk 2-D: stop and restart bit for bit") {
  stop_and_restart("2d", "--dim 2 --hist-axes 0,1 --bins 20,30 --walkers 20000 --steps 800 --density-at every:100 "
                         "--flux-windows every:80 --density-avg 0:800", 517);
}

TEST_CASE("walk absorbing boundary: stop and restart bit for bit - absorbed counts carried") {
  stop_and_restart("absorb", "--boundary absorbing --init point:0.5 --eta 0.05 --walkers 10000 --steps 1000 "
                             "--density-at every:100 --flux-windows every:250 --density-avg 400:900", 617);
}

TEST_CASE("walk general integrator and step statistics: stop and restart bit for bit") {
  stop_and_restart("general", "--noise gaussian --step-stats true --drift 0.001 --walkers 10000 --steps 600 "
                              "--density-avg 100:500", 333);
}

TEST_CASE("walk extended: T with --checkpoint then --restart --steps 2T equals 2T") {
  const fs::path d = fresh("extend");
  const std::string opts = "--walkers 20000 --density-at every:100 --flux-windows every:100 --moments-every 50";
  REQUIRE(soret_run("walk -q " + opts + " --steps 1000 --out a.h5", d).status == 0);
  REQUIRE(soret_run("walk -q " + opts + " --steps 500 --checkpoint c.h5 --out half.h5", d).status == 0);
  restart_equals(d, "--restart c.h5 --steps 1000 --out b.h5", "b.h5");
  fs::remove_all(d);
}

TEST_CASE("walk continued from a file then stopped: the restart needs no longer the first file") {
  const fs::path d = fresh("initfile");
  REQUIRE(soret_run("walk -q --walkers 10000 --steps 300 --out first.h5", d).status == 0);
  const std::string opts = "--init file:first.h5 --steps 600 --density-at every:100 --flux-windows every:100";
  REQUIRE(soret_run("walk -q " + opts + " --out a.h5", d).status == 0);
  REQUIRE(soret_run("walk -q " + opts + " --stop-at 250 --out b.h5", d).status == kExitInterrupted);
  fs::remove(d / "first.h5");
  restart_equals(d, "--restart b.checkpoint.h5", "b.h5");
  fs::remove_all(d);
}

TEST_CASE("walk SIGTERM: the running process stops at the next block - checkpoint - partial output - exit 75") {
  const fs::path d = fresh("sigterm");
  // The general integrator in small chunks: slow enough to be signalled in the middle.
  const std::vector<std::string> opts{"walk", "-q", "--noise", "gaussian", "--walkers", "10000", "--steps", "1500",
                                      "--threads", "1", "--density-at", "every:250", "--flux-windows",
                                      "every:250", "--checkpoint-every", "100"};
  auto args = opts;
  args.insert(args.end(), {"--chunk", "16", "--out", "b.h5"});
  const pid_t pid = soret_spawn(args, d);
  REQUIRE(pid > 0);
  REQUIRE(wait_for_file(d / "b.checkpoint.h5", pid, 60.0));
  ::kill(pid, SIGTERM);
  const int st = soret_wait(pid);
  REQUIRE(st == kExitInterrupted);
  CHECK(fs::exists(d / "b.partial.h5"));
  CHECK_FALSE(fs::exists(d / "b.h5"));
  {
    auto f = h5::open_file_read((d / "b.partial.h5").string());
    auto g = h5::open_group(f, "run");
    CHECK(h5::read_attr_int64(g, "complete") == 0);
    const auto t = h5::read_attr_int64(g, "t_reached");
    CHECK(t > 0);
    CHECK(t < 1500);
    CHECK(io::read_walk_state((d / "b.checkpoint.h5").string(), nullptr).t == std::uint64_t(t));
  }
  std::string cmd = "walk -q";
  for (size_t i = 2; i < opts.size(); ++i) cmd += " " + opts[i];
  REQUIRE(soret_run(cmd + " --chunk 256 --out a.h5", d).status == 0);
  restart_equals(d, "--restart b.checkpoint.h5", "b.h5");
  fs::remove_all(d);
}

TEST_CASE("walk SIGKILL: no file under --out - the last checkpoint is complete and continues the run") {
  const fs::path d = fresh("sigkill");
  const std::vector<std::string> args{"walk", "-q", "--noise", "gaussian", "--walkers", "20000", "--steps", "6000",
                                      "--chunk", "16", "--threads", "1", "--checkpoint-every", "50", "--out", "b.h5"};
  const pid_t pid = soret_spawn(args, d);
  REQUIRE(pid > 0);
  REQUIRE(wait_for_file(d / "b.checkpoint.h5", pid, 60.0));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // (likely in the middle of a later checkpoint)
  ::kill(pid, SIGKILL);
  CHECK(soret_wait(pid) == 128 + SIGKILL);
  CHECK_FALSE(fs::exists(d / "b.h5"));
  CHECK_FALSE(fs::exists(d / "b.partial.h5"));
  const auto st = io::read_walk_state((d / "b.checkpoint.h5").string(), nullptr);  // verified, checksum included
  CHECK(st.t % 50 == 0);
  CHECK(st.t > 0);
  for (const auto& e : fs::directory_iterator(d))  // a killed write leaves at most its hidden temporary
    if (e.path().filename() != "b.checkpoint.h5" && e.path().filename() != "child.log")
      CHECK(e.path().filename().string().rfind(".b.checkpoint.h5.tmp-", 0) == 0);
  fs::remove_all(d);
}

TEST_CASE("walk engine: resuming from each checkpoint of a run reproduces its results exactly") {
  const auto m = model_1d("1+0.5*sin(2*_pi*q)", 0.03, Boundary::reflecting);
  auto plan = plan_1d(m, 40, every(50, 600), {{0, 200}, {100, 450}, {450, 600}});
  plan.density_avg = Window{120, 480};
  plan.moments_every = 75;
  auto opt = run_opts(5000, 600, 3, 2);
  opt.chunk = 37;
  opt.checkpoint_every = 90;
  std::vector<WalkState> states;
  opt.on_checkpoint = [&](const WalkState& s) { states.push_back(s); };
  WalkEngine full(m, plan, InitSpec::parse("uniform", 1), opt);
  const auto ref = full.run();
  REQUIRE(states.size() == 6);  // 90, 180, ..., 540
  for (const auto& s : states) {
    CAPTURE(s.t);
    auto o2 = run_opts(5000, 600, 3, 1);
    o2.chunk = 64;
    o2.resume = &s;
    WalkEngine e(m, plan, InitSpec::parse("uniform", 1), o2);
    const auto r = e.run();
    CHECK(r.density_counts == ref.density_counts);
    CHECK(r.avg_counts == ref.avg_counts);
    CHECK(r.flux_plus == ref.flux_plus);
    CHECK(r.flux_minus == ref.flux_minus);
    CHECK(r.moments_t == ref.moments_t);
    CHECK(r.mean == ref.mean);
    CHECK(r.var == ref.var);
    CHECK(r.final_positions() == ref.final_positions());
  }
  // A state does not fit another seed or another plan.
  auto o3 = run_opts(5000, 600, 4, 1);
  o3.resume = &states[2];
  CHECK_THROWS_AS(WalkEngine(m, plan, InitSpec::parse("uniform", 1), o3).run(), InputError);
  auto p2 = plan;
  p2.density_times = every(60, 600);
  auto o4 = run_opts(5000, 600, 3, 1);
  o4.resume = &states[2];
  CHECK_THROWS_AS(WalkEngine(m, p2, InitSpec::parse("uniform", 1), o4).run(), InputError);
}

TEST_SUITE_END();
