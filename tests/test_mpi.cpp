// MPI ranks (issue 11; only in a build with -DSORET_MPI=ON): `mpirun -np K soret walk ...` and
// `mpirun -np K soret net ...` write the file a single process writes — every dataset and every
// attribute but wall times and the ranks x threads used, bit for bit — for K = 1, 2, 3
// (oversubscribed on a 2-core machine): walks 1-D and 2-D, periodic and absorbing, the general
// integrator with step statistics and moments; two-layer sweeps with parameter-space fields and
// the mechanism runs, generic-backend (fc, conv) sweeps, held-out sets and Hessian records,
// --study paper; stopped under K ranks and
// restarted under others; `soret check` on 2 ranks gives the single-process report; bad input
// gives one line, exit 2, and a failure met by rank 0 alone stops every rank.
#include <doctest/doctest.h>

#ifdef SORET_HAVE_MPI

#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "restart_support.hpp"
#include "soret/common/interrupt.hpp"

using namespace soret;
using namespace soret::test;
namespace fs = std::filesystem;

namespace {

fs::path fresh(const std::string& tag) { return soret::test::fresh_test_dir("mpi", tag); }

/// `mpirun -np K soret ARGS` in dir (root allowed, oversubscription allowed).
Proc mpirun(int k, const std::string& args, const fs::path& dir) {
  return soret_run_prefixed("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
                            "mpirun --quiet -np " + std::to_string(k) + " --oversubscribe --bind-to none",
                            args, dir);
}

const std::set<std::string> kMayDiffer{"/run@seconds", "/run@walker_steps_per_second", "/run@threads", "/run@block", "/run@ranks", "/run@reduce_seconds",
                                       "/parameters@threads", "/parameters@out", "/run@checkpoint_seconds",
                                       "/run@restarted_from", "/run@restarted_at", "/run@seconds_before_restart",
                                       "/run@checkpoints_written"};

std::string join(const std::vector<std::string>& v) { return soret::test::join_lines(v); }

/// Net files: also each run's wall times.
std::set<std::string> net_may_differ() {
  auto s = kMayDiffer;
  s.insert({"@seconds", "@record_seconds"});
  return s;
}

/// `soret net OPTS` on one process (2 threads) and on K = 2, 3 ranks (1 thread each): same file.
void net_same_for_ranks(const std::string& tag, const std::string& opts, const std::string& out = "out.h5") {
  const fs::path d = fresh(tag);
  fs::create_directories(d / "one");
  REQUIRE(soret_run("net -q " + opts + " --threads 2 --out one/" + out, d).status == 0);
  for (int k : {2, 3}) {
    CAPTURE(k);
    const std::string dir = "np" + std::to_string(k);
    fs::create_directories(d / dir);
    const auto r = mpirun(k, "net -q " + opts + " --threads 1 --out " + dir + "/" + out, d);
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    for (const auto& e : fs::directory_iterator(d / "one")) {
      if (e.path().extension() != ".h5" || e.path().filename().string().find("checkpoint") != std::string::npos) continue;
      CAPTURE(e.path().filename().string());
      const auto diff = h5_differences(e.path().string(), (d / dir / e.path().filename()).string(), net_may_differ());
      CHECK_MESSAGE(diff.empty(), join(diff));
      auto f = h5::open_file_read((d / dir / e.path().filename()).string());
      auto g = h5::open_group(f, "run");
      CHECK(h5::read_attr_int64(g, "ranks") == k);
      CHECK(h5::read_attr_int64(g, "threads") == 1);
    }
  }
  fs::remove_all(d);
}

void same_for_ranks(const std::string& tag, const std::string& opts) {
  const fs::path d = fresh(tag);
  REQUIRE(soret_run("walk -q " + opts + " --threads 2 --out one.h5", d).status == 0);
  for (int k : {1, 2, 3}) {
    CAPTURE(k);
    const std::string out = "np" + std::to_string(k) + ".h5";
    const auto r = mpirun(k, "walk -q " + opts + " --threads 1 --out " + out, d);
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    const auto diff = h5_differences((d / "one.h5").string(), (d / out).string(), kMayDiffer);
    CHECK_MESSAGE(diff.empty(), join(diff));
    auto f = h5::open_file_read((d / out).string());
    auto g = h5::open_group(f, "run");
    CHECK(h5::read_attr_int64(g, "ranks") == k);
  }
  fs::remove_all(d);
}

}  // namespace

TEST_SUITE_BEGIN("mpi");

TEST_CASE("mpi walk 1-D periodic: 1 2 and 3 ranks write the single process file") {
  same_for_ranks("1d", "--walkers 10000 --steps 400 --density-at every:50 --flux-windows every:40 --density-avg 100:300 "
                       "--moments-every 25");
}

