#include "soret/walk/observers.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <set>

#include "soret/common/error.hpp"
#include "soret/walk/boundary.hpp"

namespace soret {

namespace {
/// Time lists are built before the memory estimate: they are capped so that building one cannot
/// itself exhaust the memory (--steps 1e12 --density-at every:1).
constexpr std::uint64_t kMaxListLength = 10000000;
void check_list_length(std::uint64_t n, const std::string& option) {
  if (n > kMaxListLength)
    throw InputError(option, "--" + option + ": " + std::to_string(n) + " entries (more than 1e7); take a larger K");
}
}  // namespace

std::vector<std::uint64_t> parse_times(const std::string& s, std::uint64_t steps, const std::string& option) {
  std::set<std::uint64_t> out;
  if (s.empty() || s == "none") return {};
  if (s.rfind("every:", 0) == 0) {
    const long long k = parse_int(s.substr(6), option);
    if (k < 1) throw InputError(option, "--" + option + ": every:K needs K >= 1");
    check_list_length(steps / std::uint64_t(k) + 1, option);
    std::vector<std::uint64_t> v;
    v.reserve(steps / std::uint64_t(k) + 1);
    for (std::uint64_t t = 0; t <= steps; t += k) v.push_back(t);
    return v;
  } else {
    for (const auto& tok : split(s, ',')) {
      const long long t = parse_int(tok, option);
      if (t < 0 || std::uint64_t(t) > steps)
        throw InputError(option, "--" + option + ": time " + tok + " outside [0, steps=" + std::to_string(steps) + "]");
      out.insert(std::uint64_t(t));
    }
  }
  return {out.begin(), out.end()};
}

std::vector<Window> parse_windows(const std::string& s, std::uint64_t steps, const std::string& option) {
  std::vector<Window> out;
  if (s.empty() || s == "none") return out;
  if (s.rfind("every:", 0) == 0) {
    const long long k = parse_int(s.substr(6), option);
    if (k < 1) throw InputError(option, "--" + option + ": every:K needs K >= 1");
    check_list_length(steps / std::uint64_t(k), option);
    for (std::uint64_t a = 0; a + k <= steps; a += k) out.emplace_back(a, a + k);
    return out;
  }
  for (const auto& tok : split(s, ',')) {
    const auto ab = split(tok, ':');
    if (ab.size() != 2) throw InputError(option, "--" + option + ": '" + tok + "' is not A:B");
    const long long a = parse_int(ab[0], option), b = parse_int(ab[1], option);
    if (a < 0 || b <= a || std::uint64_t(b) > steps)
      throw InputError(option, "--" + option + ": window '" + tok + "' must satisfy 0 <= A < B <= steps=" +
                                   std::to_string(steps));
    out.emplace_back(a, b);
  }
  return out;
}

std::int64_t ObserverPlan::total_bins() const {
  // 64-bit, saturating: 65536 x 65537 bins must not wrap past the caps below.
  constexpr std::int64_t kMax = std::int64_t(1) << 62;
  std::int64_t n = 1;
  for (const auto& l : lattice) {
    if (l.bins < 1) return 0;
    n = n > kMax / l.bins ? kMax : n * l.bins;
  }
  return n;
}

void ObserverPlan::finalize(const WalkModel& m, std::uint64_t steps, std::uint64_t t_begin) {
  const std::uint64_t t_end = t_begin + steps;
  if (hist_axes.empty() || hist_axes.size() > 2) throw InputError("hist-axes", "--hist-axes takes one or two axes");
  if (hist_axes.size() == 2 && hist_axes[0] == hist_axes[1])
    throw InputError("hist-axes", "--hist-axes: the two axes must differ");
  for (int a : hist_axes)
    if (a < 0 || a >= m.dim)
      throw InputError("hist-axes", "--hist-axes: axis " + std::to_string(a) + " out of range for --dim " + std::to_string(m.dim));
  if (lattice.size() != hist_axes.size()) throw InputError("bins", "--bins: give one value, or one per histogram axis");
  for (const auto& l : lattice)
    if (l.bins < 1) throw InputError("bins", "--bins must be >= 1");
  if (static_cast<double>(total_bins()) > 1e8) throw InputError("bins", "--bins: more than 1e8 bins in all");
  if (density_avg && (density_avg->first < t_begin || density_avg->first > density_avg->second || density_avg->second > t_end))
    throw InputError("density-avg", "--density-avg A:B needs 0 <= A <= B <= steps");
  for (auto t : density_times)
    if (t < t_begin || t > t_end) throw InputError("density-at", "--density-at: time " + std::to_string(t) + " is outside the run");
  for (const auto& w : flux_windows)
    if (w.first < t_begin || w.second > t_end || w.first >= w.second)
      throw InputError("flux-windows", "--flux-windows: a window is outside the run or empty");
  const double cells = static_cast<double>(total_bins()) * density_times.size();
  if (cells > 2.5e8)
    throw InputError("density-at", "--density-at: times x bins = " + std::to_string(cells) + " is too large (max 2.5e8)");

  // Disjoint segments from all window end points.
  std::set<std::uint64_t> cuts;
  for (const auto& w : flux_windows) { cuts.insert(w.first); cuts.insert(w.second); }
  segments.clear();
  window_segments.assign(flux_windows.size(), {});
  std::vector<std::uint64_t> c(cuts.begin(), cuts.end());
  for (size_t i = 0; i + 1 < c.size(); ++i) {
    const Window seg{c[i], c[i + 1]};
    bool used = false;
    for (size_t w = 0; w < flux_windows.size(); ++w)
      if (flux_windows[w].first <= seg.first && seg.second <= flux_windows[w].second) {
        window_segments[w].push_back(static_cast<int>(segments.size()));
        used = true;
      }
    if (used) segments.push_back(seg);
  }
  if (static_cast<double>(segments.size()) * flux_faces() > 2.5e8)
    throw InputError("flux-windows", "--flux-windows: windows x faces is too large");

  std::set<std::uint64_t> mt{t_begin, t_end};
  if (moments_every > 0) check_list_length(steps / moments_every + 1, "moments-every");
  if (moments_every > 0)
    for (std::uint64_t t = t_begin; t <= t_end; t += moments_every) mt.insert(t);
  moment_times.assign(mt.begin(), mt.end());
}

namespace {

/// Padding between per-thread accumulators (no false sharing).
constexpr size_t kPad = 16;

std::string plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

/// Density times recorded by step t (times <= t).
size_t times_upto(const std::vector<std::uint64_t>& times, std::uint64_t t) {
  return size_t(std::upper_bound(times.begin(), times.end(), t) - times.begin());
}
/// Flux segments begun before step t (a prefix: segments are in time order).
size_t segments_before(const std::vector<Window>& segs, std::uint64_t t) {
  size_t n = 0;
  while (n < segs.size() && segs[n].first < t) ++n;
  return n;
}

const std::vector<std::int64_t>& saved(const ObserverData& d, const std::string& name, size_t size) {
  const auto it = d.find(name);
  if (it == d.end())
    throw InputError("restart", "--restart: the checkpoint has no '" + name + "' (a run with other observers?)");
  if (it->second.size() != size)
    throw InputError("restart", "--restart: the checkpoint's '" + name + "' has " + std::to_string(it->second.size()) +
                                    " entries; this run's plan needs " + std::to_string(size));
  return it->second;
}

// --- density ----------------------------------------------------------------------------------
class DensityObserver final : public Observer {
 public:
  explicit DensityObserver(const ObserverPlan& p) : P_(p), nb_(size_t(p.total_bins())), stride_(nb_ + 2) {}
  std::string name() const override { return "density"; }
  std::string what() const override {
    std::string s = "density at " + plural(P_.density_times.size(), "time", "times");
    if (P_.density_avg)
      s += ", averaged over t = " + std::to_string(P_.density_avg->first) + ".." + std::to_string(P_.density_avg->second);
    return s;
  }
  void start(int threads) override {
    // Index bin + 2: slot 0 counts dead walkers (dropped), slot 1 live walkers outside the grid.
    snap_.assign(threads, std::vector<std::uint32_t>(P_.density_times.size() * stride_ + kPad, 0));
    avg_.assign(threads, std::vector<std::uint64_t>(P_.density_avg ? stride_ + kPad : 0, 0));
  }
  void begin_chunk(std::uint64_t t0, std::uint64_t t1) override {
    t0_ = t0;
    slot_.assign(t1 - t0, -1);
    avg_on_.assign(t1 - t0, 0);
    for (std::uint64_t t = t0; t < t1; ++t) {
      slot_[t - t0] = slot_of(t + 1);
      avg_on_[t - t0] = in_avg(t + 1);
    }
  }
  bool wants(std::uint64_t t) const override { return slot_[t - t0_] >= 0 || avg_on_[t - t0_]; }
  bool needs_bins(std::uint64_t t) const override { return wants(t); }
  void observe_initial(int tid, const StepView& v) override { count(tid, v, slot_of(v.t), in_avg(v.t)); }
  /// For a fused pass: the snapshot row of transition t (indexed by bin), or null where this
  /// step needs more than one snapshot increment (time average).
  /// The density slot recorded at step t of the current chunk (-1: none, or also averaged at t).
  int plain_slot(std::uint64_t t) const { return avg_on_[t - t0_] ? -1 : slot_[t - t0_]; }
  std::uint32_t* snapshot_row(int tid, std::uint64_t t) {
    const int slot = slot_[t - t0_];
    if (slot < 0 || avg_on_[t - t0_]) return nullptr;
    return &snap_[tid][size_t(slot) * stride_ + 2];
  }
  void observe(int tid, const StepView& v) override { count(tid, v, slot_[v.t - t0_], avg_on_[v.t - t0_]); }
  void finish(WalkResults& r) const override {
    const size_t nt = P_.density_times.size();
    r.density_t = P_.density_times;
    r.density_counts.assign(nt * nb_, 0);
    r.density_outside.assign(nt, 0);
    for (const auto& th : snap_)
      for (size_t s = 0; s < nt; ++s) {
        r.density_outside[s] += th[s * stride_ + 1];
        for (size_t b = 0; b < nb_; ++b) r.density_counts[s * nb_ + b] += th[s * stride_ + 2 + b];
      }
    r.avg_counts.assign(P_.density_avg ? nb_ : 0, 0);
    r.avg_outside = 0;
    if (P_.density_avg)
      for (const auto& th : avg_) {
        r.avg_outside += th[1];
        for (size_t b = 0; b < nb_; ++b) r.avg_counts[b] += th[2 + b];
      }
  }
  void save(ObserverData& d, std::uint64_t t) const override {
    const size_t k = times_upto(P_.density_times, t);
    auto& counts = d["density/counts"];
    auto& outside = d["density/outside"];
    counts.assign(k * nb_, 0);
    outside.assign(k, 0);
    for (const auto& th : snap_)
      for (size_t s = 0; s < k; ++s) {
        outside[s] += th[s * stride_ + 1];
        for (size_t b = 0; b < nb_; ++b) counts[s * nb_ + b] += th[s * stride_ + 2 + b];
      }
    if (P_.density_avg) {
      auto& ac = d["density/avg_counts"];
      ac.assign(nb_ + 1, 0);  // [0]: outside the grid
      for (const auto& th : avg_) {
        ac[0] += std::int64_t(th[1]);
        for (size_t b = 0; b < nb_; ++b) ac[1 + b] += std::int64_t(th[2 + b]);
      }
    }
  }
  void load(const ObserverData& d, std::uint64_t t) override {
    const size_t k = times_upto(P_.density_times, t);
    const auto& counts = saved(d, "density/counts", k * nb_);
    const auto& outside = saved(d, "density/outside", k);
    auto& th = snap_[0];
    auto put = [](std::uint32_t& slot, std::int64_t v) {
      if (v < 0 || v > std::int64_t(UINT32_MAX)) throw InputError("restart", "--restart: a density count out of range");
      slot += std::uint32_t(v);
    };
    for (size_t s = 0; s < k; ++s) {
      put(th[s * stride_ + 1], outside[s]);
      for (size_t b = 0; b < nb_; ++b) put(th[s * stride_ + 2 + b], counts[s * nb_ + b]);
    }
    if (P_.density_avg) {
      const auto& ac = saved(d, "density/avg_counts", nb_ + 1);
      for (auto v : ac)
        if (v < 0) throw InputError("restart", "--restart: a negative density count");
      avg_[0][1] += std::uint64_t(ac[0]);
      for (size_t b = 0; b < nb_; ++b) avg_[0][2 + b] += std::uint64_t(ac[1 + b]);
    }
  }

