#include "soret/net/model.hpp"

#include <algorithm>
#include <boost/random/normal_distribution.hpp>
#include <cmath>

#include "soret/common/error.hpp"
#include "soret/walk/model.hpp"
#include "soret/common/rng.hpp"

namespace soret::net {

Init Init::parse(const std::string& s) {
  Init in;
  if (s == "pytorch") return in;
  if (s.rfind("gaussian:", 0) == 0) {
    const auto p = split(s.substr(9), ',');
    if (p.size() != 3) throw InputError("init", "--init gaussian:SW,SB,SV needs three numbers");
    in.kind = Kind::gaussian;
    in.sw = parse_double(p[0], "init");
    in.sb = parse_double(p[1], "init");
    in.sv = parse_double(p[2], "init");
    for (double v : {in.sw, in.sb, in.sv})
      if (!std::isfinite(v) || v < 0) throw InputError("init", "--init gaussian: scales must be finite and >= 0 (got '" + s.substr(9) + "')");
    return in;
  }
  throw InputError("init", "--init must be pytorch or gaussian:SW,SB,SV (got '" + s + "')");
}

std::string Init::text() const {
  if (kind == Kind::pytorch) return "pytorch";
  return "gaussian:" + std::to_string(sw) + "," + std::to_string(sb) + "," + std::to_string(sv);
}

void NetConfig::validate() const {
  if (M < 1 || M > 100000) throw InputError("inputs", "--inputs must be in [1, 1e5]");
  if (N < 1 || N > 100000) throw InputError("hidden", "--hidden must be in [1, 1e5]");
}

std::string to_string(Data d) { return d == Data::gaussian ? "gaussian" : "uniform"; }
std::string to_string(Labels l) { return l == Labels::random ? "random" : "teacher"; }
std::string to_string(Loss l) { return l == Loss::bce ? "bce" : l == Loss::mse ? "mse" : "ce"; }
Data parse_data(const std::string& s) {
  if (s == "gaussian") return Data::gaussian;
  if (s == "uniform") return Data::uniform;
  throw InputError("data", "--data must be gaussian or uniform (got '" + s + "')");
}
Labels parse_labels(const std::string& s) {
  if (s == "random") return Labels::random;
  if (s == "teacher") return Labels::teacher;
  throw InputError("labels", "--labels must be random or teacher (got '" + s + "')");
}
Loss parse_loss(const std::string& s) {
  if (s == "bce") return Loss::bce;
  if (s == "mse") return Loss::mse;
  if (s == "ce") return Loss::ce;
  throw InputError("loss", "--loss must be bce, mse or ce (got '" + s + "')");
}

void init_network(const NetConfig& c, std::uint64_t seed, std::uint64_t e, Params p) {
  rng::CounterStream rs(rng::make_key(seed, rng::Stream::net_init), e, 0);
  const int M = c.M, N = c.N;
  if (c.init.kind == Init::Kind::pytorch) {
    const double bw = 1.0 / std::sqrt(double(M)), bv = 1.0 / std::sqrt(double(N));
    for (int i = 0; i < N * M; ++i) p.W[i] = bw * (2 * rs.uniform() - 1);
    for (int i = 0; i < N; ++i) p.b[i] = c.biases() ? bw * (2 * rs.uniform() - 1) : 0.0;
    for (int i = 0; i < N; ++i) p.V[i] = bv * (2 * rs.uniform() - 1);
  } else {
    const double sw = c.init.sw / std::sqrt(double(M)), sv = c.init.sv / std::sqrt(double(N));
    for (int i = 0; i < N * M; ++i) p.W[i] = sw * rs.normal();
    for (int i = 0; i < N; ++i) p.b[i] = c.biases() ? c.init.sb * rs.normal() : 0.0;
    for (int i = 0; i < N; ++i) p.V[i] = sv * rs.normal();
  }
}

namespace {

/// The words of rng::Engine(key, a, b) (counters (a, b, k, 0), k = 0, 1, ...), made in batches
/// of independent Philox calls, and Boost's normal_distribution<double> on them with its
/// ziggurat's first, accepted try inlined: the same numbers as `nd(rng::Engine)` (tested), in
/// about half the time.
class ZigguratNormals {
 public:
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type(0); }
  ZigguratNormals(const rng::Key& key, std::uint64_t a, std::uint64_t b, int expected) : key_(key), a_(a), b_(b) {
    refill(std::min(kWords, (expected + 8 + 3) & ~3));
  }
  result_type operator()() {
    if (pos_ == end_) refill(16);
    return w_[pos_++];
  }
  /// The next value of nd(*this).
  double fast(boost::random::normal_distribution<double>& nd) {
    if (pos_ < end_) {
      // boost::random::detail::generate_int_float_pair<double, 8> on one 64-bit word, then the
      // first test of unit_normal_distribution
      const std::uint64_t u = w_[pos_];
      const int i = int(u & 0xff), k = i >> 1;
      const double r = double((u & ~(std::uint64_t(1) << 11)) >> 8) * (1.0 / double(std::uint64_t(1) << 56));
      const double* tx = boost::random::detail::normal_table<double>::table_x;
      const double xv = r * tx[k];
      if (xv < tx[k + 1]) {
        ++pos_;
        return (xv * double((i & 1) * 2 - 1)) * nd.sigma() + nd.mean();
      }
    }
    return nd(*this);  // the rare rejection and tail steps, by Boost itself
  }

