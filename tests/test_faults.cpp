// The fault suite (issue 9): bad inputs found by trying 190 of them, each kept as a row of a table
// and checked the same way: one line on stderr naming the option or file, exit status 2, nothing
// written, no temporary left behind, the previous good output under --out untouched. Also: a
// full disk (RLIMIT_FSIZE), signals during a write, planted symbolic links, corrupt HDF5 inputs.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <boost/math/distributions/students_t.hpp>

#include "check/support.hpp"
#include "soret/check/check.hpp"
#include "soret/common/budget.hpp"
#include "soret/common/error.hpp"
#include "soret/common/omp_guard.hpp"
#include "soret/io/atomic_file.hpp"
#include "soret/io/hdf5.hpp"

using namespace soret;
namespace fs = std::filesystem;

namespace {

struct Run {
  int status;  // exit status, or 128 + signal
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs `soret ARGS` through the shell (optionally with a prefix such as "ulimit -f 8;").
Run run_soret(const std::string& args, const std::string& prefix = "") {
  static int counter = 0;
  const fs::path errf = fs::temp_directory_path() / ("soret-faults-err-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(counter++));
  std::string inner = prefix + " exec " + std::string(SORET_BINARY) + " " + args, quoted = "'";
  for (char c : inner) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  const std::string cmd = "bash -c " + quoted + "' >/dev/null 2>" + errf.string();
  const int rc = std::system(cmd.c_str());
  Run r{WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc), slurp(errf)};
  fs::remove(errf);
  return r;
}

/// Every file under dir (recursively) with its contents.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> s;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    s[fs::relative(e.path(), dir).string()] = e.is_regular_file() ? slurp(e.path()) : std::string("<dir>");
  return s;
}

std::string names(const std::map<std::string, std::string>& s) {
  std::string out;
  for (const auto& [k, v] : s) out += k + " ";
  return out;
}

fs::path fresh_dir(const std::string& tag) {
  const fs::path d = fs::temp_directory_path() / ("soret-faults-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

/// HDF5 files of every wrong shape for --init file: (a good one is made by soret itself).
void write_init_files(const fs::path& in, const std::string& good) {
  const std::string g = slurp(good);
  auto put = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(in / name, std::ios::binary) << bytes;
  };
  put("truncated.h5", g.substr(0, g.size() / 2));
  put("header-only.h5", g.substr(0, 512));
  std::string flipped = g;
  for (size_t i = 0; i < 64 && i < flipped.size(); ++i) flipped[i] = char(~flipped[i]);
  put("corrupt-superblock.h5", flipped);
  put("garbage.h5", std::string(4096, '\x5a'));
  put("empty.h5", "");
  // A good file that stores no seed (a continuation then needs an explicit --seed).
  auto edit = [&](const std::string& name, auto&& change) {
    put(name, g);
    const hid_t f = H5Fopen((in / name).string().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    change(f);
    H5Fclose(f);
  };
  edit("no-seed.h5", [](hid_t f) { H5Adelete_by_name(f, "parameters", "seed", H5P_DEFAULT); });
  auto h5file = [&](const std::string& name, auto&& fill) {
    auto f = h5::create_file((in / name).string());
    auto fin = h5::create_group(f, "final");
    fill(fin);
  };
  const std::vector<double> pos{0.1, 0.2, 0.3, 0.4};
  h5file("no-position.h5", [&](hid_t g) { h5::write(g, "alive", std::vector<std::uint8_t>{1, 1, 1, 1}, {4}); });
  h5file("position-1d.h5", [&](hid_t g) { h5::write(g, "position", pos, {4}); });
  h5file("negative-t.h5", [&](hid_t g) {
    h5::write(g, "position", pos, {4, 1});
    h5::attr(g, "t", std::int64_t(-5));
  });
  h5file("position-3d.h5", [&](hid_t g) { h5::write(g, "position", pos, {2, 1, 2}); });
  h5file("alive-short.h5", [&](hid_t g) {
    h5::write(g, "position", pos, {4, 1});
    h5::write(g, "alive", std::vector<std::uint8_t>{1}, {1});
  });
  h5file("alive-7.h5", [&](hid_t g) {
    h5::write(g, "position", pos, {4, 1});
    h5::write(g, "alive", std::vector<std::uint8_t>{1, 7, 1, 1}, {4});
  });
  h5file("outside.h5", [&](hid_t g) { h5::write(g, "position", std::vector<double>{0.1, 3.5, 0.3, 0.4}, {4, 1}); });
  h5file("nan.h5", [&](hid_t g) { h5::write(g, "position", std::vector<double>{0.1, NAN, 0.3, 0.4}, {4, 1}); });
  h5file("inf.h5", [&](hid_t g) { h5::write(g, "position", std::vector<double>{0.1, INFINITY, 0.3, 0.4}, {4, 1}); });
  h5file("dim2.h5", [&](hid_t g) { h5::write(g, "position", pos, {2, 2}); });
  h5file("no-walkers.h5", [&](hid_t g) { h5::write(g, "position", std::vector<double>{}, {0, 1}); });
  h5file("string-typed.h5", [&](hid_t g) { h5::attr(g, "position", std::string("not a dataset")); });
  fs::create_directories(in / "a-directory.h5");
}

/// Lines the sanitizer runtime adds in the sanitizer build (ASan's "failed to allocate" warning
/// when libhdf5 asks for terabytes on a malformed file and gets null): not soret's output.
long sanitizer_lines(const std::string& err) {
  long n = 0;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    n += line.rfind("==", 0) == 0 && line.find("AddressSanitizer failed to allocate") != std::string::npos;
  return n;
}

struct Row {
  std::string args;    // after "soret"; OUT, IN: the output and input directories
  std::string option;  // what the one line must name
};

std::string expand(std::string s, const fs::path& out, const fs::path& in) {
  for (const auto& [key, val] : {std::pair<std::string, std::string>{"OUT", out.string()}, {"IN", in.string()}})
    for (size_t p; (p = s.find(key)) != std::string::npos;) s.replace(p, key.size(), val);
  return s;
}

}  // namespace

TEST_SUITE_BEGIN("quick");

TEST_CASE("fault table: each bad input is one line naming it - exit 2 - nothing written - previous output untouched" * doctest::test_suite("faults")) {
  const fs::path out = fresh_dir("out"), in = fresh_dir("in");
  // Previous good outputs, which no failing run may touch.
  REQUIRE(run_soret("walk -q --walkers 200 --steps 10 --out " + (out / "prev.h5").string()).status == 0);
  REQUIRE(run_soret("net -q --steps 20 --ensemble 4 --eta 0.05 --bootstrap 2 --out " + (out / "prevnet.h5").string()).status == 0);
  fs::create_directories(out / "rep");
  std::ofstream(out / "rep" / "report.md") << "previous report\n";
  std::ofstream(out / "a-file") << "x";
  REQUIRE(run_soret("walk -q --walkers 4 --steps 5 --init point:0.5 --out " + (in / "good.h5").string()).status == 0);
  write_init_files(in, (in / "good.h5").string());
  std::ofstream(in / "nested.ini") << "steps = 10\nconfig = " << (in / "nested.ini").string() << "\n";
  // A good walk checkpoint (step 10), and broken ones for --restart.
  REQUIRE(run_soret("walk -q --walkers 300 --steps 10 --checkpoint " + (in / "ck.h5").string() + " --out " +
                    (in / "ck-out.h5").string()).status == 0);
  {
    const std::string ck = slurp(in / "ck.h5");
    auto put = [&](const std::string& name, const std::string& bytes) { std::ofstream(in / name, std::ios::binary) << bytes; };
    put("ck-truncated.h5", ck.substr(0, ck.size() / 2));
    put("ck-empty.h5", "");
    std::string flipped = ck;
    const auto at = flipped.find(std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8));  // a stored 1.0? else mid-file
    flipped[at != std::string::npos ? at + 7 : flipped.size() / 2] ^= 0x10;
    put("ck-flipped.h5", flipped);
    put("ck-net-kind.h5", ck);
    const hid_t f = H5Fopen((in / "ck-net-kind.h5").string().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    H5Adelete(f, "soret_checkpoint");
    h5::attr(f, "soret_checkpoint", std::string("net"));
    H5Fclose(f);
    put("ck-no-checksum.h5", ck);
    const hid_t g = H5Fopen((in / "ck-no-checksum.h5").string().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(g >= 0);
    H5Adelete(g, "checksum");
    H5Fclose(g);
  }

  const std::string W0 = "walk -q --out OUT/prev.h5 ";  // + walkers, steps as the row needs
  const std::string W = W0 + "--walkers 100 --steps 10 ";
  const std::string WF = W0 + "--steps 10 ";  // --init file: takes the walkers from the file
  const std::string N = "net -q --steps 10 --ensemble 4 --out OUT/prevnet.h5 ";
  const Row rows[] = {
      // Memory safety
      {W + "--dim 2 --hist-axes 0,1 --bins 65536,65537", "--bins"},
      {W + "--dim 2 --hist-axes 0,1 --bins 2147483647,2", "--bins"},
      {WF + "--init file:IN/alive-short.h5", "/final/alive"},
      {WF + "--init file:IN/alive-7.h5", "/final/alive"},
      {WF + "--init file:IN/outside.h5", "outside the domain"},
      {WF + "--init file:IN/nan.h5", "not finite"},
      {WF + "--init file:IN/inf.h5", "not finite"},
      {N + "--eta 0.05,0.1 --init gaussian:nan,0,1", "--init"},
      {N + "--eta 0.05,0.1 --init gaussian:inf,0,1", "--init"},
      {N + "--eta 0.05,0.1 --init gaussian:1,-inf,1", "--init"},
      {W + "--threads 100000", "--threads"},
      {W + "--block -1", "--block"},
      {W + "--block 65537", "--block"},
      {N + "--threads 100000", "--threads"},
      {"check -q --threads 100000 --report OUT/rep", "--threads"},
      // Corrupt, truncated and wrong-schema HDF5 for --init file:
      {WF + "--init file:IN/truncated.h5", "truncated.h5"},
      {WF + "--init file:IN/header-only.h5", "header-only.h5"},
      {WF + "--init file:IN/corrupt-superblock.h5", "corrupt-superblock.h5"},
      {WF + "--init file:IN/garbage.h5", "garbage.h5"},
      {WF + "--init file:IN/empty.h5", "empty.h5"},
      {WF + "--init file:IN/missing.h5", "missing.h5"},
      {WF + "--init file:IN/a-directory.h5", "a-directory.h5"},
      {WF + "--init file:IN/no-position.h5", "/final/position"},
      {WF + "--init file:IN/position-1d.h5", "/final/position"},
      {WF + "--init file:IN/position-3d.h5", "/final/position"},
      {WF + "--init file:IN/dim2.h5", "dimension"},
      {WF + "--init file:IN/no-walkers.h5", "--init"},
      {WF + "--init file:IN/string-typed.h5", "string-typed.h5"},
      {WF + "--init file:IN/good.h5 --walkers 5", "--walkers"},
      {WF + "--init file:IN/negative-t.h5", "/final/t"},
      {WF + "--init file:IN/no-seed.h5", "--seed"},
      // Files found by fuzz_readers (tests/data): malformed HDF5 on which libhdf5 asks for 3 TB, or leaks
      {WF + "--init file:" SORET_TEST_DATA "/fuzz-hdf5-huge-alloc.h5", "fuzz-hdf5-huge-alloc.h5"},
      {W0 + "--restart " SORET_TEST_DATA "/fuzz-hdf5-huge-alloc.h5", "fuzz-hdf5-huge-alloc.h5"},
      {WF + "--init file:" SORET_TEST_DATA "/fuzz-hdf5-open-leak.h5", "fuzz-hdf5-open-leak.h5"},
      {W0 + "--restart " SORET_TEST_DATA "/fuzz-hdf5-open-leak.h5", "fuzz-hdf5-open-leak.h5"},
      // ... and a /final/position whose shape claims 3e13 elements in 32 bytes (soret allocated them)
      {WF + "--init file:" SORET_TEST_DATA "/fuzz-huge-shape.h5", "stores 32 bytes"},
      // --restart: broken or foreign checkpoints, contradicting options, bad checkpoint options
      {W0 + "--restart IN/ck-truncated.h5", "ck-truncated.h5"},
      {W0 + "--restart IN/ck-empty.h5", "ck-empty.h5"},
      {W0 + "--restart IN/ck-flipped.h5", "checksum"},
      {W0 + "--restart IN/ck-net-kind.h5", "soret net"},
      {W0 + "--restart IN/ck-no-checksum.h5", "checksum"},
      {W0 + "--restart IN/good.h5", "not a soret checkpoint"},
      {W0 + "--restart IN/garbage.h5", "garbage.h5"},
      {W0 + "--restart IN/missing.h5", "missing.h5"},
      {W0 + "--restart IN/a-directory.h5", "a-directory.h5"},
      {W0 + "--restart IN/ck.h5 --eta 0.05", "--eta"},
      {W0 + "--restart IN/ck.h5 --walkers 301", "--walkers"},
      {W0 + "--restart IN/ck.h5 --g 1", "--g"},
      {W0 + "--restart IN/ck.h5 --boundary reflecting", "--boundary"},
      {W0 + "--restart IN/ck.h5 --seed 2", "--seed"},
      {W0 + "--restart IN/ck.h5 --bins 50", "--bins"},
      {W0 + "--restart IN/ck.h5 --steps 5", "--steps"},
      {W0 + "--restart IN/ck.h5 --steps 20 --density-at every:3", "--density-at"},
      {W0 + "--restart IN/ck.h5 --steps 20 --stop-at 5", "--stop-at"},
      {W + "--stop-at 10", "--stop-at"},
      {W + "--checkpoint-every -1", "--checkpoint-every"},
      {W + "--checkpoint OUT/prev.h5", "--checkpoint"},
      {W + "--checkpoint OUT", "--checkpoint"},
      // Output locations, checked before the run
      {"walk -q --walkers 100 --steps 10 --out ''", "--out"},
      {"walk -q --walkers 100 --steps 10 --out ./", "--out"},
      {"walk -q --walkers 100 --steps 10 --out OUT", "--out"},
      {"walk -q --walkers 100 --steps 10 --out OUT/", "--out"},
      {"walk -q --walkers 100 --steps 10 --out OUT/missing-dir/x.h5", "--out"},
      {"walk -q --walkers 100 --steps 10 --out OUT/a-file/x.h5", "--out"},
      {"walk -q --walkers 100 --steps 10 --out /proc/soret-cannot-write.h5", "--out"},
      {"net -q --steps 10 --ensemble 4 --out OUT", "--out"},
      {"net -q --steps 10 --ensemble 4 --out ''", "--out"},
      {"net -q --steps 10 --ensemble 4 --out /proc/x.h5", "--out"},
      {"net -q --study paper --out OUT/a-file", "--out"},
      {"check -q --fast --report OUT/a-file", "--report"},
      {"check -q --fast --report /proc/soret-report", "--report"},
      {"check -q --fast --report ''", "--report"},
      {N + "--eta 0.05,0.05", "--eta"},
      {N + "--eta 0.1,0.1000001", "--eta"},
      {N + "--eta 0.1 --batch 2,2", "--batch"},
      // Silent misconfiguration
      {W + "--g 1 '0.5+q1' --dim 2", "0.5+q1"},
      {W + "extra", "extra"},
      {W + "--g '1,2'", "--g"},
      {W + "--g 'q=3'", "--g"},
      {W + "--drift 'q=1'", "--drift"},
      {W + "--config IN", "--config"},
      {W + "--config IN/nested.ini", "--config"},
      {W + "--config IN/missing.ini", "--config"},
      {W + "--init 'density:q<1e-9'", "--init"},
      {W + "--seed -1", "--seed"},
      {N + "--seed -5", "--seed"},
      {W + "--sign-groups ';'", "--sign-groups"},
      {W + "--sign-groups '0;'", "--sign-groups"},
      {N + "--grid-v=-inf:inf:10", "--grid-v"},
      {N + "--grid-b=0:nan:10", "--grid-b"},
      {W + "--domain=-1e308:1e308", "--domain"},
      {W + "--domain=0:inf", "--domain"},
      // Resources: refused up front with the estimate
      {W0 + "--steps 1000000000000 --density-at every:1", "--density-at"},
      {W0 + "--steps 1000000000000 --flux-windows every:1 --density-at none", "--flux-windows"},
      {W0 + "--steps 1000000000 --moments-every 1 --density-at none --flux-windows none", "--moments-every"},
      {W + "--bins 100000000", "--density-at"},
      {W0 + "--walkers 100000000000 --steps 1", "--max-memory"},
      {W0 + "--steps 100000000000 --chunk 2147483647 --density-at none --flux-windows none", "--max-memory"},
      {W0 + "--walkers 1000000 --max-memory 1M", "--max-memory"},
      {W + "--max-memory lots", "--max-memory"},
      {N + "--full-batch 2147483647 --compare 1", "--max-memory"},
      {N + "--inputs 100000 --hidden 100000", "--max-memory"},
      {N + "--bootstrap 2147483647", "--max-memory"},
      {N + "--arch fc:100000,100000 --inputs 100000", "--max-memory"},
  };
  const auto before_out = snapshot(out);
  const auto before_in = snapshot(in);
  for (const auto& row : rows) {
    const std::string args = expand(row.args, out, in);
    CAPTURE(args);
    const auto r = run_soret(args);
    CAPTURE(r.err);
    CHECK(r.status == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') - sanitizer_lines(r.err) == 1);
    CHECK(r.err.find(row.option) != std::string::npos);
    const auto after = snapshot(out);
    CHECK_MESSAGE(after == before_out, "files under --out changed: " << names(after));
    CHECK(snapshot(in) == before_in);
  }
  fs::remove_all(out);
  fs::remove_all(in);
}

TEST_CASE("an all-diverged net run is reported - not a crash" * doctest::test_suite("faults")) {
  const fs::path out = fresh_dir("diverged");
  const auto r = run_soret("net -q --steps 20 --ensemble 4 --eta 0.05,0.1 --bootstrap 3 --init gaussian:1e300,0,1 --out " +
                       (out / "d.h5").string());
  CHECK(r.status == 0);
  CHECK(r.err.find("every network (4) diverged") != std::string::npos);
  CHECK(fs::exists(out / "d.h5"));
  fs::remove_all(out);
}

TEST_CASE("a full disk is one line and a non-zero exit - the previous files survive - no temporary is left" * doctest::test_suite("faults")) {
  // RLIMIT_FSIZE with SIGXFSZ ignored makes write(2) fail with EFBIG past the limit, as a full
  // disk fails with ENOSPC, without root or a small file system.
  if (run_soret("--version", "ulimit -f 64 && trap \"\" XFSZ &&").status != 0) {
    MESSAGE("skipped: cannot set RLIMIT_FSIZE here");
    return;
  }
  const fs::path out = fresh_dir("full");
  REQUIRE(run_soret("walk -q --walkers 20000 --steps 10 --out " + (out / "w.h5").string()).status == 0);
  REQUIRE(run_soret("net -q --steps 20 --ensemble 8 --eta 0.05 --bootstrap 2 --out " + (out / "n.h5").string()).status == 0);
  fs::create_directories(out / "rep");
  std::ofstream(out / "rep" / "report.md") << "previous report\n";
  std::ofstream(out / "rep" / "report.json") << "{\"previous\": true}\n";
  const auto before = snapshot(out);
  const std::string limit = "ulimit -f 16 && trap \"\" XFSZ &&";  // 16 KiB: every output here is larger
  const std::string cmds[] = {
      "walk -q --walkers 20000 --steps 10 --seed 2 --out " + (out / "w.h5").string(),
      "net -q --steps 20 --ensemble 8 --eta 0.05 --bootstrap 2 --seed 2 --out " + (out / "n.h5").string(),
      "check -q --fast --only eq9 --report " + (out / "rep").string()};
  for (const auto& c : cmds) {
    CAPTURE(c);
    const auto r = run_soret(c, limit);
    CAPTURE(r.err);
    CHECK(r.status != 0);
    CHECK(r.status < 128);  // no signal: no SIGSEGV in HDF5's exit-time clean-up, no SIGXFSZ
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find("File too large") != std::string::npos);
    CHECK(snapshot(out) == before);
  }
  fs::remove_all(out);
}

TEST_CASE("atomic output: commit replaces the file - temporaries are unpredictable and exclusive - links are not followed") {
  const fs::path d = fresh_dir("atomic");
  const std::string path = (d / "x.txt").string();
  io::write_file_atomic(path, "first");
  CHECK(slurp(path) == "first");
  {
    io::AtomicOutput a(path), b(path);
    CHECK(a.temp_path() != b.temp_path());  // not OUT.tmp.<pid>
    CHECK(fs::path(a.temp_path()).filename().string().find(std::to_string(::getpid())) == std::string::npos);
    CHECK(fs::path(a.temp_path()).parent_path() == d);  // same file system as the target: rename is atomic
    CHECK(io::live_temporaries() >= 2);
    a.write("second");
    b.write("never committed");
  }
  CHECK(slurp(path) == "first");  // nothing committed: the old file survives, the temporaries are gone
  CHECK(snapshot(d).size() == 1);
  CHECK(io::live_temporaries() == 0);

  // A link planted under the old predictable name, and the target itself a link: the victim of
  // either is never written.
  const std::string victim = (d / "victim").string();
  std::ofstream(victim) << "precious";
  fs::create_symlink(victim, d / ("y.h5.tmp." + std::to_string(::getpid())));
  fs::create_symlink(victim, d / "link.txt");
  io::write_file_atomic((d / "link.txt").string(), "new");
  CHECK(slurp(victim) == "precious");
  CHECK(!fs::is_symlink(d / "link.txt"));  // the link itself was replaced
  CHECK(slurp(d / "link.txt") == "new");
  {
    h5::AtomicFile f((d / "y.h5").string());
    h5::write(f.id(), "v", std::vector<double>{1, 2, 3}, {3});
    f.commit();
  }
  CHECK(slurp(victim) == "precious");
  auto f = h5::open_file_read((d / "y.h5").string());
  CHECK(h5::read_doubles(f, "v") == std::vector<double>{1, 2, 3});

  CHECK_THROWS_AS(io::AtomicOutput(""), InputError);
  CHECK_THROWS_AS(io::AtomicOutput(d.string()), InputError);
  CHECK_THROWS_AS(io::AtomicOutput((d / "no" / "x").string()), InputError);
  fs::remove_all(d);
}

TEST_CASE("signals remove the temporaries - SIGINT - SIGTERM - SIGHUP - and the process dies of the signal") {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    CAPTURE(sig);
    const fs::path d = fresh_dir("sig" + std::to_string(sig));
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The child: a half-written output, then the signal.
      ::signal(sig, SIG_DFL);
      io::install_signal_cleanup();
      io::AtomicOutput o((d / "out.h5").string());
      o.write("partial");
      ::raise(sig);
      ::_exit(0);  // not reached
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == sig);
    CHECK(snapshot(d).empty());
    fs::remove_all(d);
  }
}

TEST_CASE("an exception inside an OpenMP region is caught per thread and rethrown once after it") {
  OmpGuard guard;
  std::atomic<int> ran{0};
#pragma omp parallel for num_threads(4) schedule(dynamic, 1)
  for (int i = 0; i < 1000; ++i)
    guard.run([&] {
      ++ran;
      if (i == 3) throw InputError("x", "--x: thrown in iteration 3");
      if (i == 5) throw std::bad_alloc();
    });
  CHECK(guard.failed());
  CHECK(ran.load() >= 1);
  // Once failed, run() skips its body: that is how the remaining iterations are skipped. (Counting
  // the iterations that ran depends on thread scheduling: a thread descheduled between the throw
  // and the capture lets the others finish the loop, which made an earlier `ran < 1000` flaky.)
  int after = 0;
  guard.run([&] { ++after; });
  CHECK(after == 0);
  try {
    guard.rethrow();
    FAIL("nothing rethrown");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("iteration 3") != std::string::npos);
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("out of memory") != std::string::npos);
  }
  OmpGuard quiet;