TEST_CASE("mpi walk 2-D and absorbing walls: the ranks write the single process file") {
  same_for_ranks("2d", "--dim 2 --hist-axes 0,1 --bins 10,12 --walkers 9000 --steps 300 --boundary absorbing "
                       "--init gaussian:0.5,0.1 --eta 0.05 --density-at every:50 --flux-windows every:100");
}

TEST_CASE("mpi walk general integrator with step statistics: the ranks write the single process file") {
  same_for_ranks("general", "--noise gaussian --step-stats true --drift 0.001 --walkers 9000 --steps 200 --moments-every 20");
}

TEST_CASE("mpi walk stopped and restarted under ranks equals the single process run") {
  const fs::path d = fresh("restart");
  const std::string opts = "--walkers 10000 --steps 600 --density-at every:100 --flux-windows every:150 --density-avg 100:500";
  REQUIRE(soret_run("walk -q " + opts + " --out one.h5", d).status == 0);
  REQUIRE(mpirun(3, "walk -q " + opts + " --threads 1 --stop-at 277 --out b.h5", d).status == kExitInterrupted);
  CHECK_FALSE(fs::exists(d / "b.h5"));
  const auto r = mpirun(2, "walk -q --restart b.checkpoint.h5 --threads 1", d);
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  const auto diff = h5_differences((d / "one.h5").string(), (d / "b.h5").string(), kMayDiffer);
  CHECK_MESSAGE(diff.empty(), join(diff));
  fs::remove_all(d);
}

TEST_CASE("mpi check: a scenario on 2 and 3 ranks gives the single process report and fields") {
  // (the 16 replicas spread over the ranks: 8 + 8, and 5 + 5 + 6)
  const fs::path d = fresh("check");
  REQUIRE(soret_run("check -q --fast --only soret --report one", d).status == 0);
  for (int k : {3, 2}) {
    const auto r = mpirun(k, "check -q --fast --only soret --threads 1 --report two", d);
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    const auto diff = h5_differences((d / "one" / "fields.h5").string(), (d / "two" / "fields.h5").string(), kMayDiffer);
    CHECK_MESSAGE(diff.empty(), join(diff));
  }
  auto json = [&](const fs::path& p) {  // without the wall time
    std::ifstream in(p);
    std::string line, all;
    while (std::getline(in, line))
      if (line.find("\"seconds\"") == std::string::npos) all += line + "\n";
    return all;
  };
  const std::string a = json(d / "one" / "report.json");
  CHECK(a.size() > 100);
  CHECK(a == json(d / "two" / "report.json"));
  fs::remove_all(d);
}

TEST_CASE("mpi net two-layer sweep with fields and mechanism runs: the ranks write the single process file") {
  net_same_for_ranks("net2", "--ensemble 7 --steps 120 --record-every 10 --eta 0.05,0.1 --batch 1,4 --compare 1 "
                             "--full-batch 64 --density-every 3 --probe 16");
}

TEST_CASE("mpi net generic backend fc and conv sweeps: the ranks write the single process file") {
  net_same_for_ranks("netfc", "--arch fc:20,20 --inputs 30 --ensemble 5 --steps 60 --record-every 10 --grad-samples 16 "
                              "--eta 0.05 --batch 1,8");
  net_same_for_ranks("netconv", "--arch conv:3,3 --data fashion-mnist --classes 10 --ensemble 4 --steps 20 "
                                "--record-every 5 --grad-samples 8 --eta 0.01 --batch 2");
}

TEST_CASE("mpi net study paper tiny: the ranks write the single process files") {
  net_same_for_ranks("study", "--study paper --study-size tiny", "");
}

TEST_CASE("mpi net held-out sets and Hessian records: the ranks write the single process file") {
  net_same_for_ranks("hessian", "--arch twolayer --inputs 8 --hidden 12 --labels teacher --train-size 100 --test-size 300 "
                                "--hessian-every 1 --ensemble 5 --steps 100 --record-every 25 --eta 0.05,0.1 --batch 2");
}

TEST_CASE("mpi net stopped on 3 ranks and restarted on 2 equals the single process run") {
  const fs::path d = fresh("netrestart");
  for (const std::string opts : {"--ensemble 7 --steps 200 --eta 0.05,0.1 --batch 2 --record-every 10 --density-every 2",
                                 "--arch fc:20,20 --inputs 30 --ensemble 5 --steps 60 --record-every 10 --grad-samples 16 "
                                 "--eta 0.05 --batch 1,8"}) {
    CAPTURE(opts);
    REQUIRE(soret_run("net -q " + opts + " --out one.h5", d).status == 0);
    REQUIRE(mpirun(3, "net -q " + opts + " --threads 1 --stop-at 70 --out b.h5", d).status == kExitInterrupted);
    CHECK_FALSE(fs::exists(d / "b.h5"));
    CHECK(fs::exists(d / "b.partial.h5"));
    const auto r = mpirun(2, "net -q --restart b.checkpoint.h5 --threads 1", d);
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    CHECK_FALSE(fs::exists(d / "b.partial.h5"));  // (superseded by the complete output)
    auto may = net_may_differ();
    may.insert({"/run@restarted_from", "/run@restarted_at", "/run@checkpoints_written"});
    const auto diff = h5_differences((d / "one.h5").string(), (d / "b.h5").string(), may);
    CHECK_MESSAGE(diff.empty(), join(diff));
    for (const auto* f : {"one.h5", "b.h5", "b.checkpoint.h5"}) fs::remove(d / f);
  }
  fs::remove_all(d);
}