 private:
  static constexpr int kWords = 128;
  void refill(int words) {  // words: a multiple of 4
    rng::Philox g;
    for (int q = 0; q < words; q += 4) {
      const auto r = g(rng::Ctr{{a_, b_, k_++, 0}}, key_);
      for (int j = 0; j < 4; ++j) w_[q + j] = r[j];
    }
    pos_ = 0;
    end_ = words;
  }
  rng::Key key_;
  std::uint64_t a_, b_, k_ = 0;
  int pos_ = 0, end_ = 0;
  std::uint64_t w_[kWords];
};

}  // namespace

DataSource::DataSource(const NetConfig& c, std::uint64_t seed) : c_(c), seed_(seed) {
  if (c.labels == Labels::teacher) {
    rng::CounterStream rs(rng::make_key(seed, rng::Stream::net_teacher), 0, 0);
    const int M = c.M, N = c.N;
    teacher_W_.resize(size_t(N) * M);
    teacher_b_.resize(N);
    teacher_V_.resize(N);
    for (auto& w : teacher_W_) w = rs.normal() / std::sqrt(double(M));
    for (auto& b : teacher_b_) b = c.biases() ? 0.1 * rs.normal() : 0.0;
    for (auto& v : teacher_V_) v = rs.normal() / std::sqrt(double(N));
  }
  if (c.train_size > 0) {
    set_x_.resize(c.train_size * c.M);
    set_y_.resize(c.train_size);
    for (std::uint64_t i = 0; i < c.train_size; ++i) {
      draw_x(i, 0, 0, &set_x_[i * c.M], int(rng::Stream::net_dataset));
      const auto r = rng::draw(rng::make_key(seed_, rng::Stream::net_dataset), i, 1, 0, 1);
      set_y_[i] = label(&set_x_[i * c.M], r[0]);
    }
  }
}

void DataSource::draw_x(std::uint64_t a, std::uint64_t b, std::uint64_t c, double* x, int stream) const {
  const auto key = rng::make_key(seed_, static_cast<rng::Stream>(stream));
  const int M = c_.M;
  if (c_.data == Data::gaussian) {
    // Boost.Random's ziggurat normal on the sample's own Philox stream (counter (a, b ^ c << 40, ...)).
    ZigguratNormals eng(key, a, b ^ (c << 40), M);
    boost::random::normal_distribution<double> nd;
    for (int j = 0; j < M; ++j) x[j] = eng.fast(nd);
    return;
  }
  for (int j0 = 0; j0 < M; j0 += 4) {
    const auto r = rng::draw(key, a, b, c, std::uint64_t(j0 / 4) << 1);
    for (int j = j0; j < std::min(M, j0 + 4); ++j) x[j] = rng::u01(r[j - j0]);
  }
}

double DataSource::label(const double* x, std::uint64_t bits) const {
  if (c_.labels == Labels::random) return double(bits >> 63);
  const int M = c_.M, N = c_.N;
  double f = 0;
  for (int i = 0; i < N; ++i) {
    double h = teacher_b_[i];
    for (int j = 0; j < M; ++j) h += teacher_W_[size_t(i) * M + j] * x[j];
    f += teacher_V_[i] * std::max(h, 0.0);
  }
  return f > 0 ? 1.0 : 0.0;
}

double DataSource::sample(std::uint64_t e, std::uint64_t t, std::uint64_t k, double* x) const {
  const auto key = rng::make_key(seed_, rng::Stream::net_data);
  if (c_.train_size > 0) {
    const std::uint64_t i = rng::draw(key, e, t, k, 1)[0] % c_.train_size;
    std::copy_n(&set_x_[i * c_.M], c_.M, x);
    return set_y_[i];
  }
  draw_x(e, t, k, x, int(rng::Stream::net_data));
  return label(x, rng::draw(key, e, t, k, 1)[0]);
}

double DataSource::sample_from(int stream, std::uint64_t a, std::uint64_t b, std::uint64_t c, double* x) const {
  draw_x(a, b, c, x, stream);
  return label(x, rng::draw(rng::make_key(seed_, static_cast<rng::Stream>(stream)), a, b, c, 1)[0]);
}

double DataSource::item(std::uint64_t i, double* x) const {
  std::copy_n(&set_x_[i * c_.M], c_.M, x);
  return set_y_[i];
}

double DataSource::probe(std::uint64_t k, double* x) const {
  draw_x(k, 0, 0, x, int(rng::Stream::net_probe));
  return label(x, rng::draw(rng::make_key(seed_, rng::Stream::net_probe), k, 0, 0, 1)[0]);
}

}  // namespace soret::net