#pragma omp parallel for num_threads(4)
  for (int i = 0; i < 100; ++i) quiet.run([&] {});
  CHECK(!quiet.failed());
  CHECK_NOTHROW(quiet.rethrow());
}

TEST_CASE("memory sizes and the budget") {
  CHECK(parse_memory_size("0", "max-memory") == 0);
  CHECK(parse_memory_size("1024", "max-memory") == 1024);
  CHECK(parse_memory_size("2K", "max-memory") == 2048);
  CHECK(parse_memory_size("1.5GiB", "max-memory") == doctest::Approx(1.5 * 1024 * 1024 * 1024));
  CHECK(parse_memory_size("50%", "max-memory") == doctest::Approx(0.5 * physical_memory_bytes()));
  CHECK_THROWS_AS(parse_memory_size("-1G", "max-memory"), InputError);
  CHECK_THROWS_AS(parse_memory_size("G", "max-memory"), InputError);
  MemoryEstimate e;
  e.add("a", 2048);
  e.add("b", 1024);
  CHECK(e.total() == 3072);
  CHECK_NOTHROW(enforce_memory_budget(e, 4096));
  CHECK_NOTHROW(enforce_memory_budget(e, 0));
  CHECK_THROWS_AS(enforce_memory_budget(e, 3000), InputError);
}