 private:
  int slot_of(std::uint64_t t) const {
    const auto it = std::lower_bound(P_.density_times.begin(), P_.density_times.end(), t);
    return (it != P_.density_times.end() && *it == t) ? int(it - P_.density_times.begin()) : -1;
  }
  bool in_avg(std::uint64_t t) const { return P_.density_avg && P_.density_avg->first <= t && t <= P_.density_avg->second; }
  void count(int tid, const StepView& v, int slot, bool avg) {
    const std::int32_t* __restrict bin = v.bin;
    if (slot >= 0) {
      std::uint32_t* __restrict c = &snap_[tid][size_t(slot) * stride_ + 2];
      for (int i = 0; i < v.n; ++i) ++c[bin[i]];
    }
    if (avg) {
      std::uint64_t* __restrict c = &avg_[tid][2];
      for (int i = 0; i < v.n; ++i) ++c[bin[i]];
    }
  }

  const ObserverPlan& P_;
  size_t nb_, stride_;
  std::vector<std::vector<std::uint32_t>> snap_;
  std::vector<std::vector<std::uint64_t>> avg_;
  std::uint64_t t0_ = 0;
  std::vector<int> slot_;
  std::vector<std::uint8_t> avg_on_;
};

// --- flux -------------------------------------------------------------------------------------
class FluxObserver final : public Observer {
 public:
  FluxObserver(const ObserverPlan& p, Boundary b, int pair_k, std::uint64_t walkers)
      : P_(p), b_(b), B_(p.lattice[0].bins), K_(pair_k), W_(2 * pair_k + 1), nseg_(p.segments.size()) {
    // 32-bit table entries where no entry can overflow (half the cache footprint).
    std::uint64_t longest = 0;
    for (const auto& sg : p.segments) longest = std::max(longest, sg.second - sg.first);
    narrow_ = double(walkers) * double(longest) < 4.0e9;
  }
  std::string name() const override { return "flux"; }
  std::string what() const override {
    return "face crossings in " + plural(P_.flux_windows.size(), "window", "windows") + " (" + std::to_string(B_ + 1) + " faces)";
  }
  void start(int threads) override {
    const size_t entries = K_ > 0 ? nseg_ * size_t(B_) * W_ + kPad : 0;
    pairs_.assign(threads, std::vector<std::uint64_t>(narrow_ ? 0 : entries, 0));
    pairs32_.assign(threads, std::vector<std::uint32_t>(narrow_ ? entries : 0, 0));
    plus_.assign(threads, std::vector<std::int64_t>(nseg_ * size_t(B_ + 2) + kPad, 0));
    minus_.assign(threads, std::vector<std::int64_t>(nseg_ * size_t(B_ + 2) + kPad, 0));
  }
  void begin_chunk(std::uint64_t t0, std::uint64_t t1) override {
    t0_ = t0;
    seg_.assign(t1 - t0, -1);
    size_t s = 0;
    for (std::uint64_t t = t0; t < t1; ++t) {
      while (s < nseg_ && P_.segments[s].second <= t) ++s;
      if (s < nseg_ && P_.segments[s].first <= t) seg_[t - t0] = int(s);
    }
  }
  bool wants(std::uint64_t t) const override { return seg_[t - t0_] >= 0; }
  bool needs_cells(std::uint64_t t) const override { return wants(t); }
  void observe(int tid, const StepView& v) override {
    const int seg = seg_[v.t - t0_];
    const std::int32_t* __restrict c0 = v.c0;
    const std::int32_t* __restrict cu = v.cu;
    std::int64_t* dp = &plus_[tid][size_t(seg) * (B_ + 2)];
    std::int64_t* dm = &minus_[tid][size_t(seg) * (B_ + 2)];
    if (K_ == 0) {
      for (int i = 0; i < v.n; ++i)
        if (cu[i] != c0[i]) count_crossings(b_, B_, c0[i], cu[i], dp, dm);
      return;
    }
    if (narrow_) count_pairs(pairs32_[tid], seg, v, dp, dm, nullptr);
    else count_pairs(pairs_[tid], seg, v, dp, dm, nullptr);
  }
  /// observe() and, in the same pass, the density into `dens` (by bin): one increment per walker,
  /// or, with `sink_only` (the segment is this one step: see single_step_segment), only for the
  /// walkers outside the (start cell, move) table, whose end cells then hold the others.
  bool observe_with_density(int tid, const StepView& v, std::uint32_t* dens, bool sink_only) {
    if (K_ == 0 || !narrow_) return false;
    const int seg = seg_[v.t - t0_];
    std::int64_t* dp = &plus_[tid][size_t(seg) * (B_ + 2)];
    std::int64_t* dm = &minus_[tid][size_t(seg) * (B_ + 2)];
    if (sink_only) count_pairs<std::uint32_t, true>(pairs32_[tid], seg, v, dp, dm, dens);
    else count_pairs<std::uint32_t, false>(pairs32_[tid], seg, v, dp, dm, dens);
    return true;
  }
  /// The segment of step t if it is t's alone (a window boundary on each side) and the pair table
  /// is in use, else -1.
  int single_step_segment(std::uint64_t t) const {
    const int s = seg_[t - t0_];
    if (s < 0 || K_ == 0 || !narrow_) return -1;
    return P_.segments[size_t(s)].second - P_.segments[size_t(s)].first == 1 ? s : -1;
  }
  /// Adds the end cells of the table's moves of segment `seg` (one step) to a density row of B bins.
  template <class R>
  void add_end_cells(size_t seg, R* row) const {
    for (int a = 0; a < B_; ++a)
      for (int d = -K_; d <= K_; ++d) {
        std::uint64_t n = 0;
        const size_t e = (seg * B_ + a) * W_ + (d + K_);
        for (const auto& th : pairs32_) n += th[e];
        int c = a + d;
        if (b_ == Boundary::periodic) c = ((c % B_) + B_) % B_;
        if (c < 0 || c >= B_) continue;  // not a move the table holds (it counted none)
        row[c] += R(n);
      }
  }

