#include "soret/walk/integrator.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "soret/common/omp_guard.hpp"
#include "soret/common/error.hpp"
#include "soret/common/interrupt.hpp"
#include "soret/common/mpi.hpp"
#include "soret/common/memory.hpp"
#include "soret/common/progress.hpp"
#include "soret/common/rng.hpp"
#include "soret/walk/boundary.hpp"
#include "soret/walk/kernels.hpp"

namespace soret {

namespace {

std::string describe(const FastFunction& f) {
  std::ostringstream os;
  os << f.kind_name();
  if (f.kind() == FastFunction::Kind::table) os << " T=" << f.table_size() << " max|err|=" << f.error_bound();
  if (f.kind() == FastFunction::Kind::poly)
    os << " P=" << f.poly_pieces() << " D=" << f.poly_degree() << " max|err|=" << f.error_bound();
  return os.str();
}

inline std::uint64_t cycles() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

constexpr std::int32_t kCellMax = std::int32_t(1) << 30;

inline std::int32_t clamp_cell(std::int64_t c) {
  return std::int32_t(std::clamp<std::int64_t>(c, -kCellMax, kCellMax));
}

/// Thread-local working set of one block.
struct Scratch {
  int dim = 0, groups = 0, n = 0, cap = 0;
  std::vector<std::vector<double>> x, xu, g, xm, drift, dx, zeta;
  std::vector<std::uint64_t> words;  // rademacher: groups x 4 x cap
  std::vector<std::uint8_t> alive, alive0;
  std::vector<std::int32_t> c1[2], c1n[2], cu, bin, bin0;
  std::vector<std::unique_ptr<Expression>> g_expr, drift_expr;
  // Cost accounting (time-stamp counter ticks).
  std::uint64_t ticks_total = 0;
  std::vector<std::uint64_t> ticks_obs;

