#include "soret/walk/integrator.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "soret/walk/boundary.hpp"
#include "soret/common/error.hpp"
#include "soret/common/progress.hpp"
#include "soret/common/rng.hpp"

namespace soret {

namespace {

std::string describe(const FastFunction& f) {
  std::ostringstream os;
  os << f.kind_name();
  if (f.kind() == FastFunction::Kind::table)
    os << " T=" << f.table_size() << " max|err|=" << f.error_bound();
  return os.str();
}

/// Thread-local working set of one block.
struct Scratch {
  int dim = 0, groups = 0, n = 0;
  std::vector<std::vector<double>> x, xu, g, xm, drift, dx, zeta;
  std::vector<std::uint64_t> words;  // rademacher: groups x block x 4
  std::vector<std::uint8_t> alive;
  std::vector<std::int64_t> cell0, cell1;
  std::vector<int> slow;
  std::vector<std::unique_ptr<Expression>> g_expr, drift_expr;

  void init(int d, int ng, int block) {
    dim = d;
    groups = ng;
    auto mk = [&](std::vector<std::vector<double>>& v, int rows) { v.assign(rows, std::vector<double>(block)); };
    mk(x, d); mk(xu, d); mk(g, d); mk(xm, d); mk(drift, d); mk(dx, d); mk(zeta, ng);
    words.assign(size_t(ng) * block * 4, 0);
    alive.assign(block, 1);
    cell0.assign(block, 0);
    cell1.assign(block, 0);
    slow.assign(block, 0);
  }
};

}  // namespace

WalkEngine::WalkEngine(WalkModel model, ObserverPlan plan, InitSpec init, RunOptions opt, const StoredEnsemble* stored)
    : model_(std::move(model)), plan_(std::move(plan)), init_(std::move(init)), opt_(opt), stored_(stored) {
  model_.validate();
  if (opt_.walkers < 1) throw InputError("walkers", "--walkers must be >= 1");
  if (opt_.walkers >= (std::uint64_t(1) << 32)) throw InputError("walkers", "--walkers must be < 2^32");
  if (opt_.threads < 0) throw InputError("threads", "--threads must be >= 0");
  plan_.finalize(model_, opt_.steps);
  std::vector<AxisRange> ranges;
  for (const auto& a : model_.axes) ranges.push_back({a.lo, a.hi});
  for (int a = 0; a < model_.dim; ++a) {
    g_expr_.push_back(std::make_unique<Expression>(model_.g[a], model_.dim, model_.eta, "g", opt_.block));
    g_fast_.emplace_back(*g_expr_.back(), ranges);
    const auto& f = g_fast_.back();
    if (!f.grid_finite())
      throw InputError("g", "--g: expression '" + model_.g[a] + "' is NaN or inf on the domain grid of axis " + std::to_string(a));
    if (f.grid_min() < 0)
      throw InputError("g", "--g: expression '" + model_.g[a] + "' is negative on the domain (min " +
                                std::to_string(f.grid_min()) + ")");
    if (model_.has_drift()) {
      drift_expr_.push_back(std::make_unique<Expression>(model_.drift[a], model_.dim, model_.eta, "drift", opt_.block));
      drift_fast_.emplace_back(*drift_expr_.back(), ranges);
      if (!drift_fast_.back().grid_finite())
        throw InputError("drift", "--drift: expression '" + model_.drift[a] + "' is NaN or inf on the domain grid");
    }
  }
}

WalkEngine::~WalkEngine() = default;

std::vector<std::string> WalkEngine::g_evaluation() const {
  std::vector<std::string> out;
  for (const auto& f : g_fast_) out.push_back(describe(f));
  return out;
}

std::vector<std::string> WalkEngine::drift_evaluation() const {
  std::vector<std::string> out;
  for (const auto& f : drift_fast_) out.push_back(describe(f));
  return out;
}

double WalkEngine::g_table_error() const {
  double e = 0.0;
  for (const auto& f : g_fast_) e = std::max(e, f.error_bound());
  return e;
}

struct WalkEngine::Impl {
  const WalkEngine& E;
  const WalkModel& M;
  const ObserverPlan& P;
  int dim, ngroups;
  std::vector<int> group_of;
  rng::Key noise_key;
  bool has_absorb, has_drift, flux_on;
  int fa;           // flux (first histogram) axis
  Lattice lat0;     // its lattice
  int h1 = -1;      // second histogram axis or -1
  Lattice lat1;
  int B0, nf;
  size_t nbins;

