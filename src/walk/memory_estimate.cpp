#include "soret/walk/memory_estimate.hpp"

#include <algorithm>

#include "soret/common/expression.hpp"
#include "soret/walk/integrator.hpp"

namespace soret {

MemoryEstimate estimate_walk_memory(const WalkModel& m, const ObserverPlan& plan, const RunOptions& opt, bool from_file,
                                    int threads) {
  MemoryEstimate e;
  const double N = double(opt.walkers), d = m.dim, T = std::max(threads, 1);
  const double pos = N * d * 8.0;
  // Positions and alive flags, and the output file, built in memory and written from there
  // (h5::AtomicFile; measured peak RSS with 2M walkers: 55 MB in 1-D, 117 MB in 3-D).
  e.add("positions", 2.0 * (pos + N));
  if (from_file) e.add("stored ensemble", pos + N);

  const bool general = !(m.noise == Noise::rademacher && m.alpha == 0.0 && !m.has_drift() && !plan.step_stats);
  const int blk = opt.block > 0 ? opt.block : auto_block(opt.walkers, threads, plan);
  const double block = std::min<double>(blk, std::max(N, 1.0));
  const double cap = double((std::uint64_t(block) + 31) / 32 * 32), ng = double(m.groups.size());
  double rows = d;  // x
  if (general) rows += 3 * d + (m.alpha != 0.0 ? d : 0.0) + (m.has_drift() ? d : 0.0) + ng;
  double per_thread = cap * (8.0 * rows + (m.noise == Noise::rademacher ? 32.0 * ng : 0.0) + 2.0 + 4.0 * 7);
  // Expressions: one row of `block` values per used variable, per thread.
  double used = 0;
  for (const auto& g : m.g) used += double(Expression(g, m.dim, m.eta, "g", 1).used_axes().size());
  for (const auto& g : m.drift) used += double(Expression(g, m.dim, m.eta, "drift", 1).used_axes().size());
  per_thread += 8.0 * double(blk) * (used + double(m.g.size() + m.drift.size()));
  e.add("per-thread scratch", T * per_thread);

  const double nb = double(plan.total_bins()), nt = double(plan.density_times.size());
  if (nt > 0 || plan.density_avg) {
    e.add("density", nt * (nb + 2) * 4.0 * T + nt * nb * 8.0 * 4 /* counts, rho, file image */);
    if (plan.density_avg) e.add("density average", (nb + 2) * 8.0 * T + nb * 8.0 * 4);
  }
  if (!plan.flux_windows.empty()) {
    const double faces = plan.flux_faces(), nseg = double(plan.segments.size()), nw = double(plan.flux_windows.size());
    const double pairs = std::min(2.0e8, nseg * (faces - 1) * 17 * 8.0 * T);  // the engine's own cap on its pair table
    e.add("flux", nseg * (faces + 2) * 16.0 * T + pairs + nw * faces * 8.0 * 6 /* plus, minus, J, file image */);
  }
  if (plan.step_stats) e.add("step statistics", T * nb * (1 + 4.0 * double(plan.hist_axes.size())) * 8.0 + nb * 8.0 * 6);
  e.add("chunk tables", double(std::min<std::uint64_t>(opt.chunk, std::max<std::uint64_t>(opt.steps, 1))) * 16.0 * T);
  e.add("moments", double(plan.moment_times.size()) * (8.0 + d * 16.0) * 3);
  return e;
}

}  // namespace soret
