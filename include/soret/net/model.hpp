#pragma once
// Two-layer ReLU networks f(x) = V . relu(W x + b) (paper Section 4) and their data.
//
// Units: all quantities dimensionless. Parameters of one network are stored contiguously:
// W (N x M, row-major), b (N), V (N). An ensemble is E independent networks (walkers in
// parameter space).
#include <cstdint>
#include <string>
#include <vector>

namespace soret::net {

enum class Data { gaussian, uniform };   ///< x ~ N(0, I) (with biases) or x ~ U(0,1)^M (no biases)
enum class Labels { random, teacher };   ///< y ~ Bernoulli(1/2) independent of x, or y = 1[teacher(x) > 0]
enum class Loss { bce, mse, ce };        ///< BCE with logits (dL/df = sigmoid(f) - y), (f - y)^2 / 2, or softmax cross-entropy

struct Init {
  enum class Kind { pytorch, gaussian } kind = Kind::pytorch;
  /// gaussian: W ~ N(0, sw^2/M), b ~ N(0, sb^2), V ~ N(0, sv^2/N).
  /// pytorch (nn.Linear default): W, b ~ U(-1/sqrt(M), 1/sqrt(M)), V ~ U(-1/sqrt(N), 1/sqrt(N)).
  double sw = 1.0, sb = 0.0, sv = 1.0;
  static Init parse(const std::string& s);  // option "init": pytorch | gaussian:SW,SB,SV
  std::string text() const;
};

struct NetConfig {
  int M = 10, N = 10;
  Data data = Data::gaussian;
  Labels labels = Labels::random;
  Loss loss = Loss::bce;
  Init init;
  std::uint64_t train_size = 0;  ///< 0: online SGD with fresh samples; n > 0: a fixed training set
  bool biases() const { return data == Data::gaussian; }
  std::size_t params() const { return std::size_t(N) * M + 2 * std::size_t(N); }
  void validate() const;  // throws InputError
};

std::string to_string(Data d);
std::string to_string(Labels l);
std::string to_string(Loss l);
Data parse_data(const std::string& s);
Labels parse_labels(const std::string& s);
Loss parse_loss(const std::string& s);

/// Parameters of one network, and views into an ensemble's storage.
struct Params {
  double* W;  ///< N x M
  double* b;  ///< N
  double* V;  ///< N
};

/// Initialises network e of the ensemble (stream net_init, counter (e, ...)): the same network e
/// for every learning rate and batch size of a sweep (common random numbers).
void init_network(const NetConfig& c, std::uint64_t seed, std::uint64_t e, Params p);

/// The data source: sample k of step t for network e (online), or an index into the fixed set.
class DataSource {
 public:
  DataSource(const NetConfig& c, std::uint64_t seed);
  /// Fills x (M values) and returns the label of sample k at step t for network e.
  double sample(std::uint64_t e, std::uint64_t t, std::uint64_t k, double* x) const;
  /// A sample from stream s at counter (a, b, c); for s = net_data this is sample(a, b, c).
  double sample_from(int stream, std::uint64_t a, std::uint64_t b, std::uint64_t c, double* x) const;
  /// Example i of the fixed training set (train_size > 0).
  double item(std::uint64_t i, double* x) const;
  /// A probe sample (stream net_probe), the same for all networks.
  double probe(std::uint64_t k, double* x) const;

 private:
  double label(const double* x, std::uint64_t bits) const;
  void draw_x(std::uint64_t a, std::uint64_t b, std::uint64_t c, double* x, int stream) const;
  const NetConfig& c_;
  std::uint64_t seed_;
  std::vector<double> teacher_W_, teacher_b_, teacher_V_;
  std::vector<double> set_x_, set_y_;
};

}  // namespace soret::net
