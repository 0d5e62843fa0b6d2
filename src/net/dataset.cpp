#include "soret/net/dataset.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "soret/common/error.hpp"

namespace soret::net {

// ---------------------------------------------------------------------------------------------
// Synthetic data

SyntheticDataset::SyntheticDataset(const NetConfig& c, std::uint64_t seed) : c_(c), src_(c_, seed) {}

int SyntheticDataset::item(std::uint64_t i, double* x) const { return int(src_.item(i, x)); }

int SyntheticDataset::fresh(rng::Stream s, std::uint64_t a, std::uint64_t b, std::uint64_t c, double* x) const {
  return int(src_.sample_from(int(s), a, b, c, x));
}

namespace {
NetConfig without_set(NetConfig c) {
  c.train_size = 0;  // (the held-out set does not build a training set)
  return c;
}
}  // namespace

SyntheticTestSet::SyntheticTestSet(const NetConfig& c, std::uint64_t seed, std::uint64_t n)
    : SyntheticDataset(without_set(c), seed), n_(n) {
  if (n == 0) throw InputError("test-size", "--test-size must be >= 1");
}

int SyntheticTestSet::item(std::uint64_t i, double* x) const {
  return int(src_.sample_from(int(rng::Stream::net_test_set), i, 0, 0, x));
}

std::string SyntheticTestSet::describe() const {
  return "held-out set of " + std::to_string(n_) + " " + to_string(c_.data) + " inputs, " + to_string(c_.labels) + " labels";
}

SubsetDataset::SubsetDataset(std::shared_ptr<const Dataset> base, std::uint64_t n) : base_(std::move(base)), n_(n) {
  if (n == 0 || n > base_->size())
    throw InputError("train-size", "a subset of " + std::to_string(n) + " examples of a set of " + std::to_string(base_->size()));
}

std::string SubsetDataset::describe() const { return "the first " + std::to_string(n_) + " of " + base_->describe(); }

std::string SyntheticDataset::describe() const {
  std::string s = to_string(c_.data) + " inputs (M=" + std::to_string(c_.M) + "), " + to_string(c_.labels) + " labels";
  if (c_.train_size > 0) s += ", fixed set of " + std::to_string(c_.train_size);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Image data

ImageDataset::ImageDataset(std::string name, Shape shape, int classes_in_file, std::vector<std::uint8_t> pixels,
                           std::vector<std::uint8_t> labels, int classes, std::string checksums)
    : name_(std::move(name)), shape_(shape), classes_in_file_(classes_in_file), classes_(classes),
      pixels_(std::move(pixels)), labels_(std::move(labels)), checksums_(std::move(checksums)) {
  if (classes_ != 2 && classes_ != classes_in_file_)
    throw InputError("classes", "--classes must be 2 (class is even) or " + std::to_string(classes_in_file_) + " for " + name_);
}

int ImageDataset::item(std::uint64_t i, double* x) const {
  const size_t n = shape_.size();
  const std::uint8_t* p = &pixels_[i * n];
  for (size_t j = 0; j < n; ++j) x[j] = double(p[j]) / 255.0;
  const int l = labels_[i];
  return classes_ == 2 ? int(l % 2 == 0) : l;
}

int ImageDataset::fresh(rng::Stream, std::uint64_t, std::uint64_t, std::uint64_t, double*) const {
  throw std::logic_error("ImageDataset has no fresh samples");
}

std::string ImageDataset::describe() const {
  return name_ + " (" + std::to_string(size()) + " images " + std::to_string(shape_.c) + "x" + std::to_string(shape_.h) +
         "x" + std::to_string(shape_.w) + ", " + (classes_ == 2 ? std::string("binary: class is even") : std::to_string(classes_) + " classes") + ")";
}

namespace {

std::string crc_hex(const std::vector<unsigned char>& bytes) {
  uLong c = crc32(0L, Z_NULL, 0);
  size_t off = 0;
  while (off < bytes.size()) {
    const uInt n = uInt(std::min<size_t>(bytes.size() - off, 1u << 30));
    c = crc32(c, bytes.data() + off, n);
    off += n;
  }
  char b[16];
  std::snprintf(b, sizeof b, "%08lx", (unsigned long)c);
  return b;
}

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError("data-dir", "--data-dir: cannot read data file '" + path + "'");
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/// Decompresses a gzip stream (a whole file in memory); throws naming the file if it is not a
/// complete gzip stream.
std::vector<unsigned char> gunzip(const std::vector<unsigned char>& in, const std::string& path) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("zlib: inflateInit2 failed");
  std::vector<unsigned char> out;
  std::vector<unsigned char> buf(1 << 20);
  zs.next_in = const_cast<unsigned char*>(in.data());
  zs.avail_in = uInt(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = buf.data();
    zs.avail_out = uInt(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.insert(out.end(), buf.data(), buf.data() + (buf.size() - zs.avail_out));
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) { rc = Z_BUF_ERROR; break; }
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END)
    throw InputError("data-dir", "--data-dir: data file '" + path + "' is not a complete gzip file (truncated or corrupt)");
  return out;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

/// Parses an IDX file of unsigned bytes with `ndim` dimensions; returns dims and the data.
std::vector<std::uint8_t> parse_idx(const std::vector<unsigned char>& b, int ndim, const std::string& path,
                                    std::vector<std::uint32_t>& dims) {
  if (b.size() < 4 + 4 * size_t(ndim) || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != ndim)
    throw InputError("data-dir", "--data-dir: data file '" + path + "' is not an IDX file of bytes with " + std::to_string(ndim) +
                                     " dimensions (bad header)");
  dims.clear();
  size_t n = 1;
  for (int i = 0; i < ndim; ++i) {
    dims.push_back(be32(&b[4 + 4 * i]));
    n *= dims.back();
  }
  const size_t off = 4 + 4 * size_t(ndim);
  if (b.size() != off + n)
    throw InputError("data-dir", "--data-dir: data file '" + path + "' has " + std::to_string(b.size() - off) + " data bytes, its header says " +
                                     std::to_string(n) + " (truncated or malformed)");
  return std::vector<std::uint8_t>(b.begin() + off, b.end());
}

}  // namespace

std::string fashion_mnist_default_dir() {
  std::string dir = "/usr/share/datasets/fashion-mnist";
  if (FILE* p = ::popen("dpkg -L dataset-fashion-mnist 2>/dev/null", "r")) {
    char line[4096];
    while (std::fgets(line, sizeof line, p)) {
      std::string s(line);
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
      const std::string tail = "/train-images-idx3-ubyte.gz";
      if (s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0) {
        dir = s.substr(0, s.size() - tail.size());
        break;
      }
    }
    ::pclose(p);
  }
  return dir;
}

std::unique_ptr<ImageDataset> read_fashion_mnist(const std::string& dir, const std::string& split, int classes) {
  if (split != "train" && split != "test") throw InputError("split", "--split must be train or test (got '" + split + "')");
  const std::string stem = split == "train" ? "train" : "t10k";
  const std::string ip = dir + "/" + stem + "-images-idx3-ubyte.gz", lp = dir + "/" + stem + "-labels-idx1-ubyte.gz";
  const auto iraw = read_file(ip), lraw = read_file(lp);
  std::vector<std::uint32_t> idim, ldim;
  auto pixels = parse_idx(gunzip(iraw, ip), 3, ip, idim);
  auto labels = parse_idx(gunzip(lraw, lp), 1, lp, ldim);
  if (idim[0] != ldim[0])
    throw InputError("data-dir", "--data-dir: data files '" + ip + "' and '" + lp + "' disagree on the number of examples");
  for (auto l : labels)
    if (l >= 10) throw InputError("data-dir", "--data-dir: data file '" + lp + "' has a label outside 0..9");
  const std::string sums = std::filesystem::path(ip).filename().string() + ":" + crc_hex(iraw) + ";" +
                           std::filesystem::path(lp).filename().string() + ":" + crc_hex(lraw);
  return std::make_unique<ImageDataset>("fashion-mnist " + split, Shape{1, int(idim[1]), int(idim[2])}, 10,
                                        std::move(pixels), std::move(labels), classes, sums);
}

std::unique_ptr<ImageDataset> read_cifar10(const std::string& dir, const std::string& split, int classes) {
  if (split != "train" && split != "test") throw InputError("split", "--split must be train or test (got '" + split + "')");
  std::vector<std::string> files;
  if (split == "train")
    for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  else
    files.push_back(dir + "/test_batch.bin");
  constexpr size_t rec = 1 + 3072;
  std::vector<std::uint8_t> pixels, labels;
  std::string sums;
  for (const auto& f : files) {
    const auto b = read_file(f);
    if (b.empty() || b.size() % rec != 0)
      throw InputError("data-dir", "--data-dir: data file '" + f + "' has " + std::to_string(b.size()) +
                                       " bytes, not a whole number of 3073-byte CIFAR-10 records (truncated or malformed)");
    for (size_t r = 0; r < b.size() / rec; ++r) {
      const unsigned char* p = &b[r * rec];
      if (p[0] >= 10) throw InputError("data-dir", "--data-dir: data file '" + f + "' has a label outside 0..9 in record " + std::to_string(r));
      labels.push_back(p[0]);
      pixels.insert(pixels.end(), p + 1, p + rec);
    }
    sums += (sums.empty() ? "" : ";") + std::filesystem::path(f).filename().string() + ":" + crc_hex(b);
  }
  return std::make_unique<ImageDataset>("cifar10 " + split, Shape{3, 32, 32}, 10, std::move(pixels), std::move(labels),
                                        classes, sums);
}

// ---------------------------------------------------------------------------------------------
// Samplers

std::string to_string(SamplerKind k) {
  switch (k) {
    case SamplerKind::online: return "online";
    case SamplerKind::replacement: return "replacement";
    case SamplerKind::epoch: return "epoch";
    case SamplerKind::full: return "full";
  }
  return "?";
}

SamplerKind parse_sampler(const std::string& s) {
  if (s == "online") return SamplerKind::online;
  if (s == "replacement") return SamplerKind::replacement;
  if (s == "epoch") return SamplerKind::epoch;
  if (s == "full") return SamplerKind::full;
  throw InputError("sampler", "--sampler must be online, replacement, epoch or full (got '" + s + "')");
}

Sampler::Sampler(const Dataset& d, SamplerKind kind, int batch, std::uint64_t seed)
    : d_(d), kind_(kind), batch_(batch), seed_(seed) {
  if (kind_ == SamplerKind::online && d_.size() > 0)
    throw InputError("sampler", "--sampler online needs fresh synthetic data, not a fixed set");
  if (kind_ != SamplerKind::online && d_.size() == 0)
    throw InputError("sampler", "--sampler " + to_string(kind_) + " needs a fixed set (--train-size n or an image data set)");
  if (kind_ == SamplerKind::full && std::uint64_t(batch_) != d_.size())
    throw InputError("sampler", "--sampler full uses every example once per step: the batch must be the set size");
}

std::uint64_t Sampler::index(std::uint64_t e, std::uint64_t t, std::uint64_t k) {
  const std::uint64_t n = d_.size();
  switch (kind_) {
    case SamplerKind::replacement:
      return rng::draw(rng::make_key(seed_, rng::Stream::net_data), e, t, k, 1)[0] % n;
    case SamplerKind::full: return k;
    case SamplerKind::epoch: {
      const std::uint64_t s = t * std::uint64_t(batch_) + k, epoch = s / n, pos = s % n;
      if (e != perm_e_ || epoch != perm_epoch_) {
        // Fisher-Yates shuffle of 0..n-1 keyed by (network, epoch).
        perm_.resize(n);
        for (std::uint64_t i = 0; i < n; ++i) perm_[i] = i;
        const auto key = rng::make_key(seed_, rng::Stream::net_shuffle);
        for (std::uint64_t i = n - 1; i > 0; --i) {
          const auto w = rng::draw(key, e, epoch, i)[0];
          const std::uint64_t j = std::uint64_t((static_cast<unsigned __int128>(w) * (i + 1)) >> 64);
          std::swap(perm_[i], perm_[j]);
        }
        perm_e_ = e;
        perm_epoch_ = epoch;
      }
      return perm_[pos];
    }
    case SamplerKind::online: break;
  }
  return 0;
}

int Sampler::draw(std::uint64_t e, std::uint64_t t, std::uint64_t k, double* x) {
  if (kind_ == SamplerKind::online) return d_.fresh(rng::Stream::net_data, e, t, k, x);
  return d_.item(index(e, t, k), x);
}

}  // namespace soret::net
