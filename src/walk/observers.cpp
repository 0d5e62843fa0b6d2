#include "soret/walk/observers.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "soret/common/error.hpp"

namespace soret {

std::vector<std::uint64_t> parse_times(const std::string& s, std::uint64_t steps, const std::string& option) {
  std::set<std::uint64_t> out;
  if (s.empty() || s == "none") return {};
  if (s.rfind("every:", 0) == 0) {
    const long long k = parse_int(s.substr(6), option);
    if (k < 1) throw InputError(option, "--" + option + ": every:K needs K >= 1");
    for (std::uint64_t t = 0; t <= steps; t += k) out.insert(t);
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

int ObserverPlan::total_bins() const {
  int n = 1;
  for (const auto& l : lattice) n *= l.bins;
  return n;
}

void ObserverPlan::finalize(const WalkModel& m, std::uint64_t steps) {
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
  if (density_avg && (density_avg->first > density_avg->second || density_avg->second > steps))
    throw InputError("density-avg", "--density-avg A:B needs 0 <= A <= B <= steps");
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

  std::set<std::uint64_t> mt{0, steps};
  if (moments_every > 0)
    for (std::uint64_t t = 0; t <= steps; t += moments_every) mt.insert(t);
  moment_times.assign(mt.begin(), mt.end());
}

void ThreadAccumulator::init(const ObserverPlan& plan, int dim, int k) {
  const size_t nb = plan.total_bins(), nh = plan.hist_axes.size();
  density.assign(plan.density_times.size() * nb, 0);
  outside.assign(plan.density_times.size(), 0);
  avg_counts.assign(plan.density_avg ? nb : 0, 0);
  avg_outside = 0;
  pair_k = k;
  pairs.assign(plan.segments.size() * plan.lattice[0].bins * size_t(2 * k + 1) + 1, 0);
  plus.assign(plan.segments.size() * (plan.flux_faces() + 1), 0);
  minus.assign(plus.size(), 0);
  ss_count.assign(plan.step_stats ? nb : 0, 0);
  ss_sum.assign(plan.step_stats ? nb * nh : 0, 0);
  ss_sq.assign(ss_sum.size(), 0);
  ss_part_sum.assign(ss_sum.size(), 0.0);
  ss_part_sq.assign(ss_sum.size(), 0.0);
  absorbed_lo.assign(dim, 0);
  absorbed_hi.assign(dim, 0);
  blowup = false;
}

void ThreadAccumulator::add(const ThreadAccumulator& o) {
  for (size_t i = 0; i < density.size(); ++i) density[i] += o.density[i];
  for (size_t i = 0; i < outside.size(); ++i) outside[i] += o.outside[i];
  for (size_t i = 0; i < avg_counts.size(); ++i) avg_counts[i] += o.avg_counts[i];
  avg_outside += o.avg_outside;
  for (size_t i = 0; i < plus.size(); ++i) { plus[i] += o.plus[i]; minus[i] += o.minus[i]; }
  for (size_t i = 0; i < pairs.size(); ++i) pairs[i] += o.pairs[i];
  for (size_t i = 0; i < ss_count.size(); ++i) ss_count[i] += o.ss_count[i];
  for (size_t i = 0; i < ss_sum.size(); ++i) { ss_sum[i] += o.ss_sum[i]; ss_sq[i] += o.ss_sq[i]; }
  for (size_t i = 0; i < absorbed_lo.size(); ++i) { absorbed_lo[i] += o.absorbed_lo[i]; absorbed_hi[i] += o.absorbed_hi[i]; }
  if (o.blowup && (!blowup || o.blowup_t < blowup_t || (o.blowup_t == blowup_t && o.blowup_walker < blowup_walker))) {
    blowup = true;
    blowup_walker = o.blowup_walker;
    blowup_t = o.blowup_t;
    blowup_axis = o.blowup_axis;
  }
}

void ThreadAccumulator::flush_step_stats(double eta) {
  const double inv = kStepScale / eta, inv2 = kStepScale / (eta * eta);
  for (size_t i = 0; i < ss_part_sum.size(); ++i) {
    if (ss_part_sum[i] != 0.0) ss_sum[i] += static_cast<__int128>(std::llrint(ss_part_sum[i] * inv));
    if (ss_part_sq[i] != 0.0) ss_sq[i] += static_cast<__int128>(std::llrint(ss_part_sq[i] * inv2));
    ss_part_sum[i] = 0.0;
    ss_part_sq[i] = 0.0;
  }
}

void collect(const ObserverPlan& plan, const ThreadAccumulator& acc, double eta, WalkResults& r) {
  const size_t nh = plan.hist_axes.size(), nf = plan.flux_faces();
  r.density_t = plan.density_times;
  r.density_counts.assign(acc.density.begin(), acc.density.end());
  r.density_outside = acc.outside;
  r.avg_counts = acc.avg_counts;
  r.avg_outside = acc.avg_outside;
  r.windows = plan.flux_windows;
  r.flux_plus.assign(plan.flux_windows.size() * nf, 0);
  r.flux_minus.assign(r.flux_plus.size(), 0);
  for (size_t w = 0; w < plan.flux_windows.size(); ++w)
    for (int s : plan.window_segments[w]) {
      // Pair counts -> difference arrays, then prefix sums.
      std::vector<std::int64_t> dp(acc.plus.begin() + s * (nf + 1), acc.plus.begin() + (s + 1) * (nf + 1));
      std::vector<std::int64_t> dm(acc.minus.begin() + s * (nf + 1), acc.minus.begin() + (s + 1) * (nf + 1));
      const int K = acc.pair_k, W = 2 * K + 1, B = int(nf) - 1;
      for (int a = 0; a < B; ++a)
        for (int d = -K; d <= K; ++d) {
          const auto n = static_cast<std::int64_t>(acc.pairs[(size_t(s) * B + a) * W + (d + K)]);
          if (n == 0 || d == 0) continue;
          if (d > 0) { dp[a + 1] += n; dp[a + d + 1] -= n; }
          else { dm[a + d + 1] += n; dm[a + 1] -= n; }
        }
      std::int64_t p = 0, m = 0;
      for (size_t f = 0; f < nf; ++f) {
        p += dp[f];
        m += dm[f];
        r.flux_plus[w * nf + f] += static_cast<std::uint64_t>(p);
        r.flux_minus[w * nf + f] += static_cast<std::uint64_t>(m);
      }
    }
  r.ss_count = acc.ss_count;
  r.ss_mean.assign(acc.ss_sum.size(), 0.0);
  r.ss_msq.assign(acc.ss_sum.size(), 0.0);
  for (size_t b = 0; b < acc.ss_count.size(); ++b)
    for (size_t h = 0; h < nh; ++h) {
      const double n = static_cast<double>(acc.ss_count[b]);
      if (n == 0) continue;
      r.ss_mean[b * nh + h] = static_cast<double>(acc.ss_sum[b * nh + h]) / kStepScale * eta / n;
      r.ss_msq[b * nh + h] = static_cast<double>(acc.ss_sq[b * nh + h]) / kStepScale * eta * eta / n;
    }
  r.absorbed_lo = acc.absorbed_lo;
  r.absorbed_hi = acc.absorbed_hi;
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

std::vector<double> WalkResults::J(size_t i) const { return per_walker_step(flux_plus, &flux_minus, *this, i); }
std::vector<double> WalkResults::J_plus(size_t i) const { return per_walker_step(flux_plus, nullptr, *this, i); }
std::vector<double> WalkResults::J_minus(size_t i) const { return per_walker_step(flux_minus, nullptr, *this, i); }

}  // namespace soret
