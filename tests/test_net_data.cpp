// Data sets and samplers: the readers on small files the test writes, their errors, and the
// sampling schemes.
#include <doctest/doctest.h>
#include <boost/random/normal_distribution.hpp>
#include <cstring>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "soret/common/error.hpp"
#include "soret/common/rng.hpp"
#include "soret/net/dataset.hpp"

using namespace soret;
using namespace soret::net;
namespace fs = std::filesystem;

namespace {

fs::path tmpdir(const std::string& tag) {
  const fs::path d = fs::temp_directory_path() / ("soret-data-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write_gz(const fs::path& p, const std::vector<unsigned char>& bytes, size_t cut = 0) {
  gzFile f = gzopen(p.c_str(), "wb");
  REQUIRE(f != nullptr);
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
  if (cut > 0) fs::resize_file(p, fs::file_size(p) - cut);
}

std::vector<unsigned char> idx(int ndim, const std::vector<std::uint32_t>& dims, const std::vector<unsigned char>& data) {
  std::vector<unsigned char> b = {0, 0, 0x08, static_cast<unsigned char>(ndim)};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

/// n images of 4 x 3 pixels (pixel = 7 i + j) and labels i % 10, as Fashion-MNIST's train files.
void write_fmnist(const fs::path& dir, int n) {
  std::vector<unsigned char> px, lb;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 12; ++j) px.push_back(static_cast<unsigned char>((7 * i + j) % 256));
    lb.push_back(static_cast<unsigned char>(i % 10));
  }
  write_gz(dir / "train-images-idx3-ubyte.gz", idx(3, {std::uint32_t(n), 4, 3}, px));
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx(1, {std::uint32_t(n)}, lb));
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.option() + ": " + e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE_BEGIN("quick");

TEST_CASE("Fashion-MNIST IDX reader: pixels / 255 - labels - binary task - checksums") {
  const auto dir = tmpdir("fm");
  write_fmnist(dir, 13);
  const auto d = read_fashion_mnist(dir.string(), "train", 10);
  CHECK(d->size() == 13);
  CHECK(d->input() == Shape{1, 4, 3});
  std::vector<double> x(12);
  CHECK(d->item(11, x.data()) == 1);
  for (int j = 0; j < 12; ++j) CHECK(x[j] == double((77 + j) % 256) / 255.0);
  const auto b = read_fashion_mnist(dir.string(), "train", 2);
  CHECK(b->item(11, x.data()) == 0);  // class 1 is odd
  CHECK(b->item(4, x.data()) == 1);   // class 4 is even
  CHECK(d->checksums().find("train-images-idx3-ubyte.gz:") == 0);
  CHECK_THROWS_AS(read_fashion_mnist(dir.string(), "train", 3), InputError);
  fs::remove_all(dir);
}

TEST_CASE("Fashion-MNIST reader: a missing - truncated or malformed file is an error naming the file") {
  const auto dir = tmpdir("fmbad");
  // missing
  auto err = error_of([&] { read_fashion_mnist(dir.string(), "train", 10); });
  CHECK(err.find("data-dir") == 0);
  CHECK(err.find("train-images-idx3-ubyte.gz") != std::string::npos);
  // truncated gzip stream
  write_fmnist(dir, 20);
  {
    std::vector<unsigned char> px(20 * 12, 3);
    write_gz(dir / "train-images-idx3-ubyte.gz", idx(3, {20, 4, 3}, px), 30);
  }
  err = error_of([&] { read_fashion_mnist(dir.string(), "train", 10); });
  CHECK(err.find("train-images-idx3-ubyte.gz") != std::string::npos);
  // a complete gzip file whose IDX body is shorter than its header says
  write_gz(dir / "train-images-idx3-ubyte.gz", idx(3, {20, 4, 3}, std::vector<unsigned char>(100, 1)));
  err = error_of([&] { read_fashion_mnist(dir.string(), "train", 10); });
  CHECK(err.find("truncated or malformed") != std::string::npos);
  // a bad magic number
  write_gz(dir / "train-images-idx3-ubyte.gz", std::vector<unsigned char>(64, 0xff));
  err = error_of([&] { read_fashion_mnist(dir.string(), "train", 10); });
  CHECK(err.find("bad header") != std::string::npos);
  // labels and images disagree
  write_fmnist(dir, 20);
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx(1, {19}, std::vector<unsigned char>(19, 1)));
  err = error_of([&] { read_fashion_mnist(dir.string(), "train", 10); });
  CHECK(err.find("disagree") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("CIFAR-10 binary reader on a file the test writes - and its errors") {
  const auto dir = tmpdir("cifar");
  std::vector<unsigned char> b;
  for (int r = 0; r < 3; ++r) {
    b.push_back(static_cast<unsigned char>(r + 4));
    for (int j = 0; j < 3072; ++j) b.push_back(static_cast<unsigned char>((r * 31 + j) % 256));
  }
  {
    std::ofstream f(dir / "test_batch.bin", std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  }
  const auto d = read_cifar10(dir.string(), "test", 10);
  CHECK(d->size() == 3);
  CHECK(d->input() == Shape{3, 32, 32});
  std::vector<double> x(3072);
  CHECK(d->item(2, x.data()) == 6);
  CHECK(x[0] == 62.0 / 255.0);
  CHECK(x[3071] == double((62 + 3071) % 256) / 255.0);
  // the training split needs data_batch_1..5.bin: the first missing one is named
  auto err = error_of([&] { read_cifar10(dir.string(), "train", 10); });
  CHECK(err.find("data_batch_1.bin") != std::string::npos);
  // truncated
  fs::resize_file(dir / "test_batch.bin", b.size() - 100);
  err = error_of([&] { read_cifar10(dir.string(), "test", 10); });
  CHECK(err.find("test_batch.bin") != std::string::npos);
  CHECK(err.find("truncated") != std::string::npos);
  // a label outside 0..9
  b[0] = 10;
  {
    std::ofstream f(dir / "test_batch.bin", std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  }
  err = error_of([&] { read_cifar10(dir.string(), "test", 10); });
  CHECK(err.find("label outside") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("the installed Fashion-MNIST (Debian's dataset-fashion-mnist) reads as 60000 + 10000 28x28 images" * doctest::test_suite("slow")) {
  const std::string dir = fashion_mnist_default_dir();
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("dataset-fashion-mnist is not installed: skipped");
    return;
  }
  const auto tr = read_fashion_mnist(dir, "train", 10), te = read_fashion_mnist(dir, "test", 10);
  CHECK(tr->size() == 60000);
  CHECK(te->size() == 10000);
  CHECK(tr->input() == Shape{1, 28, 28});
  std::vector<int> count(10, 0);
  for (std::uint64_t i = 0; i < tr->size(); ++i) ++count[tr->raw_label(i)];
  for (int c : count) CHECK(c == 6000);  // Fashion-MNIST's training set is balanced
}

TEST_CASE("samplers: epoch shuffles visit every example once per epoch - full passes - replacement is keyed") {
  NetConfig c;
  c.M = 3;
  c.train_size = 17;
  SyntheticDataset d(c, 4);
  Sampler ep(d, SamplerKind::epoch, 5, 4);
  for (std::uint64_t e = 0; e < 3; ++e) {
    std::vector<std::uint64_t> seen;
    for (std::uint64_t s = 0; s < 3 * 17; ++s) seen.push_back(ep.index(e, s / 5, s % 5));
    for (int epoch = 0; epoch < 3; ++epoch) {
      std::set<std::uint64_t> one(seen.begin() + epoch * 17, seen.begin() + (epoch + 1) * 17);
      CHECK(one.size() == 17);
    }
    CHECK(!std::equal(seen.begin(), seen.begin() + 17, seen.begin() + 17));  // reshuffled each epoch
  }
  // the same (network, step, sample) gives the same example whatever was asked before
  Sampler ep2(d, SamplerKind::epoch, 5, 4);
  CHECK(ep2.index(1, 7, 3) == ep.index(1, 7, 3));
  Sampler full(d, SamplerKind::full, 17, 4);
  for (std::uint64_t k = 0; k < 17; ++k) CHECK(full.index(2, 9, k) == k);
  CHECK_THROWS_AS(Sampler(d, SamplerKind::full, 16, 4), InputError);
  CHECK_THROWS_AS(Sampler(d, SamplerKind::online, 1, 4), InputError);
  // replacement: the two-layer trainer's draw (stream net_data, counter (e, t, k, 1))
  Sampler rep(d, SamplerKind::replacement, 1, 4);
  DataSource src(c, 4);
  std::vector<double> x1(3), x2(3);
  for (std::uint64_t t = 0; t < 20; ++t) {
    const int y1 = rep.draw(1, t, 0, x1.data());
    const double y2 = src.sample(1, t, 0, x2.data());
    CHECK(double(y1) == y2);
    CHECK(x1 == x2);
  }
}

TEST_SUITE_END();

TEST_CASE("Gaussian inputs: the batched ziggurat gives Boost's normal_distribution on the Philox stream, bit for bit") {
  for (int M : {1, 3, 100, 1000}) {
    CAPTURE(M);
    NetConfig c;
    c.M = M;
    DataSource src(c, 11);
    std::vector<double> x(M);
    int checked = 0;
    for (std::uint64_t e = 0; e < 3; ++e)
      for (std::uint64_t t = 0; t < (M >= 100 ? 400u : 4000u); t += 7)
        for (std::uint64_t k : {0ull, 5ull}) {
          src.sample(e, t, k, x.data());
          soret::rng::Engine eng(soret::rng::make_key(11, soret::rng::Stream::net_data), e, t ^ (k << 40));
          boost::random::normal_distribution<double> nd;
          for (int j = 0; j < M; ++j) {
            const double r = nd(eng);
            if (std::memcmp(&r, &x[j], sizeof r) != 0) {
              CHECK(x[j] == r);
              return;
            }
            ++checked;
          }
        }
    CHECK(checked > 0);
  }
}
