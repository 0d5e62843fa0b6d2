#include "soret/walk/init.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>

#include "soret/common/error.hpp"
#include "soret/common/memory.hpp"
#include "soret/common/omp_guard.hpp"
#include "soret/common/expression.hpp"
#include "soret/walk/profile.hpp"
#include "soret/common/rng.hpp"

namespace soret {

InitSpec InitSpec::parse(const std::string& s, int dim) {
  InitSpec sp;
  sp.text = s;
  const auto colon = s.find(':');
  const std::string head = s.substr(0, colon), arg = colon == std::string::npos ? "" : s.substr(colon + 1);
  if (head == "uniform" && colon == std::string::npos) {
    sp.kind = Kind::uniform;
  } else if (head == "point") {
    sp.kind = Kind::point;
    for (const auto& t : split(arg, ',')) sp.point.push_back(parse_double(t, "init"));
    if (sp.point.size() == 1) sp.point.assign(dim, sp.point[0]);
    if (static_cast<int>(sp.point.size()) != dim)
      throw InputError("init", "--init point:X needs one value or one per axis");
  } else if (head == "gaussian") {
    sp.kind = Kind::gaussian;
    const auto p = split(arg, ',');
    if (p.size() != 2) throw InputError("init", "--init gaussian:MU,SIGMA needs two numbers");
    sp.mu = parse_double(p[0], "init");
    sp.sigma = parse_double(p[1], "init");
    if (!(sp.sigma > 0)) throw InputError("init", "--init gaussian: SIGMA must be > 0");
  } else if (head == "density" && !arg.empty()) {
    sp.kind = Kind::density;
    sp.expr = arg;
  } else if (head == "file" && !arg.empty()) {
    sp.kind = Kind::file;
    sp.path = arg;
  } else {
    throw InputError("init", "--init must be uniform, point:X, gaussian:MU,SIGMA, density:EXPR or file:PATH (got '" + s + "')");
  }
  return sp;
}

namespace {

/// Applies the boundary to an initial position: returns false if the walker is absorbed.
bool settle(const AxisSpec& a, double& x) {
  if (x >= a.lo && x < a.hi) return true;
  switch (a.boundary) {
    case Boundary::periodic: {
      const double L = a.hi - a.lo;
      x -= L * std::floor((x - a.lo) / L);
      if (x >= a.hi) x = a.lo;
      return true;
    }
    case Boundary::reflecting: {
      const double L = a.hi - a.lo;
      double m = std::fmod(x - a.lo, 2 * L);
      if (m < 0) m += 2 * L;
      if (m > L) m = 2 * L - m;
      x = a.lo + m;
      return true;
    }
    case Boundary::absorbing: return false;
    default: return true;
  }
}

/// Applies the boundaries to walker w's drawn position q and stores it.
void place(const WalkModel& m, std::vector<double>& q, std::uint64_t w, std::vector<std::vector<double>>& x,
           std::vector<std::uint8_t>& alive) {
  bool live = true;
  for (int a = 0; a < m.dim; ++a) live = settle(m.axes[a], q[a]) && live;
  for (int a = 0; a < m.dim; ++a) x[a][w] = q[a];
  alive[w] = live ? 1 : 0;
}

}  // namespace

void validate_stored_ensemble(const StoredEnsemble& s, const WalkModel& m) {
  const std::uint64_t d = std::uint64_t(s.dim);
  if (s.dim < 1 || s.dim != m.dim)
    throw InputError("init", "--init file: the stored ensemble has dimension " + std::to_string(s.dim) + ", the run has " +
                                 std::to_string(m.dim));
  if (s.walkers == 0) throw InputError("init", "--init file: the stored ensemble has no walkers");
  if (s.pos.size() / d != s.walkers || s.pos.size() % d != 0)
    throw InputError("init", "--init file: /final/position holds " + std::to_string(s.pos.size()) + " values, not walkers x dim = " +
                                 std::to_string(s.walkers) + " x " + std::to_string(s.dim));
  if (s.alive.size() != s.walkers)
    throw InputError("init", "--init file: /final/alive has " + std::to_string(s.alive.size()) + " entries, /final/position " +
                                 std::to_string(s.walkers) + " walkers");
  for (std::uint64_t w = 0; w < s.walkers; ++w) {
    if (s.alive[w] > 1)
      throw InputError("init", "--init file: /final/alive[" + std::to_string(w) + "] = " + std::to_string(int(s.alive[w])) +
                                   " (must be 0 or 1)");
    if (!s.alive[w]) continue;
    for (int a = 0; a < s.dim; ++a) {
      const double x = s.pos[w * d + a];
      const auto& ax = m.axes[a];
      if (!std::isfinite(x))
        throw InputError("init", "--init file: /final/position of walker " + std::to_string(w) + " is not finite");
      const bool inside = ax.boundary == Boundary::free ||
                          (x >= ax.lo && (ax.boundary == Boundary::reflecting ? x <= ax.hi : x < ax.hi));
      if (!inside)
        throw InputError("init", "--init file: walker " + std::to_string(w) + " is at " + std::to_string(x) + " on axis " +
                                     std::to_string(a) + ", outside the domain [" + std::to_string(ax.lo) + ", " +
                                     std::to_string(ax.hi) + ")");
    }
  }
}

void sample_initial(const WalkModel& m, const InitSpec& spec, std::uint64_t seed, std::uint64_t n,
                    std::vector<std::vector<double>>& x, std::vector<std::uint8_t>& alive,
                    const StoredEnsemble* stored, int threads, std::uint64_t first) {
  const int d = m.dim;
  x.resize(d);
  for (auto& xa : x) assign_huge(xa, n, 0.0);
  assign_huge(alive, n, std::uint8_t(1));
  const auto key = rng::make_key(seed, rng::Stream::walk_init);

  if (spec.kind == InitSpec::Kind::file) {
    if (!stored || stored->dim != d)
      throw InputError("init", "--init file: the stored ensemble has dimension " +
                                   std::to_string(stored ? stored->dim : 0) + ", the run has " + std::to_string(d));
    if (first != 0 ? stored->walkers < first + n : stored->walkers != n)
      throw InputError("walkers", "--walkers must equal the stored ensemble size (" + std::to_string(stored->walkers) + ")");
    validate_stored_ensemble(*stored, m);
    for (std::uint64_t w = 0; w < n; ++w) {
      for (int a = 0; a < d; ++a) x[a][w] = stored->pos[(first + w) * d + a];
      alive[w] = stored->alive[first + w];
    }
    return;
  }

  if (spec.kind != InitSpec::Kind::density) {
    // No expression is evaluated here, so nothing can throw: a plain loop without the per-walker
    // exception guard of the rejection sampler below.
    const auto kind = spec.kind;
#pragma omp parallel num_threads(threads)
    {
      std::vector<double> q(d);
#pragma omp for schedule(static)
      for (std::int64_t w = 0; w < std::int64_t(n); ++w) {
        if (kind == InitSpec::Kind::uniform && d <= 4) {  // the stream's first four words: one Philox call
          const auto r = rng::draw(key, first + std::uint64_t(w), 0, 0);
          for (int a = 0; a < d; ++a) q[a] = m.axes[a].lo + (m.axes[a].hi - m.axes[a].lo) * rng::u01(r[a]);
        } else {
          rng::CounterStream rs(key, first + std::uint64_t(w), 0);
          for (int a = 0; a < d; ++a)
            q[a] = kind == InitSpec::Kind::uniform ? m.axes[a].lo + (m.axes[a].hi - m.axes[a].lo) * rs.uniform()
                   : kind == InitSpec::Kind::point ? spec.point[a]
                                                   : spec.mu + spec.sigma * rs.normal();
        }
        place(m, q, std::uint64_t(w), x, alive);
      }
    }
    return;
  }

  // --init density: rejection sampling against the expression's grid maximum.
  const auto dens = std::make_unique<Expression>(spec.expr, d, m.eta, "init");
  std::vector<AxisRange> r;
  for (const auto& a : m.axes) r.push_back({a.lo, a.hi});
  FastFunction scan(*dens, r);
  if (!scan.grid_finite() || scan.grid_min() < 0)
    throw InputError("init", "--init density: the expression must be finite and >= 0 on the domain");
  if (!(scan.grid_max() > 0)) throw InputError("init", "--init density: the expression is zero on the domain");
  const double envelope = 1.25 * scan.grid_max();

  bool envelope_exceeded = false;
  std::atomic<bool> gave_up{false};
  constexpr int kMaxTries = 10000000;
  OmpGuard guard;  // exceptions caught per thread, rethrown once after the region
#pragma omp parallel num_threads(threads)
  {
    std::unique_ptr<Expression> local = dens->clone();
    std::vector<double> q(d);
#pragma omp for schedule(static)
    for (std::int64_t w = 0; w < std::int64_t(n); ++w) guard.run([&] {
      rng::CounterStream rs(key, first + std::uint64_t(w), 0);
      for (int tries = 0;; ++tries) {
        for (int a = 0; a < d; ++a) q[a] = m.axes[a].lo + (m.axes[a].hi - m.axes[a].lo) * rs.uniform();
        const double f = (*local)(q.data());
        if (!(f <= envelope)) {
#pragma omp critical
          envelope_exceeded = true;
          break;
        }
        if (rs.uniform() * envelope < f) break;
        if (tries > kMaxTries || gave_up.load(std::memory_order_relaxed)) {
          gave_up = true;
          break;
        }
      }
      place(m, q, std::uint64_t(w), x, alive);
    });
  }
  guard.rethrow();
  if (gave_up)
    throw InputError("init", "--init density: rejection sampling found no point in 1e7 tries for some walker; the "
                             "density is zero (or nearly) almost everywhere on the domain");
  if (envelope_exceeded)
    throw InputError("init", "--init density: the density exceeds 1.25x its grid maximum somewhere; it is too "
                             "sharply peaked to sample by rejection on this grid");
}

}  // namespace soret