  /// Moves of at most K cells from a cell of the grid (and, unless periodic, to one): one
  /// increment of the (start cell, move) table; the others through the O(1) difference arrays.
  template <class U, bool kSinkOnly = false>
  void count_pairs(std::vector<U>& table, int seg, const StepView& v, std::int64_t* dp, std::int64_t* dm,
                   std::uint32_t* __restrict dens) const {
    const std::int32_t* __restrict c0 = v.c0;
    const std::int32_t* __restrict cu = v.cu;
    U* __restrict T = &table[size_t(seg) * B_ * W_];
    U* __restrict sink = &table[table.size() - 1];
    const bool periodic = b_ == Boundary::periodic;
    const std::int32_t B = B_, K = K_, W = W_;
    constexpr int kTile = 256;
    std::int32_t idx[kTile];
    for (int i0 = 0; i0 < v.n; i0 += kTile) {
      const int m = std::min(kTile, v.n - i0);
      int other = 0;
      const std::int32_t sidx = std::int32_t(sink - T);  // the last element collects the others
      for (int i = 0; i < m; ++i) {  // vectorised: table index, or the sink
        const std::int32_t a = c0[i0 + i], c = cu[i0 + i], d = c - a;
        const bool ok = (d >= -K) & (d <= K) & (a >= 0) & (a < B) & (periodic | ((c >= 0) & (c < B)));
        idx[i] = ok ? a * W + d + K : sidx;
        other += !ok;
      }
      if (dens && !kSinkOnly) {
        const std::int32_t* __restrict bin = v.bin + i0;
        for (int i = 0; i < m; ++i) { ++T[idx[i]]; ++dens[bin[i]]; }
      } else {
        for (int i = 0; i < m; ++i) ++T[idx[i]];
      }
      if (other)
        for (int i = 0; i < m; ++i)
          if (idx[i] == sidx) {
            count_crossings(b_, B_, c0[i0 + i], cu[i0 + i], dp, dm);
            if (kSinkOnly) ++dens[v.bin[i0 + i]];
          }
    }
  }
  /// The threads reduced (integers) and the table turned into difference arrays, for the first
  /// `nseg` segments: nseg x (B + 2) each.
  void reduce(size_t nseg, std::vector<std::int64_t>& dp, std::vector<std::int64_t>& dm) const {
    dp.assign(nseg * (B_ + 2), 0);
    dm.assign(dp.size(), 0);
    for (size_t th = 0; th < plus_.size(); ++th)
      for (size_t i = 0; i < dp.size(); ++i) { dp[i] += plus_[th][i]; dm[i] += minus_[th][i]; }
    if (K_ > 0)
      for (size_t s = 0; s < nseg; ++s)
        for (int a = 0; a < B_; ++a)
          for (int d = -K_; d <= K_; ++d) {
            std::int64_t n = 0;
            const size_t e = (s * B_ + a) * W_ + (d + K_);
            for (size_t th = 0; th < pairs_.size(); ++th) n += std::int64_t(narrow_ ? pairs32_[th][e] : pairs_[th][e]);
            if (n && d) count_crossings(b_, B_, a, a + d, &dp[s * (B_ + 2)], &dm[s * (B_ + 2)], n);
          }
  }
  void save(ObserverData& d, std::uint64_t t) const override {
    reduce(segments_before(P_.segments, t), d["flux/plus"], d["flux/minus"]);
  }
  void load(const ObserverData& d, std::uint64_t t) override {
    const size_t n = segments_before(P_.segments, t) * size_t(B_ + 2);
    const auto& p = saved(d, "flux/plus", n);
    const auto& m = saved(d, "flux/minus", n);
    for (size_t i = 0; i < n; ++i) { plus_[0][i] += p[i]; minus_[0][i] += m[i]; }
  }
  void finish(WalkResults& r) const override {
    const size_t nf = size_t(B_) + 1, nw = P_.flux_windows.size();
    std::vector<std::int64_t> dp, dm;
    reduce(nseg_, dp, dm);
    r.windows = P_.flux_windows;
    r.flux_plus.assign(nw * nf, 0);
    r.flux_minus.assign(nw * nf, 0);
    for (size_t w = 0; w < nw; ++w)
      for (int s : P_.window_segments[w]) {
        std::int64_t p = 0, m = 0;
        for (size_t f = 0; f < nf; ++f) {
          p += dp[s * (B_ + 2) + f];
          m += dm[s * (B_ + 2) + f];
          r.flux_plus[w * nf + f] += static_cast<std::uint64_t>(p);
          r.flux_minus[w * nf + f] += static_cast<std::uint64_t>(m);
        }
      }
    if (b_ == Boundary::periodic)  // face B is face 0
      for (size_t w = 0; w < nw; ++w) {
        r.flux_plus[w * nf + B_] = r.flux_plus[w * nf];
        r.flux_minus[w * nf + B_] = r.flux_minus[w * nf];
      }
  }

