// A walk continued from a file (--init file:) makes exactly the steps the uninterrupted run makes:
// the noise is keyed on (seed, walker, absolute step), the stored /final/t and seed are used.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "soret/io/hdf5.hpp"

using namespace soret;
namespace fs = std::filesystem;

namespace {

int run(const std::string& args) {
  const std::string cmd = std::string(SORET_BINARY) + " walk --quiet " + args + " >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct Read {
  std::vector<double> pos;
  std::vector<std::uint64_t> dens, dens_t, flux;
  std::int64_t t = -1, t_begin = -1;
  std::string continuation;
};

Read read(const std::string& path) {
  Read r;
  auto f = h5::open_file_read(path);
  r.pos = h5::read_doubles(f, "/final/position");
  r.dens = h5::read_u64(f, "/density/counts");
  r.dens_t = h5::read_u64(f, "/density/t");
  r.flux = h5::read_u64(f, "/flux/crossings_plus");
  r.t = h5::read_attr_int64(h5::open_group(f, "final"), "t");
  auto p = h5::open_group(f, "parameters");
  r.t_begin = h5::read_attr_int64(p, "t_begin");
  r.continuation = h5::read_attr_string(p, "continuation");
  return r;
}

}  // namespace

TEST_CASE("--init file: continues with the stored step and seed - bit-identical to an uninterrupted run" * doctest::test_suite("slow")) {
  const fs::path d = fs::temp_directory_path() / ("soret-cont-" + std::to_string(::getpid()));
  fs::create_directories(d);
  const std::string A = (d / "a.h5").string(), B = (d / "b.h5").string(), C = (d / "c.h5").string(),
                    I = (d / "i.h5").string();
  for (const std::string geom : {"--g '1 + 0.5*sin(2*_pi*q)' --eta 0.03",
                                 "--dim 2 --g '1 + 0.5*sin(2*_pi*q0)' --g '0.7 + 0.2*q1' --boundary reflecting --eta 0.05"}) {
    CAPTURE(geom);
    const std::string common = geom + " --walkers 1001 --seed 5 --bins 20 --density-at every:100 --flux-windows every:100 ";
    REQUIRE(run(common + "--steps 600 --out " + A) == 0);
    REQUIRE(run(common + "--steps 300 --out " + B) == 0);
    REQUIRE(run(geom + " --walkers 1001 --bins 20 --density-at every:100 --flux-windows every:100 --steps 300 --init file:" + B +
                " --out " + C) == 0);
    const Read a = read(A), b = read(B), c = read(C);
    CHECK(b.t == 300);
    CHECK(c.t == 600);
    CHECK(c.t_begin == 300);
    CHECK(c.continuation.find("same noise stream") != std::string::npos);
    CHECK(c.pos == a.pos);
    CHECK(c.pos != b.pos);
    // Records in absolute steps: C's 300..600 are A's rows 3..6 (density) and windows 3..5 (flux).
    CHECK(c.dens_t == std::vector<std::uint64_t>{300, 400, 500, 600});
    const size_t nd = a.dens.size() / 7, nf = a.flux.size() / 6;
    CHECK(std::vector<std::uint64_t>(a.dens.begin() + 3 * nd, a.dens.end()) == c.dens);
    CHECK(std::vector<std::uint64_t>(a.flux.begin() + 3 * nf, a.flux.end()) == c.flux);
    // An explicit, different seed: an independent continuation, said so in the file.
    REQUIRE(run(geom + " --walkers 1001 --bins 20 --steps 300 --seed 6 --init file:" + B + " --out " + I) == 0);
    const Read i = read(I);
    CHECK(i.t == 600);
    CHECK(i.continuation.find("independent") != std::string::npos);
    CHECK(i.pos != a.pos);
  }
  fs::remove_all(d);
}