  // Per-chunk schedules, indexed by t - t0.
  std::vector<int> seg_of;        // segment of transition t -> t+1, or -1
  std::vector<int> slot_after;    // density slot of time t+1, or -1
  std::vector<std::uint8_t> avg_after;  // t+1 inside the averaging range

  explicit Impl(const WalkEngine& e) : E(e), M(e.model_), P(e.plan_) {
    dim = M.dim;
    ngroups = static_cast<int>(M.groups.size());
    group_of = M.group_of();
    noise_key = rng::make_key(E.opt_.seed, rng::Stream::walk_noise);
    has_absorb = M.any_boundary(Boundary::absorbing);
    has_drift = M.has_drift();
    fa = P.hist_axes[0];
    lat0 = P.lattice[0];
    if (P.hist_axes.size() == 2) { h1 = P.hist_axes[1]; lat1 = P.lattice[1]; }
    B0 = lat0.bins;
    nf = P.flux_faces();
    nbins = P.total_bins();
    flux_on = !P.segments.empty();
  }

  // --- noise ------------------------------------------------------------------------------
  void fill_noise(Scratch& s, std::uint64_t w0, std::uint64_t t, bool fresh) const {
    const int n = s.n;
    switch (M.noise) {
      case Noise::rademacher: {
        // One Philox call gives 256 signs: counter (walker, t / 256, group).
        const size_t cap = s.zeta[0].size();
        if (fresh || (t & 255) == 0)
          for (int k = 0; k < ngroups; ++k)
            for (int i = 0; i < n; ++i) {
              const auto r = rng::draw(noise_key, w0 + i, t >> 8, k);
              for (int j = 0; j < 4; ++j) s.words[(size_t(k) * 4 + j) * cap + i] = r[j];
            }
        const int word = int((t >> 6) & 3), bit = int(t & 63);
        for (int k = 0; k < ngroups; ++k) {
          const std::uint64_t* __restrict wd = &s.words[(size_t(k) * 4 + word) * cap];
          double* __restrict z = s.zeta[k].data();
          for (int i = 0; i < n; ++i) z[i] = 1.0 - 2.0 * double(std::int64_t((wd[i] >> bit) & 1u));
        }
        break;
      }
      case Noise::gaussian:
        for (int i = 0; i < n; ++i)
          for (int k0 = 0; k0 < ngroups; k0 += 4) {
            const auto r = rng::draw(noise_key, w0 + i, t, std::uint64_t(k0 / 4), 1);
            const auto z0 = rng::normal2(r[0], r[1]), z1 = rng::normal2(r[2], r[3]);
            const double z[4] = {z0.x, z0.y, z1.x, z1.y};
            for (int k = k0; k < std::min(ngroups, k0 + 4); ++k) s.zeta[k][i] = z[k - k0];
          }
        break;
      case Noise::uniform:
        for (int i = 0; i < n; ++i)
          for (int k0 = 0; k0 < ngroups; k0 += 4) {
            const auto r = rng::draw(noise_key, w0 + i, t, std::uint64_t(k0 / 4), 2);
            for (int k = k0; k < std::min(ngroups, k0 + 4); ++k)
              s.zeta[k][i] = std::sqrt(3.0) * (2.0 * rng::u01(r[k - k0]) - 1.0);
          }
        break;
    }
  }