 private:
  const ObserverPlan& P_;
  Boundary b_;
  int B_, K_, W_;
  size_t nseg_;
  bool narrow_ = false;
  std::vector<std::vector<std::uint64_t>> pairs_;
  std::vector<std::vector<std::uint32_t>> pairs32_;
  std::vector<std::vector<std::int64_t>> plus_, minus_;
  std::uint64_t t0_ = 0;
  std::vector<int> seg_;
};

// --- step statistics --------------------------------------------------------------------------
class StepStatsObserver final : public Observer {
 public:
  StepStatsObserver(const ObserverPlan& p, double eta) : P_(p), nb_(size_t(p.total_bins())), nh_(p.hist_axes.size()), eta_(eta) {}
  std::string name() const override { return "step_stats"; }
  std::string what() const override { return "mean and mean squared step per start bin, every step"; }
  bool needs_steps() const override { return true; }
  void start(int threads) override { acc_.assign(threads, Acc{}); for (auto& a : acc_) a.init(nb_, nh_); }
  void begin_chunk(std::uint64_t, std::uint64_t) override {}
  bool wants(std::uint64_t) const override { return true; }
  void observe(int tid, const StepView& v) override {
    Acc& a = acc_[tid];
    const double inv = kStepScale / eta_, inv2 = kStepScale / (eta_ * eta_);
    for (int i = 0; i < v.n; ++i) {
      const std::int32_t b = v.bin0[i];
      if (b < 0 || !v.alive0[i]) continue;
      ++a.count[b];
      for (size_t h = 0; h < nh_; ++h) {
        // Each step in fixed point on its own: the sums are exact integers, in any order.
        const double d = v.dx[P_.hist_axes[h]][i];
        a.sum[b * nh_ + h] += std::llrint(d * inv);
        a.sq[b * nh_ + h] += std::llrint(d * d * inv2);
      }
    }
  }
  void finish(WalkResults& r) const override {
    std::vector<std::uint64_t> count(nb_, 0);
    std::vector<__int128> sum(nb_ * nh_, 0), sq(nb_ * nh_, 0);
    for (const auto& a : acc_) {
      for (size_t b = 0; b < nb_; ++b) count[b] += a.count[b];
      for (size_t i = 0; i < sum.size(); ++i) { sum[i] += a.sum[i]; sq[i] += a.sq[i]; }
    }
    r.ss_count = count;
    r.ss_mean.assign(sum.size(), 0.0);
    r.ss_msq.assign(sum.size(), 0.0);
    for (size_t b = 0; b < nb_; ++b)
      for (size_t h = 0; h < nh_; ++h) {
        const double n = static_cast<double>(count[b]);
        if (n == 0) continue;
        r.ss_mean[b * nh_ + h] = static_cast<double>(sum[b * nh_ + h]) / kStepScale * eta_ / n;
        r.ss_msq[b * nh_ + h] = static_cast<double>(sq[b * nh_ + h]) / kStepScale * eta_ * eta_ / n;
      }
  }
  void save(ObserverData& d, std::uint64_t) const override {
    auto& count = d["step_stats/count"];
    count.assign(nb_, 0);
    std::vector<__int128> sum(nb_ * nh_, 0), sq(nb_ * nh_, 0);
    for (const auto& a : acc_) {
      for (size_t b = 0; b < nb_; ++b) count[b] += std::int64_t(a.count[b]);
      for (size_t i = 0; i < sum.size(); ++i) { sum[i] += a.sum[i]; sq[i] += a.sq[i]; }
    }
    // 128-bit sums s as (hi, lo) with s = hi 2^32 + lo and 0 <= lo < 2^32: element-wise sums of
    // such pairs (over ranks) still give the total.
    for (const auto& [name, v] : {std::pair<const char*, const std::vector<__int128>&>{"step_stats/sum", sum},
                                  std::pair<const char*, const std::vector<__int128>&>{"step_stats/sq", sq}}) {
      auto& out = d[name];
      out.resize(2 * v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        out[2 * i] = std::int64_t(v[i] >> 32);
        out[2 * i + 1] = std::int64_t(std::uint64_t(v[i]) & 0xffffffffu);
      }
    }
  }
  void load(const ObserverData& d, std::uint64_t) override {
    const auto& count = saved(d, "step_stats/count", nb_);
    Acc& a = acc_[0];
    for (size_t b = 0; b < nb_; ++b) a.count[b] += std::uint64_t(count[b]);
    for (int which = 0; which < 2; ++which) {
      const auto& in = saved(d, which ? "step_stats/sq" : "step_stats/sum", 2 * nb_ * nh_);
      auto& v = which ? a.sq : a.sum;
      for (size_t i = 0; i < v.size(); ++i)
        v[i] += __int128(in[2 * i]) * (__int128(1) << 32) + __int128(in[2 * i + 1]);
    }
  }

