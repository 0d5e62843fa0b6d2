#pragma once
// Counter-based random streams (Random123 Philox4x64-10).
//
// Every random number in soret is a pure function of (seed, stream id, counter words): the key
// is (seed, stream id) and the counter names the consumer (walker or network index) and the
// time step. Results therefore do not depend on the thread count or on the order in which
// walkers are processed. All stream ids are registered here, in one place.
#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>

#include <cstdint>

namespace soret::rng {

/// Registry of stream ids. Never reuse or renumber an id: that would change published results.
enum class Stream : std::uint64_t {
  walk_init = 1,        ///< initial positions: counter (walker, draw, 0, 0)
  walk_noise = 2,       ///< step noise: counter (walker, step or step/256, sub, 0)
  net_init = 16,        ///< network initialisation: counter (network, parameter block, 0, 0)
  net_data = 17,        ///< inputs and labels: counter (network or common, step, sample, 0)
  net_probe = 18,       ///< probe / Monte-Carlo sets
  net_teacher = 19,     ///< teacher network weights
  net_dataset = 20,     ///< fixed finite training set
  check_replica = 32,   ///< seeds of validation replicas
  net_grad_samples = 21,  ///< fresh samples of the gradient-variance records: counter (network, step, sample, 0)
  net_shuffle = 22,       ///< epoch-wise shuffles of a fixed set: counter (network, epoch, position, 0)
  net_hessian_probe = 23, ///< Rademacher probes of the Hessian trace: counter (network, record, probe, parameter / 256)
  net_hessian_samples = 24, ///< the samples of a record's Hessian: counter (network, record, sample, 0)
  net_test_set = 25,      ///< the held-out set of synthetic data: counter (example, 0, 0, 0)
};

using Philox = r123::Philox4x64;
using Ctr = Philox::ctr_type;
using Key = Philox::key_type;

inline Key make_key(std::uint64_t seed, Stream s) { return Key{{seed, static_cast<std::uint64_t>(s)}}; }

/// Four independent 64-bit words for counter (a, b, c, d) under key.
inline Ctr draw(const Key& key, std::uint64_t a, std::uint64_t b, std::uint64_t c = 0, std::uint64_t d = 0) {
  Philox g;
  return g(Ctr{{a, b, c, d}}, key);
}

/// Uniform double in [0, 1) with 53 random bits.
inline double u01(std::uint64_t w) { return static_cast<double>(w >> 11) * 0x1p-53; }
/// Uniform double in (0, 1].
inline double u01_open0(std::uint64_t w) { return (static_cast<double>(w >> 11) + 1.0) * 0x1p-53; }

/// Two standard normal deviates from two words (Box-Muller, Random123's implementation).
inline r123::double2 normal2(std::uint64_t a, std::uint64_t b) { return r123::boxmuller(a, b); }

/// A tiny sequential generator on top of one counter-based stream, for code that needs an
/// unknown number of draws (rejection sampling): draws come from counters (a, b, k, 0), k = 0,1,...
class CounterStream {
 public:
  CounterStream(const Key& key, std::uint64_t a, std::uint64_t b) : key_(key), a_(a), b_(b) {}
  std::uint64_t next() {
    if (pos_ == 4) { buf_ = draw(key_, a_, b_, k_++); pos_ = 0; }
    return buf_[pos_++];
  }
  double uniform() { return u01(next()); }
  double normal() {
    if (have_normal_) { have_normal_ = false; return spare_; }
    const auto z = normal2(next(), next());
    spare_ = z.y;
    have_normal_ = true;
    return z.x;
  }

 private:
  Key key_;
  std::uint64_t a_, b_, k_ = 0;
  Ctr buf_{};
  int pos_ = 4;
  double spare_ = 0.0;
  bool have_normal_ = false;
};

/// A CounterStream as a Boost.Random / std uniform random bit generator, so that Boost.Random's
/// distributions (e.g. its ziggurat normal_distribution) run on top of Philox.
class Engine {
 public:
  using result_type = std::uint64_t;
  Engine(const Key& key, std::uint64_t a, std::uint64_t b) : s_(key, a, b) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type(0); }
  result_type operator()() { return s_.next(); }

 private:
  CounterStream s_;
};

}  // namespace soret::rng