  // --- the boundary, slow path --------------------------------------------------------------
  /// Applies the boundary of axis a to the unfolded position xu (x: start). Returns false when
  /// the walker is absorbed. For the flux axis, also counts face crossings and sets newcell.
  bool boundary_slow(int a, double& xu, std::int64_t c0, bool flux_axis, bool count, int seg,
                     ThreadAccumulator& acc, std::int64_t& newcell, std::uint64_t walker, std::uint64_t t) const {
    const AxisSpec& ax = M.axes[a];
    // A non-finite position, or a single step over more than 1e8 bins, is a blow-up: recorded
    // here (no exception may leave the parallel region) and reported after the chunk.
    const bool runaway = flux_axis && std::isfinite(xu) && std::abs(double(lat0.cell(xu) - c0)) > 1e8;
    if (!std::isfinite(xu) || runaway) {
      if (!acc.blowup || t < acc.blowup_t) {
        acc.blowup = true; acc.blowup_t = t; acc.blowup_walker = walker; acc.blowup_axis = a;
      }
      newcell = c0;
      return true;
    }
    std::int64_t c1 = 0;
    if (flux_axis) {
      c1 = lat0.cell(xu);
      if (count && c1 != c0) {
        count_crossings(ax.boundary, B0, c0, c1, &acc.plus[size_t(seg) * (nf + 1)], &acc.minus[size_t(seg) * (nf + 1)]);
      }
    }
    switch (ax.boundary) {
      case Boundary::periodic: {
        if (xu >= ax.lo && xu < ax.hi) break;
        xu = fold_position(Boundary::periodic, ax.lo, ax.hi, xu);
        if (flux_axis) xu = nudge_into_cell(lat0, xu, folded_cell(Boundary::periodic, c1, B0));
        break;
      }
      case Boundary::reflecting: {
        if (xu >= ax.lo && xu <= ax.hi) break;
        xu = fold_position(Boundary::reflecting, ax.lo, ax.hi, xu);
        if (flux_axis) xu = nudge_into_cell(lat0, xu, folded_cell(Boundary::reflecting, c1, B0));
        break;
      }
      case Boundary::absorbing:
        if (xu >= ax.lo && xu < ax.hi) break;
        if (xu < ax.lo) ++acc.absorbed_lo[a]; else ++acc.absorbed_hi[a];
        return false;
      case Boundary::free: break;
    }
    if (flux_axis) newcell = lat0.cell(xu);
    return true;
  }

  /// Bin of a live walker in the histogram grid, or -1 outside it.
  std::int64_t bin_of(std::int64_t c_flux, double x1) const {
    if (c_flux < 0 || c_flux >= B0) return -1;
    if (h1 < 0) return c_flux;
    const std::int64_t c = lat1.cell(x1);
    if (c < 0 || c >= lat1.bins) return -1;
    return c_flux * lat1.bins + c;
  }

  void record_density(const Scratch& s, const std::int64_t* cells, int slot, bool avg, ThreadAccumulator& acc) const {
    if (h1 < 0 && !avg && !has_absorb) {  // the common case, one histogram axis
      std::uint32_t* __restrict dens = &acc.density[size_t(slot) * nbins];
      std::uint64_t out = 0;
      for (int i = 0; i < s.n; ++i) {
        const std::int64_t c = cells[i];
        if (c >= 0 && c < B0) [[likely]] ++dens[c]; else ++out;
      }
      acc.outside[slot] += out;
      return;
    }
    const double* x1 = h1 >= 0 ? s.x[h1].data() : nullptr;
    std::uint32_t* dens = slot >= 0 ? &acc.density[size_t(slot) * nbins] : nullptr;
    for (int i = 0; i < s.n; ++i) {
      if (has_absorb && !s.alive[i]) continue;
      const std::int64_t b = bin_of(cells[i], x1 ? x1[i] : 0.0);
      if (b < 0) {
        if (slot >= 0) ++acc.outside[slot];
        if (avg) ++acc.avg_outside;
        continue;
      }
      if (dens) ++dens[b];
      if (avg) ++acc.avg_counts[b];
    }
  }