 private:
  struct Acc {
    std::vector<std::uint64_t> count;
    std::vector<__int128> sum, sq;
    void init(size_t nb, size_t nh) { count.assign(nb, 0); sum.assign(nb * nh, 0); sq.assign(nb * nh, 0); }
  };
  const ObserverPlan& P_;
  size_t nb_, nh_;
  double eta_;
  std::vector<Acc> acc_;
};

// --- density and flux in one pass ---------------------------------------------------------------
/// Where a step is wanted by both, the density increment rides in the flux pass (one loop, two
/// increments per walker, as a hand-written kernel would do); otherwise each does its own.
class DensityFluxObserver final : public Observer {
 public:
  DensityFluxObserver(std::unique_ptr<DensityObserver> d, std::unique_ptr<FluxObserver> f, bool one_d)
      : d_(std::move(d)), f_(std::move(f)), one_d_(one_d) {}
  std::string name() const override { return "density+flux"; }
  std::string what() const override { return d_->what() + "; " + f_->what(); }
  void start(int threads) override {
    d_->start(threads);
    f_->start(threads);
    derived_.clear();
  }
  void begin_chunk(std::uint64_t t0, std::uint64_t t1) override {
    d_->begin_chunk(t0, t1);
    f_->begin_chunk(t0, t1);
    // Steps whose density snapshot is read off the pair table's end cells (one increment per
    // walker instead of two): a 1-D lattice, the step a flux segment of its own.
    t0_ = t0;
    derive_.assign(t1 - t0, 0);
    if (one_d_)
      for (std::uint64_t t = t0; t < t1; ++t) {
        const int slot = d_->plain_slot(t), seg = f_->single_step_segment(t);
        if (slot >= 0 && seg >= 0) {
          derive_[t - t0] = 1;
          derived_.emplace_back(size_t(seg), size_t(slot));
        }
      }
  }
  bool wants(std::uint64_t t) const override { return d_->wants(t) || f_->wants(t); }
  bool needs_bins(std::uint64_t t) const override { return d_->wants(t); }
  bool needs_cells(std::uint64_t t) const override { return f_->wants(t); }
  void observe_initial(int tid, const StepView& v) override { d_->observe_initial(tid, v); }
  void observe(int tid, const StepView& v) override {
    const bool dw = d_->wants(v.t), fw = f_->wants(v.t);
    if (dw && fw) {
      std::uint32_t* row = d_->snapshot_row(tid, v.t);
      if (row && f_->observe_with_density(tid, v, row, derive_[v.t - t0_] != 0)) return;
    }
    if (dw) d_->observe(tid, v);
    if (fw) f_->observe(tid, v);
  }
  void finish(WalkResults& r) const override {
    d_->finish(r);
    f_->finish(r);
    const size_t nb = r.density_counts.size() / std::max<size_t>(1, r.density_t.size());
    for (const auto& [seg, slot] : derived_) f_->add_end_cells(seg, &r.density_counts[slot * nb]);
  }
  /// The saved density rows are complete: the end cells of the derived steps are added to them
  /// (the saved flux has no table to derive them from after a restart).
  void save(ObserverData& d, std::uint64_t t) const override {
    d_->save(d, t);
    f_->save(d, t);
    auto& counts = d["density/counts"];
    const size_t k = d["density/outside"].size();
    const size_t nb = k ? counts.size() / k : 0;
    for (const auto& [seg, slot] : derived_)
      if (slot < k) f_->add_end_cells(seg, &counts[slot * nb]);
  }
  void load(const ObserverData& d, std::uint64_t t) override {
    d_->load(d, t);
    f_->load(d, t);
  }

