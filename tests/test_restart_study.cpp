// Checkpoint and restart of `soret net --study paper|deep` (issue 9), in separate processes, at
// --study-size tiny (paper: every part with 8 networks and 200 steps, about 2 s per study here;
// deep: 2 networks and 10 steps, about 4 s, mostly reading Fashion-MNIST and the analyses). A study
// stopped (--stop-at inside its second run and inside a later part, SIGTERM, SIGKILL after a
// periodic checkpoint) and continued with --restart writes the same files as the uninterrupted
// study: every dataset byte for byte, summary.md byte for byte; only wall times, thread counts and
// the restart's provenance differ. A stopped study leaves no file of an incomplete part under its
// final name (--study deep: summary.md equal but for its wall-time lines). Refusals
// (contradicting options, damaged or foreign checkpoints) exit with status 2 and write nothing.
#include <doctest/doctest.h>
#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "restart_support.hpp"
#include "soret/common/interrupt.hpp"
#include "soret/io/hdf5.hpp"

namespace fs = std::filesystem;
using soret::test::h5_differences;
using soret::test::soret_run;

TEST_SUITE_BEGIN("restart");

namespace {

fs::path fresh_dir(const std::string& tag) { return soret::test::fresh_test_dir("restart-study", tag); }

/// Attributes that differ by design between an uninterrupted study and a stopped + restarted one:
/// wall times, checkpoint counts and costs, the restart's provenance, the thread count.
const std::set<std::string> kIgnored = {"@seconds", "/run@checkpoint_seconds", "/run@checkpoints_written",
                                        "/run@restarted_from", "/run@restarted_at", "/parameters@threads", "/run@threads"};

const std::string kStudy = "net --study paper --study-size tiny --bootstrap 20 --progress never -q";
const std::vector<std::string> kParts = {"gaussian_eta", "gaussian_batch", "uniform_eta", "uniform_batch",
                                         "fig2_gaussian_eta_M100"};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string join(const std::vector<std::string>& v) { return soret::test::join_lines(v); }

std::int64_t run_attr(const fs::path& file, const char* name) {
  soret::h5::Handle f = soret::h5::open_file_read(file.string());
  auto g = soret::h5::open_group(f, "run");
  return soret::h5::read_attr_int64(g, name);
}

/// The files of a finished study in `got` equal those of the uninterrupted one in `want`.
void check_same_study(const fs::path& want, const fs::path& got) {
  for (const auto& p : kParts) {
    CAPTURE(p);
    const fs::path a = want / (p + ".h5"), b = got / (p + ".h5");
    REQUIRE(fs::exists(a));
    REQUIRE(fs::exists(b));
    const auto diff = h5_differences(a.string(), b.string(), kIgnored);
    CHECK_MESSAGE(diff.empty(), join(diff));
    CHECK(run_attr(b, "complete") == 1);
    CHECK_FALSE(fs::exists(got / (p + ".partial.h5")));
  }
  REQUIRE(fs::exists(got / "summary.md"));
  CHECK(slurp(want / "summary.md") == slurp(got / "summary.md"));
}

/// The uninterrupted tiny study into dir/name.
void reference_study(const fs::path& d, const std::string& name) {
  const auto p = soret_run(kStudy + " --threads 2 --out " + name, d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
}

}  // namespace

TEST_CASE("study paper: the comparison tells different parts apart") {
  // (so that the equalities below can fail: two parts of one study differ in their datasets)
  const fs::path d = fresh_dir("sanity");
  reference_study(d, "a");
  CHECK_FALSE(h5_differences((d / "a/gaussian_eta.h5").string(), (d / "a/uniform_eta.h5").string(), kIgnored).empty());
  fs::remove_all(d);
}

TEST_CASE("study paper: stopped inside its second run and inside a later part then restarted writes the uninterrupted files") {
  const fs::path d = fresh_dir("stop");
  reference_study(d, "a");
  // Stop 1: step 300 of the study = step 100 of its second run (gaussian_eta, eta = 0.05).
  auto p = soret_run(kStudy + " --threads 1 --checkpoint-every 100 --stop-at 300 --out b", d);
  REQUIRE_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  CHECK(p.err.find("gaussian_eta/eta=0.05_B=1") != std::string::npos);
  CHECK(p.err.find("soret net --restart b/study.checkpoint.h5") != std::string::npos);
  CHECK(fs::exists(d / "b/study.checkpoint.h5"));
  for (const auto& part : kParts) CHECK_FALSE(fs::exists(d / "b" / (part + ".h5")));
  CHECK_FALSE(fs::exists(d / "b/summary.md"));
  REQUIRE(fs::exists(d / "b/gaussian_eta.partial.h5"));
  CHECK(run_attr(d / "b/gaussian_eta.partial.h5", "complete") == 0);
  CHECK(run_attr(d / "b/gaussian_eta.partial.h5", "runs_complete") == 1);
  // Stop 2 (options from the checkpoint, another thread count): inside the third part (uniform_eta).
  p = soret_run("net --restart b/study.checkpoint.h5 --threads 2 --checkpoint-every 0 --stop-at 2500 -q --progress never", d);
  REQUIRE_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  CHECK(p.err.find("uniform_eta/") != std::string::npos);
  CHECK(fs::exists(d / "b/gaussian_eta.h5"));
  CHECK(fs::exists(d / "b/gaussian_batch.h5"));
  CHECK_FALSE(fs::exists(d / "b/gaussian_eta.partial.h5"));  // superseded by the part's file
  CHECK_FALSE(fs::exists(d / "b/uniform_eta.h5"));
  CHECK(fs::exists(d / "b/uniform_eta.partial.h5"));
  CHECK(fs::exists(d / "b/summary.md"));
  // The complete parts are already the uninterrupted study's.
  for (const char* part : {"gaussian_eta", "gaussian_batch"}) {
    const auto diff = h5_differences((d / "a" / (std::string(part) + ".h5")).string(),
                                     (d / "b" / (std::string(part) + ".h5")).string(), kIgnored);
    CHECK_MESSAGE(diff.empty(), join(diff));
  }
  // To the end, with the study's options given again (equal: accepted).
  p = soret_run(kStudy + " --restart b/study.checkpoint.h5 --threads 1", d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
  check_same_study(d / "a", d / "b");
  CHECK(run_attr(d / "b/uniform_eta.h5", "restarted_at") == 2500);
  fs::remove_all(d);
}

TEST_CASE("study paper: SIGTERM stops a running study with exit 75 and the restart completes it") {
  const fs::path d = fresh_dir("sigterm");
  reference_study(d, "a");
  const std::vector<std::string> args = {"net", "--study", "paper", "--study-size", "tiny", "--bootstrap", "20",
                                         "--progress", "never", "-q", "--threads", "1", "--checkpoint-every", "200",
                                         "--out", "b"};
  const pid_t pid = soret::test::soret_spawn(args, d);
  REQUIRE(pid > 0);
  REQUIRE(soret::test::wait_for_file(d / "b/study.checkpoint.h5", pid, 60));
  ::kill(pid, SIGTERM);
  CHECK(soret::test::soret_wait(pid) == soret::kExitInterrupted);
  const std::string log = slurp(d / "child.log");
  CHECK(log.find("stopped (SIGTERM)") != std::string::npos);
  CHECK(log.find("--restart b/study.checkpoint.h5") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "b/fig2_gaussian_eta_M100.h5"));
  auto p = soret_run("net --restart b/study.checkpoint.h5 --checkpoint-every 0 -q --progress never", d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
  check_same_study(d / "a", d / "b");
  fs::remove_all(d);
}

TEST_CASE("study paper: a SIGKILLed study continues from its last periodic checkpoint") {
  const fs::path d = fresh_dir("sigkill");
  reference_study(d, "a");
  const std::vector<std::string> args = {"net", "--study", "paper", "--study-size", "tiny", "--bootstrap", "20",
                                         "--progress", "never", "-q", "--threads", "1", "--checkpoint-every", "100",
                                         "--checkpoint", "k.h5", "--out", "b"};
  const pid_t pid = soret::test::soret_spawn(args, d);
  REQUIRE(pid > 0);
  REQUIRE(soret::test::wait_for_file(d / "k.h5", pid, 60));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(pid, SIGKILL);
  const int st = soret::test::soret_wait(pid);
  CHECK((st == 128 + SIGKILL || st == 0));  // (0: it finished first; the restart then has nothing left to do)
  auto p = soret_run("net --restart k.h5 --checkpoint-every 0 -q --progress never", d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
  check_same_study(d / "a", d / "b");
  fs::remove_all(d);
}

TEST_CASE("study paper: contradicting options and foreign checkpoints on restart are refused and write nothing") {
  const fs::path d = fresh_dir("refuse");
  auto p = soret_run(kStudy + " --stop-at 300 --out b", d);
  REQUIRE_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  const std::string ck = slurp(d / "b/study.checkpoint.h5");
  auto listing = [&] {
    std::vector<std::string> v;
    for (const auto& e : fs::recursive_directory_iterator(d))
      if (e.path().filename() != "stderr.txt") v.push_back(e.path().string());
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto before = listing();
  struct Case { std::string args, option; };
  const std::vector<Case> cases = {{"--bootstrap 30", "bootstrap"},
                                   {"--seed 2", "seed"},
                                   {"--study-size full", "study-size"},
                                   {"--study deep", "study"}};
  for (const auto& c : cases) {
    CAPTURE(c.args);
    p = soret_run("net --restart b/study.checkpoint.h5 " + c.args + " -q", d);
    CHECK(p.status == 2);
    CHECK(p.err.find("--" + c.option) != std::string::npos);
    CHECK(std::count(p.err.begin(), p.err.end(), '\n') == 1);
  }
  // Options a study does not take, and a stop outside the study.
  p = soret_run("net --restart b/study.checkpoint.h5 --eta 0.1 -q", d);
  CHECK(p.status == 2);
  CHECK(p.err.find("--eta") != std::string::npos);
  p = soret_run("net --restart b/study.checkpoint.h5 --stop-at 100 -q", d);  // before the checkpoint's step
  CHECK(p.status == 2);
  CHECK(p.err.find("--stop-at") != std::string::npos);
  p = soret_run("net --restart b/study.checkpoint.h5 --stop-at 999999 -q", d);
  CHECK(p.status == 2);
  CHECK(p.err.find("--stop-at") != std::string::npos);
  CHECK(listing() == before);
  CHECK(slurp(d / "b/study.checkpoint.h5") == ck);
  // A sweep's checkpoint is not a study's, nor the other way round.
  p = soret_run("net --inputs 5 --hidden 6 --ensemble 4 --eta 0.05 --steps 100 --record-every 10 --bootstrap 5 "
                "--stop-at 50 --out s.h5 -q --progress never", d);
  REQUIRE_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  p = soret_run("net --restart s.checkpoint.h5 --study paper --out c -q", d);
  CHECK(p.status == 2);
  CHECK(p.err.find("--restart") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "c"));
  p = soret_run("net --restart b/study.checkpoint.h5 --study \"\" -q", d);
  CHECK(p.status == 2);
  // A checkpoint period off the record boundaries (20 for paper; 200 for deep, 5 for deep tiny).
  p = soret_run("net --study deep --checkpoint-every 100 --out e -q", d);
  CHECK(p.status == 2);
  CHECK(p.err.find("--checkpoint-every") != std::string::npos);
  p = soret_run(kStudy + " --checkpoint-every 30 --out f", d);
  CHECK(p.status == 2);
  CHECK(p.err.find("--checkpoint-every") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "e"));
  CHECK_FALSE(fs::exists(d / "f"));
  p = soret_run("net --study-size tiny --out g.h5 -q", d);
  CHECK(p.status == 2);
  CHECK(p.err.find("--study-size") != std::string::npos);
  fs::remove_all(d);
}

TEST_CASE("study paper: a corrupt or truncated checkpoint is refused in one line naming --restart") {
  const fs::path d = fresh_dir("corrupt");
  auto p = soret_run(kStudy + " --stop-at 300 --out b", d);
  REQUIRE_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  const std::string good = slurp(d / "b/study.checkpoint.h5");
  REQUIRE(good.size() > 4096);
  auto write = [&](const std::string& bytes) {
    std::ofstream o(d / "bad.h5", std::ios::binary);
    o << bytes;
  };
  std::string flipped = good;
  for (std::size_t i = good.size() / 2; i < good.size() / 2 + 64; ++i) flipped[i] = char(flipped[i] ^ 0x5a);
  for (const std::string& bytes : {flipped, good.substr(0, good.size() / 2), std::string("not hdf5")}) {
    write(bytes);
    p = soret_run("net --restart bad.h5 --out c -q", d);
    CHECK(p.status == 2);
    CHECK(p.err.find("--restart") != std::string::npos);
    CHECK(std::count(p.err.begin(), p.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(d / "c"));
  }
  fs::remove_all(d);
}

/// summary.md of --study deep without its wall-time lines ("  time 0.4 s on 2 threads; ...").
std::string without_times(const std::string& md) {
  std::string out, line;
  for (char c : md) {
    line += c;
    if (c != '\n') continue;
    if (line.rfind("  time ", 0) != 0) out += line;
    line.clear();
  }
  return out + line;
}

TEST_CASE("study deep: stopped inside its second run and inside a later part then restarted writes the uninterrupted files") {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    MESSAGE("dataset-fashion-mnist is not installed: skipped");
    return;
  }
  const fs::path d = fresh_dir("deep");
  const std::string deep = "net --study deep --study-size tiny --bootstrap 3 --progress never -q";
  const std::vector<std::string> parts = {"fc6_gaussian_eta", "cnn6_fmnist_eta", "fc300_fmnist_eta", "fc300_fmnist_batch"};
  auto p = soret_run(deep + " --threads 2 --out a", d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
  // Step 15 of the study: step 5 of its second run (10 steps each).
  p = soret_run(deep + " --threads 1 --checkpoint-every 5 --stop-at 15 --out b", d);
  REQUIRE_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  CHECK(p.err.find("fc6_gaussian_eta/eta=0.05_B=1") != std::string::npos);
  for (const auto& part : parts) CHECK_FALSE(fs::exists(d / "b" / (part + ".h5")));
  CHECK(run_attr(d / "b/fc6_gaussian_eta.partial.h5", "complete") == 0);
  // A --study deep checkpoint is not one of --study paper.
  auto q = soret_run("net --restart b/study.checkpoint.h5 --study paper -q", d);
  CHECK(q.status == 2);
  // Step 95: inside the third part (fc300_fmnist_eta, its second run).
  p = soret_run("net --restart b/study.checkpoint.h5 --checkpoint-every 0 --stop-at 95 -q --progress never", d);
  REQUIRE_MESSAGE(p.status == soret::kExitInterrupted, p.err);
  CHECK(p.err.find("fc300_fmnist_eta/eta=0.05_B=100") != std::string::npos);
  CHECK(fs::exists(d / "b/cnn6_fmnist_eta.h5"));
  CHECK_FALSE(fs::exists(d / "b/fc6_gaussian_eta.partial.h5"));
  CHECK_FALSE(fs::exists(d / "b/fc300_fmnist_eta.h5"));
  CHECK_FALSE(fs::exists(d / "b/summary.md"));  // (written when the study completes)
  p = soret_run("net --restart b/study.checkpoint.h5 --threads 2 -q --progress never", d);
  REQUIRE_MESSAGE(p.status == 0, p.err);
  std::set<std::string> ignored = kIgnored;
  ignored.insert("@record_seconds");
  for (const auto& part : parts) {
    CAPTURE(part);
    const fs::path a = d / "a" / (part + ".h5"), b = d / "b" / (part + ".h5");
    REQUIRE(fs::exists(b));
    const auto diff = h5_differences(a.string(), b.string(), ignored);
    CHECK_MESSAGE(diff.empty(), join(diff));
    CHECK_FALSE(fs::exists(d / "b" / (part + ".partial.h5")));
  }
  CHECK_FALSE(h5_differences((d / "a/fc300_fmnist_eta.h5").string(), (d / "a/fc300_fmnist_batch.h5").string(), ignored).empty());
  const std::string ma = slurp(d / "a/summary.md"), mb = slurp(d / "b/summary.md");
  CHECK(ma.find("  time ") != std::string::npos);
  CHECK(without_times(ma) == without_times(mb));
  fs::remove_all(d);
}

TEST_SUITE_END();