  // --- one block through steps [t0, t1) ----------------------------------------------------
  void advance(Scratch& s, std::vector<std::vector<double>>& X, std::vector<std::uint8_t>& alive, std::uint64_t w0,
               int n, std::uint64_t t0, std::uint64_t t1, ThreadAccumulator& acc) const {
    s.n = n;
    for (int a = 0; a < dim; ++a) std::copy_n(&X[a][w0], n, s.x[a].data());
    std::copy_n(&alive[w0], n, s.alive.data());
    const double eta = M.eta, alpha = M.alpha;
    const AxisSpec& axf = M.axes[fa];
    const double flo = axf.lo, fhi = axf.hi;

    for (std::uint64_t t = t0; t < t1; ++t) {
      const std::size_t k = t - t0;
      fill_noise(s, w0, t, t == t0);
      const double* xp[64];
      for (int a = 0; a < dim; ++a) xp[a] = s.x[a].data();
      for (int a = 0; a < dim; ++a) E.g_fast_[a].eval(xp, n, s.g[a].data(), *s.g_expr[a]);
      if (has_drift)
        for (int a = 0; a < dim; ++a) E.drift_fast_[a].eval(xp, n, s.drift[a].data(), *s.drift_expr[a]);
      if (alpha != 0.0) {
        for (int a = 0; a < dim; ++a) {
          const double* __restrict x = s.x[a].data();
          const double* __restrict g = s.g[a].data();
          const double* __restrict z = s.zeta[group_of[a]].data();
          const double* __restrict dr = s.drift[a].data();
          double* __restrict xm = s.xm[a].data();
          for (int i = 0; i < n; ++i) xm[i] = x[i] + alpha * (-eta * g[i] * z[i] + (has_drift ? dr[i] : 0.0));
          const AxisSpec& ax = M.axes[a];
          if (ax.boundary == Boundary::periodic || ax.boundary == Boundary::reflecting)
            for (int i = 0; i < n; ++i)
              if (!(xm[i] >= ax.lo && xm[i] < ax.hi)) xm[i] = fold_position(ax.boundary, ax.lo, ax.hi, xm[i]);
        }
        const double* mp[64];
        for (int a = 0; a < dim; ++a) mp[a] = s.xm[a].data();
        for (int a = 0; a < dim; ++a) E.g_fast_[a].eval(mp, n, s.g[a].data(), *s.g_expr[a]);
      }
      // The update, unfolded.
      for (int a = 0; a < dim; ++a) {
        const double* __restrict x = s.x[a].data();
        const double* __restrict g = s.g[a].data();
        const double* __restrict z = s.zeta[group_of[a]].data();
        const double* __restrict dr = s.drift[a].data();
        double* __restrict xu = s.xu[a].data();
        double* __restrict dx = s.dx[a].data();
        if (has_drift)
          for (int i = 0; i < n; ++i) { dx[i] = dr[i] - eta * g[i] * z[i]; xu[i] = x[i] + dx[i]; }
        else if (P.step_stats)
          for (int i = 0; i < n; ++i) { dx[i] = -eta * g[i] * z[i]; xu[i] = x[i] + dx[i]; }
        else
          for (int i = 0; i < n; ++i) xu[i] = x[i] - eta * g[i] * z[i];
        if (has_absorb)
          for (int i = 0; i < n; ++i) if (!s.alive[i]) { xu[i] = x[i]; dx[i] = 0.0; }
      }
      // Start cells on the flux axis (the end cells of the previous step, once computed).
      if (t == t0) {
        const double* x = s.x[fa].data();
        std::int64_t* c0 = s.cell0.data();
        for (int i = 0; i < n; ++i) c0[i] = lat0.cell(x[i]);
      }
      // Local step statistics, binned by the start point.
      if (P.step_stats) {
        const int nh = static_cast<int>(P.hist_axes.size());
        double* __restrict ps = acc.ss_part_sum.data();
        double* __restrict pq = acc.ss_part_sq.data();
        for (int i = 0; i < n; ++i) {
          if (has_absorb && !s.alive[i]) continue;
          const std::int64_t b = bin_of(s.cell0[i], h1 >= 0 ? s.x[h1][i] : 0.0);
          if (b < 0) continue;
          ++acc.ss_count[b];
          for (int h = 0; h < nh; ++h) {
            const double d = s.dx[P.hist_axes[h]][i];
            ps[b * nh + h] += d;
            pq[b * nh + h] += d * d;
          }
        }
      }
      // Boundaries of the other axes (a walker absorbed there is not counted on the flux axis).
      for (int a = 0; a < dim; ++a) {
        if (a == fa) continue;
        const AxisSpec& ax = M.axes[a];
        if (ax.boundary == Boundary::free) {
          for (int i = 0; i < n; ++i)
            if (!std::isfinite(s.xu[a][i])) { std::int64_t dummy; boundary_slow(a, s.xu[a][i], 0, false, false, 0, acc, dummy, w0 + i, t); }
          continue;
        }
        double* xu = s.xu[a].data();
        for (int i = 0; i < n; ++i) {
          if (xu[i] >= ax.lo && xu[i] < ax.hi) continue;
          if (has_absorb && !s.alive[i]) continue;
          std::int64_t dummy;
          if (!boundary_slow(a, xu[i], 0, false, false, 0, acc, dummy, w0 + i, t)) s.alive[i] = 0;
        }
      }
      // The flux axis: boundary, exact face crossings, end cells.
      {
        const int seg = flux_on ? seg_of[k] : -1;
        const bool count = seg >= 0;
        double* __restrict xu = s.xu[fa].data();
        const std::int64_t* __restrict c0 = s.cell0.data();
        std::int64_t* __restrict c1 = s.cell1.data();
        // Pass 1 (vectorised): end cells. For positions inside [lo, hi) this equals lat0.cell()
        // (floor, with hi's rounding folded into the last bin); walkers outside take the slow
        // path below, which recomputes their cell exactly.
        {
          const double l0 = lat0.lo, ih = lat0.inv_h, top = double(B0 - 1);
          for (int i = 0; i < n; ++i) {
            double y = std::floor((xu[i] - l0) * ih);
            y = (y > -2.0) ? y : -2.0;  // also NaN -> -2
            y = (y < top) ? y : top;
            c1[i] = static_cast<std::int64_t>(y);
          }
        }
        // Pass 2: a walker that stays inside the domain and moves |d| <= K cells costs one
        // increment of the (segment, start cell, d) counts; the others (a boundary acts, long
        // jumps, absorbed or non-finite) go to a short list handled exactly below.
        int nslow = 0;
        int* slow = s.slow.data();
        const int K = acc.pair_k, W = 2 * K + 1;
        // In the common case (one histogram axis, no absorption, no time average) the density of
        // time t+1 is counted in the same pass.
        const bool fuse = slot_after[k] >= 0 && !avg_after[k] && h1 < 0 && !has_absorb;
        std::uint32_t* __restrict dens = fuse ? &acc.density[size_t(slot_after[k]) * nbins] : nullptr;
        std::uint32_t dsink = 0;
        // slow[] holds (i << 1 | inside): walkers that need the exact path; `inside` marks those
        // that stayed in the domain (already counted in the density).
        auto pass = [&](auto fuse_c) {
          constexpr bool F = decltype(fuse_c)::value;
          std::uint64_t* __restrict P = count ? acc.pairs.data() : nullptr;
          const std::int64_t sink = std::int64_t(acc.pairs.size()) - 1;
          const std::int64_t base = std::int64_t(std::max(seg, 0)) * B0 * W + K;
          for (int i = 0; i < n; ++i) {
            const double v = xu[i];
            const std::int64_t a = c0[i], c = c1[i], d = c - a;
            const bool in = (v >= flo) & (v < fhi) & (a >= 0) & (a < B0) & (!has_absorb || s.alive[i]);
            const bool ok = in & (!count | ((d >= -K) & (d <= K)));
            if (count) P[ok ? base + a * W + d : sink] += 1;
            if constexpr (F) ++*(in ? dens + c : &dsink);
            slow[nslow] = (i << 1) | int(in);
            nslow += !ok;
          }
        };
        if (fuse) pass(std::true_type{}); else pass(std::false_type{});
        std::uint64_t outside = 0;
        for (int j = 0; j < nslow; ++j) {
          const int i = slow[j] >> 1;
          const bool was_in = slow[j] & 1;
          if (has_absorb && !s.alive[i]) { c1[i] = c0[i]; continue; }
          if (!boundary_slow(fa, xu[i], c0[i], true, count, seg, acc, c1[i], w0 + i, t)) {
            s.alive[i] = 0;
            c1[i] = -1;
            continue;
          }
          if (fuse && !was_in) {
            if (c1[i] >= 0 && c1[i] < B0) ++dens[c1[i]]; else ++outside;
          }
        }
        if (fuse) acc.outside[slot_after[k]] += outside;
      }
      std::swap(s.x, s.xu);
      const bool fused = slot_after[k] >= 0 && !avg_after[k] && h1 < 0 && !has_absorb;
      if ((slot_after[k] >= 0 || avg_after[k]) && !fused)
        record_density(s, s.cell1.data(), slot_after[k], avg_after[k], acc);
      std::swap(s.cell0, s.cell1);
    }
    if (P.step_stats) acc.flush_step_stats(eta);
    for (int a = 0; a < dim; ++a) std::copy_n(s.x[a].data(), n, &X[a][w0]);
    std::copy_n(s.alive.data(), n, &alive[w0]);
  }
};

WalkResults WalkEngine::run() {
  Impl im(*this);
  const std::uint64_t N = opt_.walkers, T = opt_.steps;
  const int threads = opt_.threads > 0 ? opt_.threads : omp_get_max_threads();
  const int block = opt_.block;
  const std::uint64_t nblocks = (N + block - 1) / block;

  std::vector<std::vector<double>> X;
  std::vector<std::uint8_t> alive;
  sample_initial(model_, init_, opt_.seed, N, X, alive, stored_, threads);
  const std::uint64_t dead_at_start = std::uint64_t(std::count(alive.begin(), alive.end(), std::uint8_t(0)));

  // Pair counts for steps of at most K cells: K from the largest step eta g zeta on the grid.
  int pair_k = 0;
  if (!plan_.segments.empty()) {
    const Lattice& l = plan_.lattice[0];
    const double zmax = model_.noise == Noise::rademacher ? 1.0 : (model_.noise == Noise::uniform ? std::sqrt(3.0) : 3.0);
    const double cells = model_.eta * g_fast_[im.fa].grid_max() * zmax * l.inv_h;
    pair_k = opt_.flux_pair_k >= 0 ? opt_.flux_pair_k : std::clamp(int(std::ceil(cells)) + 1, 1, 8);
    const double bytes = double(plan_.segments.size()) * l.bins * (2 * pair_k + 1) * 8.0 * threads;
    if (bytes > 1.0e9) pair_k = 0;  // too many windows x bins: count every crossing on the exact slow path
  }
  std::vector<ThreadAccumulator> acc(threads);
  for (auto& a : acc) a.init(plan_, model_.dim, pair_k);
  std::vector<Scratch> scratch(threads);
  for (auto& s : scratch) {
    s.init(model_.dim, static_cast<int>(model_.groups.size()), block);
    for (auto& e : g_expr_) s.g_expr.push_back(e->clone());
    for (auto& e : drift_expr_) s.drift_expr.push_back(e->clone());
  }

  WalkResults res;
  res.dim = model_.dim;
  res.walkers = N;
  res.steps = T;

  // Moments from fixed blocks (Welford per block, Chan's combination in block order).
  auto record_moments = [&](std::uint64_t t) {
    const int d = model_.dim;
    std::vector<double> bm(nblocks * d), bM2(nblocks * d);
    std::vector<std::uint64_t> bn(nblocks);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t b = 0; b < std::int64_t(nblocks); ++b) {
      const std::uint64_t w0 = b * block, w1 = std::min<std::uint64_t>(N, w0 + block);
      for (int a = 0; a < d; ++a) {
        double mean = 0, m2 = 0;
        std::uint64_t cnt = 0;
        for (std::uint64_t w = w0; w < w1; ++w) {
          if (!alive[w]) continue;
          ++cnt;
          const double delta = X[a][w] - mean;
          mean += delta / cnt;
          m2 += delta * (X[a][w] - mean);
        }
        bm[b * d + a] = mean; bM2[b * d + a] = m2; bn[b] = cnt;
      }
    }
    std::vector<double> mean(d, 0.0), m2(d, 0.0);
    std::uint64_t cnt = 0;
    for (std::uint64_t b = 0; b < nblocks; ++b) {
      if (bn[b] == 0) continue;
      const double n1 = double(cnt), n2 = double(bn[b]), nn = n1 + n2;
      for (int a = 0; a < d; ++a) {
        const double delta = bm[b * d + a] - mean[a];
        mean[a] += delta * n2 / nn;
        m2[a] += bM2[b * d + a] + delta * delta * n1 * n2 / nn;
      }
      cnt += bn[b];
    }
    res.moments_t.push_back(t);
    res.alive.push_back(cnt);
    for (int a = 0; a < d; ++a) {
      res.mean.push_back(cnt ? mean[a] : NAN);
      res.var.push_back(cnt > 1 ? m2[a] / double(cnt - 1) : NAN);
    }
  };