  /// Buffers sized by what the integrator uses (--dim 64 --block 65536 allocated 6 unused
  /// d x block arrays per thread): the general integrator needs xu, g, dx and zeta, xm only for
  /// alpha != 0, drift only with a drift; the Rademacher noise needs the sign words.
  void init(int d, int ng, int block, bool general, bool midpoint, bool with_drift, bool rademacher) {
    dim = d;
    groups = ng;
    cap = (block + 31) / 32 * 32;  // the fused kernel steps 32 lanes at a time
    auto mk = [&](std::vector<std::vector<double>>& v, int rows, bool need) {
      v.assign(rows, std::vector<double>(need ? cap : 0, 0.0));  // rows kept: data() is taken per axis
    };
    mk(x, d, true); mk(xu, d, general); mk(g, d, general); mk(xm, d, general && midpoint);
    mk(drift, d, general && with_drift); mk(dx, d, general); mk(zeta, ng, general);
    words.assign(rademacher ? size_t(ng) * 4 * cap : 0, 0);
    alive.assign(cap, 1);
    alive0.assign(cap, 1);
    for (int h = 0; h < 2; ++h) { c1[h].assign(cap, 0); c1n[h].assign(cap, 0); }
    cu.assign(cap, 0);
    bin.assign(cap, 0);
    bin0.assign(cap, 0);
  }
};

/// Per-thread tallies of the integrator itself (not observers).
struct Tally {
  std::vector<std::uint64_t> absorbed_lo, absorbed_hi;
  bool blowup = false;
  std::uint64_t blowup_walker = 0, blowup_t = 0;
  int blowup_axis = 0;
  char pad[64];
  void note_blowup(std::uint64_t w, std::uint64_t t, int a) {
    if (!blowup || t < blowup_t || (t == blowup_t && w < blowup_walker)) {
      blowup = true; blowup_t = t; blowup_walker = w; blowup_axis = a;
    }
  }
};

}  // namespace

int auto_block(std::uint64_t walkers, int threads, const ObserverPlan& plan) {
  constexpr std::uint64_t kStep = 256;
  // the bytes a step's counts are scattered over: a density row, the flux's difference arrays
  double row = 0;
  if (!plan.density_times.empty() || plan.density_avg) row += 4.0 * double(plan.total_bins());
  if (!plan.flux_windows.empty() && !plan.lattice.empty()) row += 16.0 * double(plan.lattice[0].bins + 2);
  const std::uint64_t most = row > 8192.0 ? 8192 : 1024;
  const std::uint64_t per = walkers / (16 * std::uint64_t(std::max(threads, 1)));
  return int(std::clamp<std::uint64_t>((per + kStep - 1) / kStep * kStep, kStep, most));
}

WalkEngine::WalkEngine(WalkModel model, ObserverPlan plan, InitSpec init, RunOptions opt, const StoredEnsemble* stored)
    : model_(std::move(model)), plan_(std::move(plan)), init_(std::move(init)), opt_(opt), stored_(stored) {
  model_.validate();
  if (opt_.total_walkers == 0) opt_.total_walkers = opt_.walkers;
  if (opt_.total_walkers < 1) throw InputError("walkers", "--walkers must be >= 1");
  if (opt_.total_walkers >= (std::uint64_t(1) << 32)) throw InputError("walkers", "--walkers must be < 2^32");
  if (opt_.walkers < 1 && !(opt_.split_over_ranks && mpi::distributed())) throw InputError("walkers", "--walkers must be >= 1");
  if (opt_.threads < 0) throw InputError("threads", "--threads must be >= 0");
  if (opt_.block < 0 || opt_.block > 65536) throw InputError("block", "--block must be 0 (auto) or in [1, 65536]");
  if (opt_.chunk < 1) throw InputError("chunk", "--chunk must be >= 1");
  plan_.finalize(model_, opt_.steps, opt_.t_begin);
  if (opt_.block == 0) opt_.block = auto_block(opt_.walkers, opt_.threads > 0 ? opt_.threads : omp_get_max_threads(), plan_);
  for (size_t h = 0; h < plan_.hist_axes.size(); ++h) {
    const auto& ax = model_.axes[plan_.hist_axes[h]];
    if (plan_.lattice[h].lo != ax.lo || plan_.lattice[h].hi != ax.hi)
      throw InputError("bins", "--bins: the histogram of axis " + std::to_string(plan_.hist_axes[h]) + " must span its --domain");
    if (plan_.lattice[h].bins >= kCellMax / 4) throw InputError("bins", "--bins must be < 2^28 per axis");
  }
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

bool WalkEngine::fused_applies() const {
  if (!opt_.fused || model_.noise != Noise::rademacher || model_.alpha != 0.0 || model_.has_drift() || plan_.step_stats)
    return false;
  for (int a = 0; a < model_.dim; ++a) {
    const auto& ax = model_.axes[a];
    if (ax.boundary != Boundary::periodic && ax.boundary != Boundary::reflecting) return false;
    const auto& f = g_fast_[a];
    if (f.kind() == FastFunction::Kind::constant) {
      if (!(model_.eta * f.grid_max() < ax.hi - ax.lo)) return false;
      continue;
    }
    if (f.kind() != FastFunction::Kind::poly || f.table_axis() != a) return false;
    if (!(model_.eta * f.grid_max() * 1.01 < ax.hi - ax.lo)) return false;
  }
  return true;
}

void WalkEngine::check_resume(const WalkState& s) const {
  auto bad = [](const std::string& what) { throw InputError("restart", "--restart: " + what); };
  if (s.dim != model_.dim) bad("the checkpoint has " + std::to_string(s.dim) + " axes, the run --dim " + std::to_string(model_.dim));
  if (s.walkers != opt_.total_walkers)
    bad("the checkpoint has " + std::to_string(s.walkers) + " walkers, the run " + std::to_string(opt_.total_walkers));
  if (s.seed != opt_.seed) bad("the checkpoint's seed is " + std::to_string(s.seed) + ", the run's " + std::to_string(opt_.seed));
  if (s.t_begin != opt_.t_begin) bad("the checkpoint's run began at step " + std::to_string(s.t_begin));
  const std::uint64_t T = opt_.t_begin + opt_.steps;
  if (s.t < s.t_begin || s.t > T)
    bad("the checkpoint is at step " + std::to_string(s.t) + ", beyond --steps " + std::to_string(opt_.steps) +
        " (--steps is the total length of the run)");
  std::vector<std::uint64_t> dt;
  for (auto t : plan_.density_times)
    if (t <= s.t) dt.push_back(t);
  const std::string hint = " (auto times depend on --steps: the checkpoint stores the resolved ones, which a restart keeps)";
  if (dt != s.density_times) bad("the density times up to step " + std::to_string(s.t) + " differ from the checkpoint's" + hint);
  std::vector<Window> sg;
  for (const auto& w : plan_.segments)
    if (w.first < s.t) sg.push_back(w);
  if (sg != s.segments) bad("the flux windows begun before step " + std::to_string(s.t) + " differ from the checkpoint's" + hint);
  const bool avg_past = (plan_.density_avg && plan_.density_avg->first <= s.t) || (s.has_avg && s.density_avg.first <= s.t);
  if (avg_past && (!plan_.density_avg || !s.has_avg || *plan_.density_avg != s.density_avg))
    bad("the --density-avg window differs from the checkpoint's");
  for (auto t : plan_.moment_times)
    if (t <= s.t && std::find(s.moments_t.begin(), s.moments_t.end(), t) == s.moments_t.end())
      bad("the moments at step " + std::to_string(t) + " are not in the checkpoint");
}

struct WalkEngine::Impl {
  const WalkEngine& E;
  const WalkModel& M;
  const ObserverPlan& P;
  int dim, ngroups, nh;
  std::vector<int> group_of;
  rng::Key noise_key;
  std::uint64_t gid0;  // global id of local walker 0
  bool has_absorb, has_drift, fused;
  int fa;  // flux (first histogram) axis
  std::vector<int> hist_of;  // axis -> histogram index or -1
  std::vector<AxisMove> moves;
  std::vector<AxisKernel> kernels;
  std::vector<std::unique_ptr<Observer>> observers;
  bool any_steps = false;

  explicit Impl(const WalkEngine& e, int pair_k) : E(e), M(e.model_), P(e.plan_) {
    dim = M.dim;
    ngroups = static_cast<int>(M.groups.size());
    nh = static_cast<int>(P.hist_axes.size());
    group_of = M.group_of();
    noise_key = rng::make_key(E.opt_.seed, rng::Stream::walk_noise);
    gid0 = E.opt_.first_walker;
    has_absorb = M.any_boundary(Boundary::absorbing);
    has_drift = M.has_drift();
    fused = E.fused_applies();
    fa = P.hist_axes[0];
    hist_of.assign(dim, -1);
    for (int h = 0; h < nh; ++h) hist_of[P.hist_axes[h]] = h;
    for (int a = 0; a < dim; ++a) {
      const auto& ax = M.axes[a];
      AxisMove mv;
      mv.b = ax.boundary;
      mv.lo = ax.lo;
      mv.hi = ax.hi;
      mv.L = ax.hi - ax.lo;
      if (hist_of[a] >= 0) {
        const Lattice& l = P.lattice[hist_of[a]];
        mv.B = l.bins;
        mv.ih = l.inv_h;
      }
      moves.push_back(mv);
      AxisKernel k;
      k.m = mv;
      k.eta = M.eta;
      const auto& f = E.g_fast_[a];
      if (f.kind() == FastFunction::Kind::poly) {
        k.P = f.poly_pieces(); k.D = f.poly_degree(); k.pscale = f.poly_scale(); k.poff = f.poly_offset();
        k.coef = f.poly_coef();
        k.coef_t = f.poly_coef_by_piece();
        k.stride = f.poly_stride();
      } else if (f.kind() == FastFunction::Kind::constant) {
        k.gconst = f.grid_max();
      }
      kernels.push_back(k);
    }
    observers = make_observers(P, M, pair_k, E.opt_.walkers);
    for (const auto& o : observers) any_steps |= o->needs_steps();
  }

  // --- noise (general integrator) --------------------------------------------------------------
  void refill_words(Scratch& s, std::uint64_t w0, std::uint64_t t) const {
    // One Philox call gives 256 signs: counter (walker, t / 256, group).
    for (int k = 0; k < ngroups; ++k)
      for (int i = 0; i < s.n; ++i) {
        const auto r = rng::draw(noise_key, gid0 + w0 + i, t >> 8, k);
        for (int j = 0; j < 4; ++j) s.words[(size_t(k) * 4 + j) * s.cap + i] = r[j];
      }
  }

  void fill_noise(Scratch& s, std::uint64_t w0, std::uint64_t t, bool fresh) const {
    const int n = s.n;
    switch (M.noise) {
      case Noise::rademacher: {
        if (fresh || (t & 255) == 0) refill_words(s, w0, t);
        const int word = int((t >> 6) & 3), bit = int(t & 63);
        for (int k = 0; k < ngroups; ++k) {
          const std::uint64_t* __restrict wd = &s.words[(size_t(k) * 4 + word) * s.cap];
          double* __restrict z = s.zeta[k].data();
          for (int i = 0; i < n; ++i) z[i] = 1.0 - 2.0 * double(std::int64_t((wd[i] >> bit) & 1u));
        }
        break;
      }
      case Noise::gaussian:
        for (int i = 0; i < n; ++i)
          for (int k0 = 0; k0 < ngroups; k0 += 4) {
            const auto r = rng::draw(noise_key, gid0 + w0 + i, t, std::uint64_t(k0 / 4), 1);
            const auto z0 = rng::normal2(r[0], r[1]), z1 = rng::normal2(r[2], r[3]);
            const double z[4] = {z0.x, z0.y, z1.x, z1.y};
            for (int k = k0; k < std::min(ngroups, k0 + 4); ++k) s.zeta[k][i] = z[k - k0];
          }
        break;
      case Noise::uniform:
        for (int i = 0; i < n; ++i)
          for (int k0 = 0; k0 < ngroups; k0 += 4) {
            const auto r = rng::draw(noise_key, gid0 + w0 + i, t, std::uint64_t(k0 / 4), 2);
            for (int k = k0; k < std::min(ngroups, k0 + 4); ++k)
              s.zeta[k][i] = std::sqrt(3.0) * (2.0 * rng::u01(r[k - k0]) - 1.0);
          }
        break;
    }
  }

  // --- the slow path of one walker on one axis ---------------------------------------------------
  /// The boundary of axis a acting on the unfolded position xu, for walkers the fast rules
  /// (fold_fast) do not decide: several periods, reflections, absorption, non-finite positions.
  /// Sets the end position, the folded cell c1 and the unfolded cell cu (histogram axes). Returns
  /// false when the walker is absorbed.
  bool slow_move(int a, double xu, std::int32_t c0, double& xn, std::int32_t& c1, std::int32_t& cu, Tally& tally,
                 std::uint64_t walker, std::uint64_t t) const {
    const AxisMove& A = moves[a];
    const int h = hist_of[a];
    const Lattice* lat = h >= 0 ? &P.lattice[h] : nullptr;
    const std::int64_t cell = lat ? lat->cell(xu) : 0;
    // A non-finite position, or one more than 1e9 bins off the grid, is a blow-up: recorded here
    // (no exception may leave the parallel region) and reported after the chunk.
    if (!std::isfinite(xu) || std::abs(double(cell)) > 1e9) {
      tally.note_blowup(walker, t, a);
      xn = xu;
      c1 = cu = c0;
      return true;
    }
    switch (A.b) {
      case Boundary::periodic:
      case Boundary::reflecting: {
        xn = fold_position(A.b, A.lo, A.hi, xu);
        if (lat) {
          const std::int64_t fc = folded_cell(A.b, cell, A.B);
          xn = nudge_into_cell(*lat, xn, fc);
          c1 = std::int32_t(fc);
          cu = clamp_cell(cell);
        }
        return true;
      }
      case Boundary::absorbing:
        if (xu >= A.lo && xu < A.hi) {  // (not reached: fold_fast decides these)
          xn = xu;
          if (lat) c1 = cu = clamp_cell(cell);
          return true;
        }
        if (xu < A.lo) ++tally.absorbed_lo[a]; else ++tally.absorbed_hi[a];
        xn = xu;
        if (lat) { cu = std::int32_t(std::clamp<std::int64_t>(cell, -2, A.B + 2)); c1 = cu; }
        return false;
      case Boundary::free:
        xn = xu;
        if (lat) c1 = cu = clamp_cell(cell);
        return true;
    }
    return true;
  }

  /// Cells of the current positions (start of a run of observed steps).
  void cells_from_positions(Scratch& s) const {
    for (int h = 0; h < nh; ++h) {
      const Lattice& l = P.lattice[h];
      const double* x = s.x[P.hist_axes[h]].data();
      std::int32_t* c = s.c1[h].data();
      for (int i = 0; i < s.n; ++i) c[i] = clamp_cell(l.cell(x[i]));
    }
  }

  /// Flat bins from per-axis cells: >= 0 inside the grid, -1 outside, -2 dead.
  void bins_from_cells(const Scratch& s, const std::vector<std::int32_t>* c, std::int32_t* __restrict bin) const {
    const std::int32_t B0 = P.lattice[0].bins;
    const std::int32_t* __restrict a = c[0].data();
    const std::uint8_t* __restrict alive = s.alive.data();
    if (nh == 1) {
      for (int i = 0; i < s.n; ++i) {
        const std::int32_t v = (a[i] >= 0 && a[i] < B0) ? a[i] : -1;
        bin[i] = alive[i] ? v : -2;
      }
      return;
    }
    const std::int32_t B1 = P.lattice[1].bins;
    const std::int32_t* __restrict b = c[1].data();
    if (fused) {  // every walker alive and inside (the lattice is the domain): the flat bin
      for (int i = 0; i < s.n; ++i) bin[i] = a[i] * B1 + b[i];
      return;
    }
    for (int i = 0; i < s.n; ++i) {
      const bool in = a[i] >= 0 && a[i] < B0 && b[i] >= 0 && b[i] < B1;
      const std::int32_t v = in ? a[i] * B1 + b[i] : -1;
      bin[i] = alive[i] ? v : -2;
    }
  }

  // --- one step of a block, fused integrator ------------------------------------------------------
  void step_fused(Scratch& s, std::uint64_t w0, std::uint64_t t, bool fresh, bool cells, Tally& tally) const {
    if (fresh || (t & 255) == 0) refill_words(s, w0, t);
    const int word = int((t >> 6) & 3), bit = int(t & 63);
    for (int a = 0; a < dim; ++a) {
      const int h = hist_of[a];
      const bool ac = cells && h >= 0;
      const std::uint64_t* w = &s.words[(size_t(group_of[a]) * 4 + word) * s.cap];
      std::int32_t* c1 = ac ? s.c1n[h].data() : nullptr;
      std::int32_t* cu = ac && h == 0 ? s.cu.data() : nullptr;
      const bool any_slow = fused_axis_step(kernels[a], s.x[a].data(), w, bit, s.cap, c1, cu);
      std::fill(s.x[a].begin() + s.n, s.x[a].end(), M.axes[a].lo);  // padding lanes stay valid
      if (!any_slow) continue;
      for (int i = 0; i < s.n; ++i) {
        if (!fused_lane_slow(moves[a], s.x[a][i])) continue;
        std::int32_t c1v = 0, cuv = 0;
        const std::int32_t c0 = ac ? s.c1[h][i] : 0;
        double xn;
        slow_move(a, s.x[a][i], c0, xn, c1v, cuv, tally, gid0 + w0 + i, t);
        s.x[a][i] = xn;
        if (ac) { c1[i] = c1v; if (cu) cu[i] = cuv; }
      }
    }
  }

  // --- one step of a block, general integrator ----------------------------------------------------
  void step_general(Scratch& s, std::uint64_t w0, std::uint64_t t, bool fresh, Tally& tally) const {
    const int n = s.n;
    const double eta = M.eta, alpha = M.alpha;
    fill_noise(s, w0, t, fresh);
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
    // The update, unfolded: xu = x + dx.
    for (int a = 0; a < dim; ++a) {
      const double* __restrict x = s.x[a].data();
      const double* __restrict g = s.g[a].data();
      const double* __restrict z = s.zeta[group_of[a]].data();
      const double* __restrict dr = s.drift[a].data();
      double* __restrict xu = s.xu[a].data();
      double* __restrict dx = s.dx[a].data();
      if (has_drift)
        for (int i = 0; i < n; ++i) { dx[i] = dr[i] - eta * g[i] * z[i]; xu[i] = x[i] + dx[i]; }
      else
        for (int i = 0; i < n; ++i) { dx[i] = -(eta * g[i] * z[i]); xu[i] = x[i] - eta * g[i] * z[i]; }
      if (has_absorb)
        for (int i = 0; i < n; ++i) if (!s.alive[i]) { xu[i] = x[i]; dx[i] = 0.0; }
    }
    // Boundaries and cells, axis by axis: the other axes first, so that a walker absorbed there is
    // not counted on the flux axis.
    std::copy_n(s.alive.data(), n, s.alive0.data());
    for (int step = 0; step < dim; ++step) {
      const int a = step < dim - 1 ? (step < fa ? step : step + 1) : fa;
      const int h = hist_of[a];
      const AxisMove& A = moves[a];
      const double* __restrict xu = s.xu[a].data();
      double* __restrict xn = s.x[a].data();
      auto pass = [&](auto bc) {
        constexpr Boundary BB = decltype(bc)::value;
        std::int32_t* __restrict c1n = h >= 0 ? s.c1n[h].data() : nullptr;
        std::int32_t* __restrict cun = h == 0 ? s.cu.data() : nullptr;
        for (int i = 0; i < n; ++i) {
          std::int32_t c1 = 0, cu = 0;
          if (BB == Boundary::absorbing || has_absorb) {
            if (!s.alive[i]) {
              if (c1n) { c1n[i] = s.c1[h][i]; if (cun) cun[i] = s.c1[0][i]; }
              continue;
            }
          }
          double y;
          bool alive = true;
          if (!fold_fast_b<BB>(A, xu[i], y, c1, cu)) [[unlikely]]
            alive = slow_move(a, xu[i], h >= 0 ? s.c1[h][i] : 0, y, c1, cu, tally, gid0 + w0 + i, t);
          xn[i] = y;
          if (c1n) { c1n[i] = c1; if (cun) cun[i] = cu; }
          if (!alive) s.alive[i] = 0;
        }
      };
      switch (A.b) {
        case Boundary::periodic: pass(std::integral_constant<Boundary, Boundary::periodic>{}); break;
        case Boundary::reflecting: pass(std::integral_constant<Boundary, Boundary::reflecting>{}); break;
        case Boundary::absorbing: pass(std::integral_constant<Boundary, Boundary::absorbing>{}); break;
        case Boundary::free: pass(std::integral_constant<Boundary, Boundary::free>{}); break;
      }
    }
  }

  // --- one block through steps [t0, t1) ----------------------------------------------------------
  void advance(Scratch& s, std::vector<std::vector<double>>& X, std::vector<std::uint8_t>& alive, std::uint64_t w0,
               int n, std::uint64_t t0, std::uint64_t t1, Tally& tally) const {
    const std::uint64_t tick0 = cycles();
    s.n = n;
    for (int a = 0; a < dim; ++a) {
      std::copy_n(&X[a][w0], n, s.x[a].data());
      std::fill(s.x[a].begin() + n, s.x[a].end(), M.axes[a].lo);  // SIMD padding: valid positions
    }
    std::copy_n(&alive[w0], n, s.alive.data());
    bool have_cells = false, have_bins = false;
    const size_t nobs = observers.size();
    bool wants[16], bins_wanted = false, cells_wanted = false;
    for (std::uint64_t t = t0; t < t1; ++t) {
      bins_wanted = any_steps;
      cells_wanted = any_steps;
      for (size_t o = 0; o < nobs; ++o) {
        wants[o] = observers[o]->wants(t);
        bins_wanted |= wants[o] && observers[o]->needs_bins(t);
        cells_wanted |= wants[o] && (observers[o]->needs_cells(t) || observers[o]->needs_bins(t));
      }
      const bool cells = cells_wanted || !fused;  // the general integrator always tracks cells
      if (cells && !have_cells) cells_from_positions(s);
      if (any_steps && !have_bins) bins_from_cells(s, s.c1, s.bin.data());
      if (any_steps) std::swap(s.bin, s.bin0);
      if (fused) step_fused(s, w0, t, t == t0, cells, tally);
      else step_general(s, w0, t, t == t0, tally);
      // The fused integrator keeps every walker alive and inside a periodic or reflecting domain,
      // so with one histogram axis the bin is the cell.
      const bool bin_is_cell = fused && nh == 1;
      if (bins_wanted && !bin_is_cell) bins_from_cells(s, s.c1n, s.bin.data());
      StepView v;
      v.t = t;
      v.w0 = w0;
      v.n = n;
      v.c0 = s.c1[0].data();
      v.cu = s.cu.data();
      v.bin = bin_is_cell ? s.c1n[0].data() : s.bin.data();
      v.bin0 = s.bin0.data();
      const double* dxp[64];
      for (int a = 0; a < dim; ++a) dxp[a] = s.dx[a].data();
      v.dx = dxp;
      v.alive0 = s.alive0.data();
      for (size_t o = 0; o < nobs; ++o)
        if (wants[o]) {
          const std::uint64_t c = cycles();
          observers[o]->observe(omp_get_thread_num(), v);
          s.ticks_obs[o] += cycles() - c;
        }
      for (int h = 0; h < nh; ++h) std::swap(s.c1[h], s.c1n[h]);
      have_cells = cells;
      have_bins = bins_wanted;
    }
    for (int a = 0; a < dim; ++a) std::copy_n(s.x[a].data(), n, &X[a][w0]);
    std::copy_n(s.alive.data(), n, &alive[w0]);
    s.ticks_total += cycles() - tick0;
  }
};

WalkResults WalkEngine::run() {
  const std::uint64_t N = opt_.walkers, T0 = opt_.t_begin, T = opt_.t_begin + opt_.steps;
  const int threads = opt_.threads > 0 ? opt_.threads : omp_get_max_threads();
  // A block never holds more walkers than the run has (results do not depend on --block).
  const int block = int(std::min<std::uint64_t>(std::uint64_t(opt_.block), std::max<std::uint64_t>(N, 1)));
  const std::uint64_t nblocks = (N + block - 1) / block;

  std::vector<std::vector<double>> X;
  std::vector<std::uint8_t> alive;
  const WalkState* rs = opt_.resume;
  const bool ranks = opt_.split_over_ranks && mpi::distributed(), root = !ranks || mpi::root();
  if (ranks) mpi::mark_run_started();  // (from here an error may be one rank's: common/mpi.hpp)
  const std::uint64_t first = opt_.first_walker;
  if (rs) {
    check_resume(*rs);
    if (rs->x.size() != size_t(model_.dim) || rs->alive.size() != opt_.total_walkers || first + N > rs->alive.size())
      throw InputError("restart", "--restart: the checkpoint's positions do not fit the run");
    X.resize(model_.dim);
    for (int a = 0; a < model_.dim; ++a) X[a].assign(rs->x[a].begin() + first, rs->x[a].begin() + first + N);
    alive.assign(rs->alive.begin() + first, rs->alive.begin() + first + N);
  } else {
    sample_initial(model_, init_, opt_.seed, N, X, alive, stored_, threads, opt_.first_walker);
  }
  // (the accumulated state of a checkpoint lives on rank 0 only; the ranks' sums are the totals)
  const std::uint64_t dead_here = std::uint64_t(std::count(alive.begin(), alive.end(), std::uint8_t(0)));
  const std::uint64_t dead_at_start = rs ? (root ? rs->absorbed_initial : 0) : dead_here;
  const std::uint64_t t_resume = rs ? rs->t : T0;

  // Moves of up to K cells go to the (cell, move) table: K from the largest step eta g zeta on
  // the grid; 0 (difference arrays only) when typical moves are longer than 8 cells or the table
  // would be large.
  int pair_k = 0;
  if (!plan_.segments.empty()) {
    const Lattice& l = plan_.lattice[0];
    const double zmax = model_.noise == Noise::rademacher ? 1.0 : (model_.noise == Noise::uniform ? std::sqrt(3.0) : 3.0);
    const double cells = model_.eta * g_fast_[plan_.hist_axes[0]].grid_max() * zmax * l.inv_h;
    pair_k = opt_.flux_pair_k >= 0 ? opt_.flux_pair_k : (cells <= 8.0 ? std::max(1, int(std::ceil(cells))) : 0);
    const double bytes = double(plan_.segments.size()) * l.bins * (2 * pair_k + 1) * 8.0 * threads;
    if ((bytes > 2.0e8 && opt_.flux_pair_k < 0) || bytes / (8.0 * threads) > 1.0e9) pair_k = 0;
  }
  Impl im(*this, pair_k);
  if (im.fused && dead_here > 0) im.fused = false;  // the fused integrator assumes every walker alive
  for (auto& o : im.observers) o->start(threads);
  std::vector<Tally> tally(threads);
  for (auto& t : tally) { t.absorbed_lo.assign(model_.dim, 0); t.absorbed_hi.assign(model_.dim, 0); }
  if (rs && root) {
    for (auto& o : im.observers) o->load(rs->observers, rs->t);
    if (rs->absorbed_lo.size() != size_t(model_.dim) || rs->absorbed_hi.size() != size_t(model_.dim))
      throw InputError("restart", "--restart: the checkpoint's absorbed counts do not fit --dim");
    tally[0].absorbed_lo = rs->absorbed_lo;
    tally[0].absorbed_hi = rs->absorbed_hi;
  }
  std::vector<Scratch> scratch(threads);
  for (auto& s : scratch) {
    s.init(model_.dim, static_cast<int>(model_.groups.size()), block, !im.fused, model_.alpha != 0.0, model_.has_drift(),
           model_.noise == Noise::rademacher);
    for (auto& e : g_expr_) s.g_expr.push_back(e->clone());
    for (auto& e : drift_expr_) s.drift_expr.push_back(e->clone());
    s.ticks_obs.assign(im.observers.size(), 0);
  }
  if (im.observers.size() > 16) throw InputError("observers", "too many observers");

  WalkResults res;
  res.dim = model_.dim;
  res.walkers = opt_.total_walkers;
  res.steps = T - T0;
  res.t_begin = T0;
  res.kernel = im.fused ? "fused" : "general";

  // Moments from fixed groups of walkers (two passes per group, Chan's combination in group order):
  // independent of --block, --chunk and the thread count.
  const std::uint64_t ngroups_m = (N + kMomentGroup - 1) / kMomentGroup;
  auto record_moments = [&](std::uint64_t t) {
    const int d = model_.dim;
    std::vector<double> bm(ngroups_m * d), bM2(ngroups_m * d);
    std::vector<std::uint64_t> bn(ngroups_m);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t b = 0; b < std::int64_t(ngroups_m); ++b) {
      const std::uint64_t w0 = b * kMomentGroup, w1 = std::min<std::uint64_t>(N, w0 + kMomentGroup);
      for (int a = 0; a < d; ++a) {
        // Two passes over the group (mean, then squared deviations): no division per walker.
        const double* __restrict xa = X[a].data();
        const std::uint8_t* __restrict al = alive.data();
        double sum = 0;
        std::uint64_t cnt = 0;
        for (std::uint64_t w = w0; w < w1; ++w) {
          sum += al[w] ? xa[w] : 0.0;
          cnt += al[w] != 0;
        }
        const double mean = cnt ? sum / double(cnt) : 0.0;
        double m2 = 0;
        for (std::uint64_t w = w0; w < w1; ++w) {
          const double delta = al[w] ? xa[w] - mean : 0.0;
          m2 += delta * delta;
        }
        bm[b * d + a] = mean; bM2[b * d + a] = m2; bn[b] = cnt;
      }
    }
    std::uint64_t groups = ngroups_m;
    if (ranks) {  // every rank's groups, in rank order = group order, combined on rank 0
      std::vector<double> nd(bn.begin(), bn.end());
      bm = mpi::gather(bm);
      bM2 = mpi::gather(bM2);
      nd = mpi::gather(nd);
      if (!root) return;
      groups = nd.size();
      bn.assign(groups, 0);
      for (std::uint64_t b = 0; b < groups; ++b) bn[b] = std::uint64_t(nd[b]);
    }
    std::vector<double> mean(d, 0.0), m2(d, 0.0);
    std::uint64_t cnt = 0;
    for (std::uint64_t b = 0; b < groups; ++b) {
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

  // Exceptions inside the parallel regions are caught per thread and rethrown once after them.
  OmpGuard guard;
  // After each chunk: did a thread fail, a walker blow up, a stop signal arrive (on any rank)?
  // Throws the error (the same one on every rank); returns whether to stop.
  auto agree = [&](OmpGuard& g) -> bool {
    std::exception_ptr ep;
    try {
      g.rethrow();
    } catch (...) {
      ep = std::current_exception();
    }
    Tally first;
    for (const auto& a : tally)
      if (a.blowup) first.note_blowup(a.blowup_walker, a.blowup_t, a.blowup_axis);
    const bool stop_here = opt_.stop_on_interrupt && interrupt_requested();
    auto blowup_error = [](std::uint64_t w, std::uint64_t t, std::uint64_t a) {
      return NumericalError("numerical blow-up: walker " + std::to_string(w) + " has a non-finite (or runaway) position on axis " +
                            std::to_string(a) + " at step " + std::to_string(t + 1) + " (check --g, --drift and --eta)");
    };
    if (!ranks) {
      if (ep) std::rethrow_exception(ep);
      if (first.blowup) throw blowup_error(first.blowup_walker, first.blowup_t, std::uint64_t(first.blowup_axis));
      return stop_here;
    }
    mpi::agree(ep);  // the lowest failing rank's error, on every rank
    constexpr size_t kF = 5;
    const auto all = mpi::allgather({first.blowup ? 1u : 0u, first.blowup_t, first.blowup_walker,
                                     std::uint64_t(first.blowup_axis), stop_here ? 1u : 0u});
    const int nr = int(all.size() / kF);
    bool any = false, stop = false;
    std::uint64_t bt = 0, bw = 0, ba = 0;
    for (int r = 0; r < nr; ++r) {
      stop |= all[r * kF + 4] != 0;
      if (!all[r * kF]) continue;
      const std::uint64_t t = all[r * kF + 1], w = all[r * kF + 2];
      if (!any || t < bt || (t == bt && w < bw)) { bt = t; bw = w; ba = all[r * kF + 3]; }
      any = true;
    }
    if (any) throw blowup_error(bw, bt, ba);
    return stop;
  };
  if (rs) {  // the moment records of the past that this run's plan has (a run that ended at the
             // checkpoint recorded its last step, which a longer run does not)
    for (size_t k = 0; k < rs->moments_t.size(); ++k) {
      const std::uint64_t t = rs->moments_t[k];
      if (!std::binary_search(plan_.moment_times.begin(), plan_.moment_times.end(), t) || t > rs->t) continue;
      res.moments_t.push_back(t);
      res.alive.push_back(rs->moments_alive[k]);
      for (int a = 0; a < model_.dim; ++a) {
        res.mean.push_back(rs->mean[k * model_.dim + a]);
        res.var.push_back(rs->var[k * model_.dim + a]);
      }
    }
  }
  // t = 0: the observers see the initial condition; moments.
  if (!rs) {
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    Scratch& s = scratch[tid];
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < std::int64_t(nblocks); ++b) guard.run([&] {
      const std::uint64_t w0 = b * block;
      s.n = int(std::min<std::uint64_t>(N - w0, block));
      for (int a = 0; a < model_.dim; ++a) std::copy_n(&X[a][w0], s.n, s.x[a].data());
      std::copy_n(&alive[w0], s.n, s.alive.data());
      im.cells_from_positions(s);
      im.bins_from_cells(s, s.c1, s.bin.data());
      StepView v;
      v.initial = true;
      v.t = T0;
      v.w0 = w0;
      v.n = s.n;
      v.c0 = v.cu = s.c1[0].data();
      v.bin = s.bin.data();
      for (auto& o : im.observers) o->observe_initial(tid, v);
    });
  }
  agree(guard);
  record_moments(T0);
  }

  // The state of step t (positions moved in and out, not copied).
  const double seconds_before = rs ? rs->seconds : 0.0;
  const auto start = std::chrono::steady_clock::now();
  auto checkpoint = [&](std::uint64_t t) {
    if (!opt_.on_checkpoint) return;
    WalkState st;
    st.t = t;
    st.t_begin = T0;
    st.t_end = T;
    st.seed = opt_.seed;
    st.dim = model_.dim;
    st.walkers = opt_.total_walkers;
    st.absorbed_initial = dead_at_start;
    st.absorbed_lo.assign(model_.dim, 0);
    st.absorbed_hi.assign(model_.dim, 0);
    for (const auto& ta : tally)
      for (int a = 0; a < model_.dim; ++a) { st.absorbed_lo[a] += ta.absorbed_lo[a]; st.absorbed_hi[a] += ta.absorbed_hi[a]; }
    st.moments_t = res.moments_t;
    st.moments_alive = res.alive;
    st.mean = res.mean;
    st.var = res.var;
    for (const auto& o : im.observers) o->save(st.observers, t);
    if (ranks) {  // the whole ensemble's state on rank 0, which writes it
      for (auto& [key, v] : st.observers) mpi::reduce_sum(v);
      mpi::reduce_sum(st.absorbed_lo);
      mpi::reduce_sum(st.absorbed_hi);
      std::vector<std::uint64_t> dead{dead_at_start};
      mpi::reduce_sum(dead);
      st.absorbed_initial = dead[0];
      for (int a = 0; a < model_.dim; ++a) st.x.push_back(mpi::gather(X[a]));
      st.alive = mpi::gather(alive);
      if (!root) return;
    }
    for (auto tt : plan_.density_times)
      if (tt <= t) st.density_times.push_back(tt);
    for (const auto& w : plan_.segments)
      if (w.first < t) st.segments.push_back(w);
    st.has_avg = plan_.density_avg.has_value();
    if (st.has_avg) st.density_avg = *plan_.density_avg;
    st.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (ranks) {
      opt_.on_checkpoint(st);
      return;
    }
    st.x.swap(X);
    st.alive.swap(alive);
    struct Back {  // positions go back even if the writer throws
      WalkState& s; std::vector<std::vector<double>>& x; std::vector<std::uint8_t>& al;
      ~Back() { s.x.swap(x); s.alive.swap(al); }
    } back{st, X, alive};
    opt_.on_checkpoint(st);
  };

  Progress progress("walk", T - t_resume, opt_.progress);
  size_t next_moment = 0;
  const std::uint64_t K = opt_.checkpoint_every;
  std::uint64_t t_stop = T;  // where the stepping ended (T unless interrupted)
  for (std::uint64_t t0 = t_resume; t0 < T;) {
    std::uint64_t t1 = std::min<std::uint64_t>(T, t0 + opt_.chunk);
    while (next_moment < plan_.moment_times.size() && plan_.moment_times[next_moment] <= t0) ++next_moment;
    if (next_moment < plan_.moment_times.size()) t1 = std::min(t1, plan_.moment_times[next_moment]);
    if (K > 0) t1 = std::min(t1, T0 + ((t0 - T0) / K + 1) * K);
    if (opt_.stop_at > t0) t1 = std::min(t1, opt_.stop_at);
    for (auto& o : im.observers) o->begin_chunk(t0, t1);

#pragma omp parallel num_threads(threads)
    {
      const int tid = omp_get_thread_num();
      omp_set_num_threads(1);  // muParser's bulk evaluation must not open a nested team per block
#pragma omp for schedule(dynamic, 4)
      for (std::int64_t b = 0; b < std::int64_t(nblocks); ++b) {
        const std::uint64_t w0 = b * block;
        const int n = int(std::min<std::uint64_t>(N - w0, block));
        guard.run([&] { im.advance(scratch[tid], X, alive, w0, n, t0, t1, tally[tid]); });
      }
    }
    // An exception in a thread (expression error, allocation) or a blow-up, reported once; with
    // ranks, every rank fails the same way, and a SIGINT/SIGTERM on any rank stops them all here.
    const bool interrupted = agree(guard);
    t0 = t1;
    if (next_moment < plan_.moment_times.size() && plan_.moment_times[next_moment] == t0) {
      record_moments(t0);
      ++next_moment;
    }
    progress.update(t0 - t_resume, double(N) * double(t0 - t_resume));
    if (t0 < T && (interrupted || (opt_.stop_at > 0 && t0 >= opt_.stop_at))) {
      checkpoint(t0);
      t_stop = t0;
      break;
    }
    if (t0 < T && K > 0 && (t0 - T0) % K == 0) checkpoint(t0);
  }
  progress.finish();
  if (t_stop == T && opt_.checkpoint_at_end) checkpoint(T);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();  // this process
  res.steps_here = t_stop - t_resume;

  const auto reduce_start = std::chrono::steady_clock::now();
  if (ranks) {  // the ranks' accumulators summed (integers: exact) into rank 0's observers
    ObserverData d;
    for (const auto& o : im.observers) o->save(d, t_stop);
    for (auto& [key, v] : d) mpi::reduce_sum(v);
    if (root)
      for (auto& o : im.observers) {
        o->start(threads);
        o->load(d, t_stop);
      }
  }
  if (root)
    for (const auto& o : im.observers) o->finish(res);
  if (t_stop < T) {  // a stopped run: only what is complete at t_stop
    res.complete = false;
    res.steps = t_stop - T0;
    const size_t nb = size_t(plan_.total_bins());
    size_t k = 0;
    while (k < res.density_t.size() && res.density_t[k] <= t_stop) ++k;
    res.density_t.resize(k);
    res.density_counts.resize(k * nb);
    res.density_outside.resize(k);
    if (plan_.density_avg && plan_.density_avg->second > t_stop) { res.avg_counts.clear(); res.avg_outside = 0; }
    const size_t nf = size_t(plan_.flux_faces());
    // Windows stay in the given order; those complete at t_stop are kept.
    std::vector<Window> keep;
    std::vector<std::uint64_t> fp, fm;
    for (size_t i = 0; i < res.windows.size(); ++i)
      if (res.windows[i].second <= t_stop) {
        keep.push_back(res.windows[i]);
        fp.insert(fp.end(), res.flux_plus.begin() + i * nf, res.flux_plus.begin() + (i + 1) * nf);
        fm.insert(fm.end(), res.flux_minus.begin() + i * nf, res.flux_minus.begin() + (i + 1) * nf);
      }
    res.windows = std::move(keep);
    res.flux_plus = std::move(fp);
    res.flux_minus = std::move(fm);
  }
  std::uint64_t total = 0;
  for (const auto& s : scratch) total += s.ticks_total;
  for (size_t k = 0; k < im.observers.size(); ++k) {
    std::uint64_t ticks = 0;
    for (const auto& s : scratch) ticks += s.ticks_obs[k];
    res.costs.push_back({im.observers[k]->name(), im.observers[k]->what(), total ? double(ticks) / double(total) : 0.0});
  }
  res.absorbed_lo.assign(model_.dim, 0);
  res.absorbed_hi.assign(model_.dim, 0);
  for (const auto& t : tally)
    for (int a = 0; a < model_.dim; ++a) { res.absorbed_lo[a] += t.absorbed_lo[a]; res.absorbed_hi[a] += t.absorbed_hi[a]; }
  std::vector<std::uint64_t> dead{dead_at_start};
  if (ranks) {  // the ranks' walkers, in rank order = walker order, on rank 0
    mpi::reduce_sum(res.absorbed_lo);
    mpi::reduce_sum(res.absorbed_hi);
    mpi::reduce_sum(dead);
    for (int a = 0; a < model_.dim; ++a) X[a] = mpi::gather(X[a]);
    alive = mpi::gather(alive);
  }
  // Per axis, as stepped: a walkers x dim copy would cost a fresh allocation (page faults) and a
  // transposition; the writer writes each axis into its column of /final/position.
  res.final_x = std::move(X);
  res.final_alive = std::move(alive);
  res.absorbed_initial = dead[0];
  if (ranks) res.reduce_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - reduce_start).count();
  return res;
}

}  // namespace soret