 private:
  std::unique_ptr<DensityObserver> d_;
  std::unique_ptr<FluxObserver> f_;
  bool one_d_;
  std::uint64_t t0_ = 0;
  std::vector<std::uint8_t> derive_;
  std::vector<std::pair<size_t, size_t>> derived_;
};

}  // namespace

std::vector<std::unique_ptr<Observer>> make_observers(const ObserverPlan& plan, const WalkModel& model, int pair_k,
                                                      std::uint64_t walkers) {
  std::vector<std::unique_ptr<Observer>> out;
  const bool density = !plan.density_times.empty() || plan.density_avg, flux = !plan.segments.empty();
  const Boundary fb = model.axes[plan.hist_axes[0]].boundary;
  // Dead walkers keep cells (the table would count them); the derived density needs none.
  bool absorbing = false;
  for (const auto& ax : model.axes) absorbing |= ax.boundary == Boundary::absorbing;
  if (density && flux)
    out.push_back(std::make_unique<DensityFluxObserver>(std::make_unique<DensityObserver>(plan),
                                                        std::make_unique<FluxObserver>(plan, fb, pair_k, walkers),
                                                        plan.lattice.size() == 1 && !absorbing));
  else if (density)
    out.push_back(std::make_unique<DensityObserver>(plan));
  else if (flux)
    out.push_back(std::make_unique<FluxObserver>(plan, fb, pair_k, walkers));
  if (plan.step_stats) out.push_back(std::make_unique<StepStatsObserver>(plan, model.eta));
  return out;
}

std::vector<double> WalkResults::rho(const ObserverPlan& plan, size_t i) const {
  const size_t nb = plan.total_bins();
  double vol = 1.0;
  for (const auto& l : plan.lattice) vol *= (l.hi - l.lo) / l.bins;
  std::vector<double> out(nb);
  for (size_t b = 0; b < nb; ++b) out[b] = static_cast<double>(density_counts[i * nb + b]) / (double(walkers) * vol);
  return out;
}

namespace {
std::vector<double> per_walker_step(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>* b,
                                    const WalkResults& r, size_t i) {
  const size_t nf = r.flux_plus.size() / std::max<size_t>(1, r.windows.size());
  const double norm = double(r.walkers) * double(r.windows[i].second - r.windows[i].first);
  std::vector<double> out(nf);
  for (size_t f = 0; f < nf; ++f) {
    const double v = double(a[i * nf + f]) - (b ? double((*b)[i * nf + f]) : 0.0);
    out[f] = v / norm;
  }
  return out;
}
}  // namespace

std::vector<double> WalkResults::final_positions() const {
  if (final_x.empty()) return {};
  const size_t d = final_x.size(), n = final_x[0].size();
  if (d == 1) return final_x[0];
  std::vector<double> out(n * d);
  for (size_t w = 0; w < n; ++w)
    for (size_t a = 0; a < d; ++a) out[w * d + a] = final_x[a][w];
  return out;
}

std::vector<double> WalkResults::J(size_t i) const { return per_walker_step(flux_plus, &flux_minus, *this, i); }
std::vector<double> WalkResults::J_plus(size_t i) const { return per_walker_step(flux_plus, nullptr, *this, i); }
std::vector<double> WalkResults::J_minus(size_t i) const { return per_walker_step(flux_minus, nullptr, *this, i); }

}  // namespace soret