  // t = 0: density and moments of the initial condition.
  {
    const auto it = std::lower_bound(plan_.density_times.begin(), plan_.density_times.end(), 0u);
    const int slot0 = (it != plan_.density_times.end() && *it == 0) ? int(it - plan_.density_times.begin()) : -1;
    const bool avg0 = plan_.density_avg && plan_.density_avg->first == 0;
    if (slot0 >= 0 || avg0) {
#pragma omp parallel num_threads(threads)
      {
        const int tid = omp_get_thread_num();
        Scratch& s = scratch[tid];
#pragma omp for schedule(static)
        for (std::int64_t b = 0; b < std::int64_t(nblocks); ++b) {
          const std::uint64_t w0 = b * block;
          s.n = int(std::min<std::uint64_t>(N - w0, block));
          for (int a = 0; a < model_.dim; ++a) std::copy_n(&X[a][w0], s.n, s.x[a].data());
          std::copy_n(&alive[w0], s.n, s.alive.data());
          for (int i = 0; i < s.n; ++i) s.cell1[i] = im.lat0.cell(s.x[im.fa][i]);
          im.record_density(s, s.cell1.data(), slot0, avg0, acc[tid]);
        }
      }
    }
    record_moments(0);
  }

  Progress progress("walk", T, opt_.progress);
  const auto start = std::chrono::steady_clock::now();
  size_t next_moment = 1;
  for (std::uint64_t t0 = 0; t0 < T;) {
    std::uint64_t t1 = std::min<std::uint64_t>(T, t0 + opt_.chunk);
    while (next_moment < plan_.moment_times.size() && plan_.moment_times[next_moment] <= t0) ++next_moment;
    if (next_moment < plan_.moment_times.size()) t1 = std::min(t1, plan_.moment_times[next_moment]);

    // Schedules for this chunk.
    const size_t L = t1 - t0;
    im.seg_of.assign(L, -1);
    im.slot_after.assign(L, -1);
    im.avg_after.assign(L, 0);
    for (size_t k = 0; k < L; ++k) {
      const std::uint64_t t = t0 + k;
      for (size_t sgi = 0; sgi < plan_.segments.size(); ++sgi)
        if (plan_.segments[sgi].first <= t && t < plan_.segments[sgi].second) { im.seg_of[k] = int(sgi); break; }
      const auto it = std::lower_bound(plan_.density_times.begin(), plan_.density_times.end(), t + 1);
      if (it != plan_.density_times.end() && *it == t + 1) im.slot_after[k] = int(it - plan_.density_times.begin());
      im.avg_after[k] = plan_.density_avg && plan_.density_avg->first <= t + 1 && t + 1 <= plan_.density_avg->second;
    }

#pragma omp parallel num_threads(threads)
    {
      const int tid = omp_get_thread_num();
#pragma omp for schedule(dynamic, 4)
      for (std::int64_t b = 0; b < std::int64_t(nblocks); ++b) {
        const std::uint64_t w0 = b * block;
        const int n = int(std::min<std::uint64_t>(N - w0, block));
        im.advance(scratch[tid], X, alive, w0, n, t0, t1, acc[tid]);
      }
    }
    for (const auto& a : acc)
      if (a.blowup) {
        ThreadAccumulator first;
        first.init(plan_, model_.dim, pair_k);
        for (const auto& b : acc) first.add(b);
        throw NumericalError("numerical blow-up: walker " + std::to_string(first.blowup_walker) +
                             " has a non-finite (or runaway) position on axis " + std::to_string(first.blowup_axis) + " at step " +
                             std::to_string(first.blowup_t + 1) + " (check --g, --drift and --eta)");
      }
    t0 = t1;
    if (next_moment < plan_.moment_times.size() && plan_.moment_times[next_moment] == t0) {
      record_moments(t0);
      ++next_moment;
    }
    progress.update(t0, double(N) * double(t0));
  }
  progress.finish();
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ThreadAccumulator total;
  total.init(plan_, model_.dim, pair_k);
  for (const auto& a : acc) total.add(a);
  collect(plan_, total, model_.eta, res);
  if (model_.axes[im.fa].boundary == Boundary::periodic)
    for (size_t w = 0; w < res.windows.size(); ++w) {
      res.flux_plus[w * im.nf + im.B0] = res.flux_plus[w * im.nf];
      res.flux_minus[w * im.nf + im.B0] = res.flux_minus[w * im.nf];
    }
  res.final_pos.resize(N * model_.dim);
  for (std::uint64_t w = 0; w < N; ++w)
    for (int a = 0; a < model_.dim; ++a) res.final_pos[w * model_.dim + a] = X[a][w];
  res.final_alive = alive;
  res.absorbed_initial = dead_at_start;
  return res;
}

}  // namespace soret