TEST_CASE("check: a gating row fails when its standard error is 0 - and its false-alarm rate is that of t with 15 dof") {
  std::vector<check::Row> rows;
  check::gate(rows, "s", "q", "e", 1.0, 0.0, "p", 1.0);  // identical replicas: SE 0, measured == predicted
  check::gate(rows, "s", "q", "e", 1.0, 0.1, "p", 1.05);  // z = -0.5
  check::gate(rows, "s", "q", "e", 1.0, 0.1, "p", 1.6);   // z = -6
  check::gate(rows, "s", "q", "e", 1.0, NAN, "p", 1.0);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].verdict == "FAIL");
  CHECK(rows[1].verdict == "pass");
  CHECK(rows[2].verdict == "FAIL");
  CHECK(rows[3].verdict == "FAIL");
  check::Report rep;
  rep.rows = {rows[1]};
  CHECK(rep.passed());
  rep.rows.push_back(rows[0]);
  CHECK(!rep.passed());
  // A profile row (Hotelling T^2) over identical replicas fails too.
  check::Replicas same;
  same.samples.assign(check::kReplicas, std::vector<double>(20, 1.0));
  std::vector<int> use(20);
  for (int i = 0; i < 20; ++i) use[i] = i;
  check::profile_row(rows, true, "s", "profile", "e", same, std::vector<double>(20, 1.0), "p", use, "", 6);
  CHECK(rows.back().verdict == "FAIL");
  const boost::math::students_t t(check::kReplicas - 1);
  CHECK(check::kGateFalseAlarm == doctest::Approx(2 * cdf(complement(t, check::kGateZ))).epsilon(0.01));
}

TEST_SUITE_END();
