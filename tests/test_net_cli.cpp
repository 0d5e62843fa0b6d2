// `soret net --arch ...` (the generic backend) from the command line: errors and the file schema.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "soret/io/hdf5.hpp"

using namespace soret;
namespace fs = std::filesystem;

namespace {

struct Outcome {
  int status;
  std::string out, err;
};

Outcome run(const std::string& args) {
  const fs::path base = fs::temp_directory_path() / ("soret-netcli-" + std::to_string(::getpid()));
  const std::string cmd = std::string(SORET_BINARY) + " " + args + " >" + base.string() + ".out 2>" + base.string() + ".err";
  const int rc = std::system(cmd.c_str());
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  Outcome o{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(base.string() + ".out"), slurp(base.string() + ".err")};
  fs::remove(base.string() + ".out");
  fs::remove(base.string() + ".err");
  return o;
}

fs::path tmpdir() {
  const fs::path d = fs::temp_directory_path() / ("soret-netcli-dir-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_SUITE_BEGIN("slow");

TEST_CASE("soret net --arch: bad input is one line naming the option - exit 2 - no output file") {
  const fs::path dir = tmpdir();
  const std::string out = (dir / "deep.h5").string();
  // a truncated Fashion-MNIST file
  fs::create_directories(dir / "fm");
  {
    gzFile f = gzopen((dir / "fm" / "train-images-idx3-ubyte.gz").c_str(), "wb");
    const unsigned char hdr[16] = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28};
    gzwrite(f, hdr, 16);
    gzclose(f);
    f = gzopen((dir / "fm" / "train-labels-idx1-ubyte.gz").c_str(), "wb");
    const unsigned char lh[13] = {0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5};
    gzwrite(f, lh, 13);
    gzclose(f);
  }
  const std::pair<std::string, std::string> cases[] = {
      {"--arch mlp:3", "arch"},
      {"--arch fc:3,x", "arch"},
      {"--arch conv:3", "arch"},  // convolutions need images
      {"--arch fc:4 --data fashion-mnist --data-dir " + (dir / "none").string(), "data-dir"},
      {"--arch fc:4 --data fashion-mnist --data-dir " + (dir / "fm").string(), "train-images-idx3-ubyte.gz"},
      {"--arch fc:4 --data cifar10", "data-dir"},
      {"--arch fc:4 --data cifar10 --data-dir " + dir.string(), "data_batch_1.bin"},
      {"--arch fc:4 --loss ce", "loss"},
      {"--arch fc:4 --classes 1", "classes"},
      {"--arch fc:4 --split test", "split"},
      {"--arch fc:4 --grad-samples 1", "grad-samples"},
      {"--arch fc:4 --sampler shuffle", "sampler"},
      {"--arch fc:4 --sampler full", "sampler"},
      {"--arch fc:4 --train-size 10 --sampler full --batch 9", "sampler"},
      {"--arch fc:4 --init gaussian:1,-1,1", "init"},
      {"--arch conv:2 --data fashion-mnist --kernel 0", "kernel"},
      {"--study deeper", "study"}};
  for (const auto& [args, what] : cases) {
    CAPTURE(args);
    const auto o = run("net -q --steps 10 --ensemble 2 --out " + out + " " + args);
    CHECK(o.status == 2);
    CHECK(o.err.find(what) != std::string::npos);
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
    CHECK(!fs::exists(out));
  }
  fs::remove_all(dir);
}

TEST_CASE("soret net --arch fc: a small sweep writes the per-layer schema") {
  const fs::path dir = tmpdir();
  const std::string out = (dir / "deep.h5").string();
  const auto o = run("net -q --arch fc:6,5 --inputs 4 --eta 0.05,0.1 --batch 1,2 --ensemble 3 --steps 40 "
                     "--record-every 10 --grad-samples 8 --bootstrap 4 --out " + out);
  REQUIRE(o.status == 0);
  auto f = h5::open_file_read(out);
  std::vector<hsize_t> dims;
  h5::read_doubles(f, "/runs/eta=0.1_B=2/grad_var_layer", &dims);
  CHECK(dims == std::vector<hsize_t>{5, 3, 3});  // records (0, 10, ..., 40) x networks x layers
  h5::read_doubles(f, "/runs/eta=0.1_B=2/grad_trace_layer", &dims);
  CHECK(dims == std::vector<hsize_t>{5, 3, 3});
  h5::read_doubles(f, "/runs/eta=0.05_B=1/activation_rate_layer", &dims);
  CHECK(dims == std::vector<hsize_t>{5, 3, 2});
  h5::read_doubles(f, "/runs/eta=0.05_B=1/weight_norm_layer", &dims);
  CHECK(dims == std::vector<hsize_t>{5, 3, 3});
  h5::read_doubles(f, "/runs/eta=0.05_B=1/loss", &dims);
  CHECK(dims == std::vector<hsize_t>{5, 3});
  h5::read_doubles(f, "/runs/eta=0.05_B=1/accuracy", &dims);
  CHECK(dims == std::vector<hsize_t>{5, 3});
  const auto step = h5::read_u64(f, "/runs/eta=0.05_B=1/step");
  CHECK(step == std::vector<std::uint64_t>{0, 10, 20, 30, 40});
  h5::read_doubles(f, "/runs/eta=0.05_B=1/final_params", &dims);
  CHECK(dims == std::vector<hsize_t>{3, 4 * 6 + 6 + 6 * 5 + 5 + 5 + 1});
  {
    auto g = h5::open_group(f, "/runs/eta=0.1_B=2");
    CHECK(h5::read_attr_double(g, "eta") == 0.1);
    CHECK(h5::read_attr_string(g, "layers") == "dense0;dense1;dense2");
    auto p = h5::open_group(f, "/parameters");
    CHECK(h5::read_attr_string(p, "arch") == "fc:6,5");
  }
  CHECK(h5::exists(f, "/scaling/collapse/grad_var_B=1_vs_eta"));
  CHECK(h5::exists(f, "/scaling/collapse/grad_var_layer.dense1_eta=0.1_vs_batch"));
  // early rates per run (4 runs) of grad_var and per layer, their power fits along eta and |B|
  CHECK(h5::read_doubles(f, "/scaling/early/grad_var/rate", &dims).size() == 4);
  CHECK(h5::read_doubles(f, "/scaling/early/grad_var_layer.dense2/se", &dims).size() == 4);
  for (const char* g : {"/scaling/power/grad_var_B=1_vs_eta", "/scaling/power/grad_var_layer.dense0_eta=0.05_vs_batch"}) {
    CAPTURE(g);
    REQUIRE(h5::exists(f, g));
    auto pg = h5::open_group(f, g);
    const double slope = h5::read_attr_double(pg, "slope"), lo = h5::read_attr_double(pg, "ci95_lo");
    CHECK(std::isfinite(slope));
    CHECK(lo < slope);
  }
  fs::remove_all(dir);
}

TEST_CASE("soret net --arch fc --init gaussian: the initial weights have the per-layer scales") {
  const fs::path dir = tmpdir();
  const std::string out = (dir / "g.h5").string();
  // one step at eta = 1e-12: final_params are the initial parameters to ~1e-12
  const auto o = run("net -q --arch fc:300,40 --inputs 200 --ensemble 2 --steps 1 --eta 1e-12 --grad-samples 0 "
                     "--init gaussian:2,0.5,6 --out " + out);
  REQUIRE(o.status == 0);
  auto f = h5::open_file_read(out);
  std::vector<hsize_t> dims;
  const auto p = h5::read_doubles(f, "/runs/eta=1e-12_B=1/final_params", &dims);
  REQUIRE(dims == std::vector<hsize_t>{2, 200 * 300 + 300 + 300 * 40 + 40 + 40 + 1});
  auto sd = [&](size_t off, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += p[off + i] * p[off + i];
    return std::sqrt(s / double(n));
  };
  // expected SD and its relative sampling error 1/sqrt(2n); checked to 5 of them
  auto check = [&](size_t off, size_t n, double want) {
    CAPTURE(off);
    CHECK(std::abs(sd(off, n) / want - 1) < 5 / std::sqrt(2.0 * double(n)));
  };
  check(0, 60000, 2 / std::sqrt(200.0));        // dense0.weight: SW / sqrt(fan_in)
  check(60000, 300, 0.5);                        // dense0.bias: SB
  check(60300, 12000, 2 / std::sqrt(300.0));    // dense1.weight
  check(72300, 40, 0.5);                         // dense1.bias
  CHECK(std::abs(sd(72340, 40) / (6 / std::sqrt(40.0)) - 1) < 5 / std::sqrt(80.0));  // output weights: SV / sqrt(fan_in)
  fs::remove_all(dir);
}

TEST_CASE("soret net on the installed Fashion-MNIST: a tiny CNN run - and the same file for 1 and 2 threads") {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    MESSAGE("dataset-fashion-mnist is not installed: skipped");
    return;
  }
  const fs::path dir = tmpdir();
  const std::string args = "net -q --arch conv:2,2 --kernel 5 --stride 2 --data fashion-mnist --classes 10 --eta 0.1 "
                           "--ensemble 3 --steps 20 --record-every 10 --grad-samples 4 --sampler epoch --bootstrap 0 ";
  REQUIRE(run(args + "--threads 1 --out " + (dir / "a.h5").string()).status == 0);
  REQUIRE(run(args + "--threads 2 --out " + (dir / "b.h5").string()).status == 0);
  auto a = h5::open_file_read((dir / "a.h5").string()), b = h5::open_file_read((dir / "b.h5").string());
  for (const char* name : {"grad_var_layer", "activation_rate_layer", "loss", "accuracy", "final_params"}) {
    CAPTURE(name);
    CHECK(h5::read_doubles(a, std::string("/runs/eta=0.1_B=1/") + name) ==
          h5::read_doubles(b, std::string("/runs/eta=0.1_B=1/") + name));
  }
  auto p = h5::open_group(a, "/parameters");
  CHECK(h5::read_attr_string(p, "dataset_checksums").find("train-images-idx3-ubyte.gz:") == 0);
  fs::remove_all(dir);
}

TEST_SUITE_END();