TEST_CASE("mpi bad input: every rank exits with status 2 and the line is printed once") {
  const fs::path d = fresh("bad");
  const auto r = mpirun(3, "walk -q --walkers 100 --steps 10 --eta -1 --out x.h5", d);
  CHECK(r.status == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find("--eta") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "x.h5"));
  const auto n = mpirun(2, "net -q --steps 10 --batch 0 --out x.h5", d);
  CHECK(n.status == 2);
  CHECK(std::count(n.err.begin(), n.err.end(), '\n') == 1);
  CHECK(n.err.find("--batch") != std::string::npos);
  fs::remove_all(d);
}

TEST_CASE("mpi a failure met by one rank stops every rank: one line and no hang") {
  const fs::path d = fresh("onerank");
  // The output place is checked by rank 0 alone (it writes): the others must not wait for it.
  std::ofstream(d / "plain") << "a file, not a directory";
  for (const std::string cmd : {"walk -q --walkers 20000 --steps 2000000", "net -q --ensemble 4 --steps 2000000",
                                "check -q --fast --only soret --report plain/r"}) {
    CAPTURE(cmd);
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = mpirun(2, cmd + (cmd.rfind("check", 0) == 0 ? "" : " --out plain/x.h5"), d);
    CHECK(r.status == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find("plain/") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));  // (the full run would take minutes)
  }
  // A write failure on rank 0 alone in the middle of a run (its checkpoint directory removed):
  // every rank ends (abort), none waits in the next block's agreement.
  fs::create_directories(d / "ck");
  const std::string launch = "cd '" + d.string() + "' && (OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                             "mpirun --quiet -np 2 --oversubscribe --bind-to none " + std::string(SORET_BINARY) +
                             " net -q --ensemble 4 --steps 4000000 --checkpoint-every 2000 --checkpoint ck/x.h5 --threads 1 "
                             "--out y.h5 >/dev/null 2>mid.err; echo $? >status) &";
  REQUIRE(std::system(launch.c_str()) == 0);
  const auto t0c = std::chrono::steady_clock::now();
  while (!fs::exists(d / "ck" / "x.h5") && !fs::exists(d / "status") &&
         std::chrono::steady_clock::now() - t0c < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(fs::exists(d / "ck" / "x.h5"));
  fs::remove_all(d / "ck");
  const auto t1 = std::chrono::steady_clock::now();
  while (!fs::exists(d / "status") && std::chrono::steady_clock::now() - t1 < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(fs::exists(d / "status"));
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(30));  // (the whole run would take minutes)
  int st = 0;
  std::ifstream(d / "status") >> st;
  CHECK(st != 0);
  CHECK_FALSE(fs::exists(d / "y.h5"));
  // The memory check depends on each rank's node and threads: one rank refusing (64 threads' work
  // arrays over --max-memory) stops the other, which alone would fit.
  {
    const std::string a = " net -q --arch fc:1000,1000 --inputs 100 --ensemble 4 --steps 2000 --max-memory 1G --out m.h5";
    const std::string cmd = "cd '" + d.string() + "' && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                            "timeout 120 mpirun --quiet --oversubscribe --bind-to none -np 1 env OMP_NUM_THREADS=1 " +
                            std::string(SORET_BINARY) + a + " : -np 1 env OMP_NUM_THREADS=64 " + std::string(SORET_BINARY) + a +
                            " >/dev/null 2>mem.err";
    const auto t2 = std::chrono::steady_clock::now();
    const int rc = std::system(cmd.c_str());
    CHECK(WIFEXITED(rc));
    CHECK(WEXITSTATUS(rc) == 2);
    CHECK(std::chrono::steady_clock::now() - t2 < std::chrono::seconds(30));
    std::ifstream in(d / "mem.err");
    const std::string err((std::istreambuf_iterator<char>(in)), {});
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
    CHECK(err.find("--max-memory") != std::string::npos);
    CHECK_FALSE(fs::exists(d / "m.h5"));
  }
  // An unreadable input file (every rank reads the checkpoint): exit 2 on every rank, one line.
  std::ofstream(d / "bad.h5") << "not an HDF5 file";
  const auto r = mpirun(3, "net -q --restart bad.h5", d);
  CHECK(r.status == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  fs::remove_all(d);
}

TEST_SUITE_END();

#endif
