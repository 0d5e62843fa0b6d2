#pragma once
// Data sets and samplers of the network trainers.
//
// A Dataset gives examples (x, label): synthetic ones drawn fresh from a counter-based stream
// (Gaussian or uniform inputs, random or teacher labels; the two-layer trainer's DataSource), or
// the examples of a fixed set (a synthetic training set, Fashion-MNIST, CIFAR-10). A Sampler says
// which example sample k of step t of network e is: fresh, drawn with replacement from the fixed
// set, the next of an epoch-wise shuffle (without replacement), or example k (a full pass, for
// full-batch gradient descent). Every choice is a pure function of (seed, stream, network, step,
// sample), so results do not depend on the thread count.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "soret/common/rng.hpp"
#include "soret/net/layers.hpp"
#include "soret/net/model.hpp"

namespace soret::net {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual Shape input() const = 0;
  /// Number of label values: 2 for binary tasks (label 0 or 1), else the number of classes.
  virtual int classes() const = 0;
  /// Size of the fixed set (0: examples are drawn fresh and there is no fixed set).
  virtual std::uint64_t size() const = 0;
  /// Example i of the fixed set: fills x (input().size() values), returns the label.
  virtual int item(std::uint64_t i, double* x) const = 0;
  /// A fresh example from stream s at counter (a, b, c) (synthetic data only).
  virtual int fresh(rng::Stream s, std::uint64_t a, std::uint64_t b, std::uint64_t c, double* x) const = 0;
  virtual std::string describe() const = 0;
  /// Files read, with their CRC-32 (zlib) checksums: "name:crc32hex;..." (empty for synthetic data).
  virtual std::string checksums() const { return ""; }
};

/// Gaussian or uniform inputs with random or teacher labels (the two-layer trainer's DataSource;
/// the same examples for the same seed). With train_size > 0, a fixed set of that many examples.
class SyntheticDataset : public Dataset {
 public:
  SyntheticDataset(const NetConfig& c, std::uint64_t seed);
  Shape input() const override { return Shape{c_.M, 1, 1}; }
  int classes() const override { return 2; }
  std::uint64_t size() const override { return c_.train_size; }
  int item(std::uint64_t i, double* x) const override;
  int fresh(rng::Stream s, std::uint64_t a, std::uint64_t b, std::uint64_t c, double* x) const override;
  std::string describe() const override;

 protected:
  NetConfig c_;
  DataSource src_;
};

/// The held-out (test) set of synthetic data: n examples, example i drawn from stream net_test_set
/// at counter (i, 0, 0) with the training data's inputs and labels (the same teacher for the same
/// seed); never an example of the training set (other stream).
class SyntheticTestSet : public SyntheticDataset {
 public:
  SyntheticTestSet(const NetConfig& c, std::uint64_t seed, std::uint64_t n);
  std::uint64_t size() const override { return n_; }
  int item(std::uint64_t i, double* x) const override;
  std::string describe() const override;

 private:
  std::uint64_t n_;
};

/// The first n examples of a fixed set (a smaller training or held-out set of image data).
class SubsetDataset : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, std::uint64_t n);
  Shape input() const override { return base_->input(); }
  int classes() const override { return base_->classes(); }
  std::uint64_t size() const override { return n_; }
  int item(std::uint64_t i, double* x) const override { return base_->item(i, x); }
  int fresh(rng::Stream s, std::uint64_t a, std::uint64_t b, std::uint64_t c, double* x) const override {
    return base_->fresh(s, a, b, c, x);
  }
  std::string describe() const override;
  std::string checksums() const override { return base_->checksums(); }

 private:
  std::shared_ptr<const Dataset> base_;
  std::uint64_t n_;
};

/// Images with labels, 8-bit pixels (inputs pixel / 255) in C x H x W order.
class ImageDataset : public Dataset {
 public:
  ImageDataset(std::string name, Shape shape, int classes_in_file, std::vector<std::uint8_t> pixels,
               std::vector<std::uint8_t> labels, int classes, std::string checksums);
  Shape input() const override { return shape_; }
  int classes() const override { return classes_; }
  std::uint64_t size() const override { return labels_.size(); }
  int item(std::uint64_t i, double* x) const override;
  int fresh(rng::Stream, std::uint64_t, std::uint64_t, std::uint64_t, double*) const override;
  std::string describe() const override;
  std::string checksums() const override { return checksums_; }
  /// The label as stored in the file (0 .. classes_in_file - 1).
  int raw_label(std::uint64_t i) const { return labels_[i]; }

 private:
  std::string name_;
  Shape shape_;
  int classes_in_file_, classes_;
  std::vector<std::uint8_t> pixels_, labels_;
  std::string checksums_;
};

/// Where Debian's dataset-fashion-mnist package puts its files, found at run time (dpkg -L, then
/// the package's documented path /usr/share/datasets/fashion-mnist).
std::string fashion_mnist_default_dir();

/// Fashion-MNIST from gzipped IDX files in dir: split "train" (60000) or "test" (10000).
/// classes 10: the labels; classes 2: label 1 when the class is even. A missing, truncated or
/// malformed file throws InputError("data-dir", message naming the file).
std::unique_ptr<ImageDataset> read_fashion_mnist(const std::string& dir, const std::string& split, int classes);

/// CIFAR-10 binary format (data_batch_1..5.bin for "train", test_batch.bin for "test"): records of
/// 1 label byte and 3072 pixel bytes (3 x 32 x 32). Errors as for Fashion-MNIST.
std::unique_ptr<ImageDataset> read_cifar10(const std::string& dir, const std::string& split, int classes);

enum class SamplerKind {
  online,       ///< a fresh synthetic example per (network, step, sample)
  replacement,  ///< example index uniform over the fixed set, independently per (network, step, sample)
  epoch,        ///< epoch-wise shuffle per network: each epoch visits every example once
  full          ///< sample k of every step is example k (full-batch gradient descent: |B| = set size)
};
std::string to_string(SamplerKind k);
SamplerKind parse_sampler(const std::string& s);

/// Picks the examples of a run. One Sampler per thread (it caches the current epoch's permutation).
class Sampler {
 public:
  Sampler(const Dataset& d, SamplerKind kind, int batch, std::uint64_t seed);
  /// Sample k of step t of network e: fills x, returns the label.
  int draw(std::uint64_t e, std::uint64_t t, std::uint64_t k, double* x);
  /// The example index (fixed sets only).
  std::uint64_t index(std::uint64_t e, std::uint64_t t, std::uint64_t k);
  SamplerKind kind() const { return kind_; }

 private:
  const Dataset& d_;
  SamplerKind kind_;
  int batch_;
  std::uint64_t seed_;
  std::uint64_t perm_e_ = ~0ull, perm_epoch_ = ~0ull;
  std::vector<std::uint64_t> perm_;
};

}  // namespace soret::net
