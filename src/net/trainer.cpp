#include "soret/net/trainer.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <span>
#include <tuple>

#include "soret/common/error.hpp"
#include "soret/common/interrupt.hpp"
#include "soret/common/mpi.hpp"
#include "soret/common/omp_guard.hpp"
#include "soret/walk/boundary.hpp"
#include "soret/common/progress.hpp"
#include "soret/net/eq8.hpp"

namespace soret::net {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

inline double dot(const double* __restrict a, const double* __restrict b, int n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

using v8 = double __attribute__((vector_size(64)));
inline v8 load8(const double* p) {
  v8 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(double* p, v8 v) { __builtin_memcpy(p, &v, sizeof v); }

/// sum_j x[j] W[j*P + ib .. +8], with four independent accumulators (FMA latency, not throughput,
/// would otherwise bound the loop).
inline v8 strip_dot(const double* x, const double* W, size_t P, int M, v8 init) {
  v8 a0 = init, a1 = {}, a2 = {}, a3 = {};
  int j = 0;
  for (; j + 4 <= M; j += 4) {
    a0 += x[j] * load8(W + size_t(j) * P);
    a1 += x[j + 1] * load8(W + size_t(j + 1) * P);
    a2 += x[j + 2] * load8(W + size_t(j + 2) * P);
    a3 += x[j + 3] * load8(W + size_t(j + 3) * P);
  }
  for (; j < M; ++j) a0 += x[j] * load8(W + size_t(j) * P);
  return (a0 + a1) + (a2 + a3);
}

inline double sigmoid(double f) { return f >= 0 ? 1.0 / (1.0 + std::exp(-f)) : std::exp(f) / (1.0 + std::exp(f)); }

/// BCE with logits, numerically stable: -[y log s(f) + (1-y) log(1-s(f))].
inline double bce(double f, double y) { return std::max(f, 0.0) - f * y + std::log1p(std::exp(-std::abs(f))); }

/// Per-thread accumulators of the parameter-space fields.
struct FieldAcc {
  std::vector<std::uint64_t> density;
  std::vector<std::int64_t> dvp, dvm, dbp, dbm;  // difference arrays, windows x (faces + 1)
};


}  // namespace

bool BlockPlan::stops_at(std::uint64_t t) const {
  return (stop_at > 0 && t >= stop_at) || (stop_on_interrupt && interrupt_requested());
}

std::uint64_t block_end(const BlockPlan& p, std::uint64_t t0, std::uint64_t T, std::uint64_t K) {
  K = std::max<std::uint64_t>(1, K);
  auto up = [K](std::uint64_t x) { return (x + K - 1) / K * K; };
  std::uint64_t t1 = t0 + std::max<std::uint64_t>(K, up(p.block > 0 ? p.block : 256));
  if (p.checkpoint_every > 0) t1 = std::min(t1, (t0 / p.checkpoint_every + 1) * p.checkpoint_every);
  if (p.stop_at > t0) t1 = std::min(t1, up(p.stop_at));
  return std::min(t1, T);
}

std::vector<std::pair<std::string, std::vector<double>*>> RunResult::columns() {
  return {{"activation_rate", &activation_rate}, {"v_norm", &v_norm}, {"bias_mean", &bias_mean},
          {"bias_std", &bias_std}, {"w_norm", &w_norm}, {"loss", &loss}, {"p_mean", &p_mean},
          {"grad_var_v", &grad_var_v}, {"grad_var_b", &grad_var_b}, {"grad_var_w", &grad_var_w}, {"c2", &c2},
          {"eq27_b_drift", &eq27_b_drift}, {"eq27_v2_drift", &eq27_v2_drift}, {"probe_activation", &probe_activation}};
}

RunResult train(const NetConfig& c, const RunSpec& spec, const TrainOptions& opt) {
  const int M = c.M, N = c.N, E = opt.ensemble, P = (c.N + 7) / 8 * 8;
  const std::uint64_t T = opt.steps, K = std::max<std::uint64_t>(1, opt.record_every);
  const std::uint64_t R = (T + K - 1) / K;
  const int B = spec.mode == Mode::full_batch
                    ? (c.train_size > 0 ? int(c.train_size) : spec.full_batch)
                    : spec.batch;
  const double eta = spec.eta;
  const bool grid_on = opt.grid_bins_v > 0 && opt.grid_bins_b > 0;
  const Lattice lv(opt.v_lo, opt.v_hi, std::max(1, opt.grid_bins_v)), lb(opt.b_lo, opt.b_hi, std::max(1, opt.grid_bins_b));
  const int fv = lv.bins + 1, fb = lb.bins + 1;
  const std::uint64_t dens_every = opt.density_every > 0 ? opt.density_every : std::max<std::uint64_t>(1, R / 10);
  std::vector<std::uint64_t> dens_rec;
  for (std::uint64_t r = 0; r < R; r += dens_every) dens_rec.push_back(r);
  const int threads = opt.threads > 0 ? opt.threads : omp_get_max_threads();

  RunResult res;
  res.spec = spec;
  for (std::uint64_t r = 0; r < R; ++r) res.t.push_back(r * K);
  const size_t RE = size_t(R) * E;
  for (auto* v : {&res.activation_rate, &res.v_norm, &res.bias_mean, &res.bias_std, &res.w_norm, &res.loss,
                  &res.p_mean, &res.grad_var_v, &res.grad_var_b, &res.grad_var_w, &res.c2, &res.eq27_b_drift,
                  &res.eq27_v2_drift})
    v->assign(RE, kNaN);
  if (opt.probe > 0) res.probe_activation.assign(RE, kNaN);
  res.diverged_at.assign(E, -1);
  res.final_W.assign(size_t(E) * N * M, kNaN);
  res.final_b.assign(size_t(E) * N, kNaN);
  res.final_V.assign(size_t(E) * N, kNaN);
  const size_t PG = size_t(N) * M + (c.biases() ? size_t(N) : 0) + size_t(N);  // Architecture::twolayer params
  res.final_params.assign(size_t(E) * PG, kNaN);

  // Resume: the state of this run at step t_start (rows before t_start/K complete, the fields so
  // far, the parameters at t_start). Shapes checked here too (io/net_state.cpp checks the file).
  const RunResult* from = opt.resume;
  std::uint64_t t_start = 0;
  std::vector<std::uint64_t> base_density, base_cv_plus, base_cv_minus, base_cb_plus, base_cb_minus;
  if (from) {
    auto bad = [&](const std::string& what) {
      throw InputError("restart", "--restart: the checkpoint's run " + spec.name + " " + what);
    };
    t_start = from->t_reached;
    const size_t rows = from->records();
    if (t_start > T) bad("is at step " + std::to_string(t_start) + ", beyond --steps " + std::to_string(T));
    if (t_start % K != 0 && t_start != T)
      bad("ends with a partial record window (step " + std::to_string(t_start) + " is not a multiple of --record-every); it cannot be continued");
    if (rows != (t_start == T ? R : t_start / K)) bad("has " + std::to_string(rows) + " records at step " + std::to_string(t_start));
    if (from->diverged_at.size() != size_t(E) || from->final_W.size() != size_t(E) * N * M ||
        from->final_b.size() != size_t(E) * N || from->final_V.size() != size_t(E) * N)
      bad("has parameters of another ensemble size or architecture");
    for (size_t r = 0; r < rows; ++r)
      if (from->t[r] != res.t[r]) bad("has other record times");
    auto src = const_cast<RunResult*>(from)->columns();
    auto dst = res.columns();
    for (size_t k = 0; k < dst.size(); ++k) {
      if (dst[k].second->empty()) continue;
      if (src[k].second->size() != rows * E) bad("has a column " + src[k].first + " of another shape");
      std::copy(src[k].second->begin(), src[k].second->end(), dst[k].second->begin());
    }
    res.diverged_at = from->diverged_at;
    for (auto d : res.diverged_at)
      if (d < -1 || d > std::int64_t(t_start)) bad("has a divergence step outside [0, t]");
    res.final_W = from->final_W;
    res.final_b = from->final_b;
    res.final_V = from->final_V;
    if (grid_on) {
      size_t n = 0;
      while (n < dens_rec.size() && dens_rec[n] < rows) ++n;
      if (from->density_t.size() != n) bad("has another schedule of density snapshots: --density-every 0 (a tenth of the records) follows --steps; to extend a run, give --density-every to its first part");
      for (size_t k = 0; k < n; ++k)
        if (from->density_t[k] != dens_rec[k] * K) bad("has another schedule of density snapshots: --density-every 0 (a tenth of the records) follows --steps; to extend a run, give --density-every to its first part");
      if (from->density.size() != n * lv.bins * lb.bins || from->cross_v_plus.size() != rows * fv ||
          from->cross_v_minus.size() != rows * fv || from->cross_b_plus.size() != rows * fb || from->cross_b_minus.size() != rows * fb)
        bad("has parameter-space fields of another shape");
      base_density.assign(dens_rec.size() * lv.bins * lb.bins, 0);
      std::copy(from->density.begin(), from->density.end(), base_density.begin());
      for (auto [b, v, f] : {std::tuple{&base_cv_plus, &from->cross_v_plus, fv}, std::tuple{&base_cv_minus, &from->cross_v_minus, fv},
                             std::tuple{&base_cb_plus, &from->cross_b_plus, fb}, std::tuple{&base_cb_minus, &from->cross_b_minus, fb}}) {
        b->assign(R * f, 0);
        std::copy(v->begin(), v->end(), b->begin());
      }
    } else if (!from->density.empty() || !from->cross_v_plus.empty()) {
      bad("has parameter-space fields (another --grid-v/--grid-b)");
    }
  }

  DataSource data(c, opt.seed);
  std::vector<double> probe_x(size_t(std::max(opt.probe, 0)) * M);
  for (int k = 0; k < opt.probe; ++k) data.probe(k, &probe_x[size_t(k) * M]);

  std::vector<FieldAcc> facc(threads);
  for (auto& f : facc) {
    f.density.assign(grid_on ? dens_rec.size() * lv.bins * lb.bins : 0, 0);
    f.dvp.assign(grid_on ? R * (fv + 1) : 0, 0);
    f.dvm = f.dvp;
    f.dbp.assign(grid_on ? R * (fb + 1) : 0, 0);
    f.dbm = f.dbp;
  }

  // MPI ranks: this rank trains the networks [mine.first, mine.first + mine.count); the results
  // are shared with every rank at assemble() (copies of per-network values, integer sums of the
  // fields), so every rank returns the result of one process.
  const bool ranks = opt.split_over_ranks && mpi::distributed();
  const mpi::Range mine = ranks ? mpi::split(std::uint64_t(E), 1, mpi::rank(), mpi::size()) : mpi::Range{0, std::uint64_t(E)};
  Progress progress("net " + spec.name, mine.count * (T - t_start), opt.progress);
  std::uint64_t done = 0;
  const auto start = std::chrono::steady_clock::now();

  // The run's result at step tr (the end, or a block boundary: its state, with the records complete
  // at tr). The fields are integer sums (over threads, ranks, and with the resumed state's): exact.
  auto assemble = [&](std::uint64_t tr) {
    RunResult out;
    out.spec = spec;
    const size_t rows = tr == T ? R : tr / K;
    out.t.assign(res.t.begin(), res.t.begin() + std::ptrdiff_t(rows));
    auto src = res.columns();
    auto dst = out.columns();
    for (size_t k = 0; k < src.size(); ++k)
      if (!src[k].second->empty()) dst[k].second->assign(src[k].second->begin(), src[k].second->begin() + std::ptrdiff_t(rows * E));
    out.diverged_at = res.diverged_at;
    out.final_W = res.final_W;
    out.final_b = res.final_b;
    out.final_V = res.final_V;
    if (ranks) {
      for (auto& col : out.columns())
        if (!col.second->empty()) mpi::share_items(*col.second, rows, size_t(E), 1);
      mpi::share_items(out.diverged_at, 1, size_t(E), 1);
      mpi::share_items(out.final_W, 1, size_t(E), size_t(N) * M);
      mpi::share_items(out.final_b, 1, size_t(E), size_t(N));
      mpi::share_items(out.final_V, 1, size_t(E), size_t(N));
    }
    out.final_params.assign(size_t(E) * PG, kNaN);
    for (int e = 0; e < E; ++e) {  // the same parameters in the generic backend's block layout (W row-major, b if any, V)
      double* q = &out.final_params[size_t(e) * PG];
      for (size_t i = 0; i < size_t(N) * M; ++i) *q++ = out.final_W[size_t(e) * N * M + i];
      if (c.biases())
        for (int i = 0; i < N; ++i) *q++ = out.final_b[size_t(e) * N + i];
      for (int i = 0; i < N; ++i) *q++ = out.final_V[size_t(e) * N + i];
    }
    if (grid_on) {
      FieldAcc tot = facc[0];
      for (int th = 1; th < threads; ++th) {
        for (size_t i = 0; i < tot.density.size(); ++i) tot.density[i] += facc[th].density[i];
        for (size_t i = 0; i < tot.dvp.size(); ++i) { tot.dvp[i] += facc[th].dvp[i]; tot.dvm[i] += facc[th].dvm[i]; }
        for (size_t i = 0; i < tot.dbp.size(); ++i) { tot.dbp[i] += facc[th].dbp[i]; tot.dbm[i] += facc[th].dbm[i]; }
      }
      if (ranks) {
        mpi::allreduce_sum(tot.density);
        for (auto* d : {&tot.dvp, &tot.dvm, &tot.dbp, &tot.dbm}) mpi::allreduce_sum(*d);
      }
      const size_t cells = size_t(lv.bins) * lb.bins;
      for (size_t k = 0; k < dens_rec.size() && dens_rec[k] < rows; ++k) {
        out.density_t.push_back(dens_rec[k] * K);
        for (size_t i = 0; i < cells; ++i)
          out.density.push_back(tot.density[k * cells + i] + (base_density.empty() ? 0 : base_density[k * cells + i]));
      }
      auto prefix = [&](const std::vector<std::int64_t>& d, int f, const std::vector<std::uint64_t>& base) {
        std::vector<std::uint64_t> o(rows * f);
        for (std::uint64_t r = 0; r < rows; ++r) {
          std::int64_t s = 0;
          for (int k = 0; k < f; ++k) {
            s += d[r * (f + 1) + k];
            o[r * f + k] = std::uint64_t(s) + (base.empty() ? 0 : base[r * f + k]);
          }
        }
        return o;
      };
      out.cross_v_plus = prefix(tot.dvp, fv, base_cv_plus);
      out.cross_v_minus = prefix(tot.dvm, fv, base_cv_minus);
      out.cross_b_plus = prefix(tot.dbp, fb, base_cb_plus);
      out.cross_b_minus = prefix(tot.dbm, fb, base_cb_minus);
    }
    out.t_reached = tr;
    out.complete = tr == T;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.seconds = (from ? from->seconds : 0.0) + (ranks ? mpi::max_all(secs) : secs);  // (the slowest rank's)
    return out;
  };

  // The run goes by blocks of steps [t0, t1) between record boundaries (net/state.hpp): each
  // network is trained through the block in one go by one thread (its parameters stay in cache);
  // between blocks its parameters wait in final_W/b/V. At a block's end the run may write a
  // checkpoint or stop; a network resumed at t0 recomputes exactly what the uninterrupted loop
  // carried over (the batch of step t0, its forward pass, the cells, |W_i|, the record at t0).
  // The result of the blocks is the result of one block: blocking changes no number.
  if (ranks) mpi::mark_run_started();  // (from here an error may be one rank's: common/mpi.hpp)
  std::uint64_t t0 = t_start;
  while (t0 < T) {
  const std::uint64_t t1 = block_end(opt.blocks, t0, T, K);
  // Exceptions are caught per thread and rethrown once after the region (common/omp_guard.hpp);
  // networks are handed out by a counter (as schedule(dynamic, 1) did), so a thread that fails in
  // its set-up cannot leave the others waiting at a worksharing barrier.
  OmpGuard guard;
  std::atomic<int> next_network{0};
#pragma omp parallel num_threads(threads)
  guard.run([&] {
    const int tid = omp_get_thread_num();
    FieldAcc& fa = facc[tid];
    // Units are padded to P (a multiple of 8) with zero parameters, so that the kernels work on
    // whole 8-double vectors; padded units have h = 0 and never change.
    // One contiguous parameter buffer per network with named blocks, as the generic backend's:
    // "dense0.weight" (here column-major M x P, in strips of 8 units), "dense0.bias" (P), "dense1.weight" (V, P).
    std::vector<double> net(size_t(P) * M + 2 * size_t(P));
    const std::span<double> W(net.data(), size_t(P) * M), b(net.data() + size_t(P) * M, size_t(P)),
        V(net.data() + size_t(P) * M + P, size_t(P));
    std::vector<double> W0(size_t(P) * M), b0(P), V0(P), Winit(size_t(N) * M);
    std::vector<double> X(size_t(B) * M), Xn(size_t(B) * M), Y(B), Yn(B), H(size_t(B) * P), Hn(size_t(B) * P);
    std::vector<double> delta(B), U(size_t(B) * P), gV(P), gb(P), sgV(P), sgb(P), F(size_t(B) * M);
    std::vector<double> a(P), row(P), norms(P), norms_start(P), nrm_next(P);
    double win_dw2 = 0, win_sq = 0, win_mx = 0;
    bool have_next = false;
    std::vector<std::int64_t> cv0(N), cv1(N), cb0(N), cb1(N);

    for (int e = 0; (e = int(mine.first) + next_network.fetch_add(1)) < int(mine.first + mine.count) && !guard.failed();) {
      if (res.diverged_at[e] >= 0) continue;  // diverged in an earlier block: its parameters stay
      // W is kept column-major (W[j*N + i] = W_ij): the forward pass and the rank-B update are then
      // axpy's over the N units, with no horizontal reductions.
      if (t0 == 0) {
        init_network(c, opt.seed, std::uint64_t(e), Params{Winit.data(), b.data(), V.data()});
      } else {  // the parameters at t0, from the previous block (or the resumed state)
        std::copy_n(&res.final_W[size_t(e) * N * M], size_t(N) * M, Winit.begin());
        std::copy_n(&res.final_b[size_t(e) * N], N, b.begin());
        std::copy_n(&res.final_V[size_t(e) * N], N, V.begin());
      }
      for (int i = 0; i < N; ++i)
        for (int j = 0; j < M; ++j) W[size_t(j) * P + i] = Winit[size_t(i) * M + j];
      // Full-batch GD on a fixed training set uses every example exactly once per step.
      const bool full_pass = spec.mode == Mode::full_batch && c.train_size > 0;
      auto load = [&](std::uint64_t t, std::vector<double>& Xb, std::vector<double>& Yb) {
        for (int k = 0; k < B; ++k)
          Yb[k] = full_pass ? data.item(std::uint64_t(k), &Xb[size_t(k) * M])
                            : data.sample(std::uint64_t(e), t, std::uint64_t(k), &Xb[size_t(k) * M]);
      };
      auto forward = [&](const std::vector<double>& Xb, std::vector<double>& Hb) {
        for (int ib = 0; ib < P; ib += 8)
          for (int k = 0; k < B; ++k)
            store8(&Hb[size_t(k) * P + ib], strip_dot(&Xb[size_t(k) * M], &W[ib], P, M, load8(&b[ib])));
      };
      auto unit_norms = [&](std::span<const double> Wc, std::vector<double>& out) {
        std::fill(out.begin(), out.end(), 0.0);
        for (int j = 0; j < M; ++j) {
          const double* col = &Wc[size_t(j) * P];
#pragma omp simd
          for (int i = 0; i < P; ++i) out[i] += col[i] * col[i];
        }
        for (auto& v : out) v = std::sqrt(v);
      };
      load(t0, X, Y);
      forward(X, H);
      for (int i = 0; i < N; ++i) { cv0[i] = lv.cell(V[i]); cb0[i] = lb.cell(b[i]); }
      // Window sums.
      double s_loss = 0, s_act = 0, s_p = 0, s_c2 = 0, s_gv = 0, s_gb = 0, s_gw = 0;
      std::uint64_t w_steps = 0;
      bool dead = false;
      auto record_params = [&](std::uint64_t r) {
        const size_t idx = size_t(r) * E + e;
        double vn = 0, bm = 0, bs = 0, wn = 0;
        if (have_next) norms = nrm_next; else unit_norms(W, norms);
        norms_start = norms;
        for (int i = 0; i < N; ++i) {
          vn += V[i] * V[i];
          bm += b[i];
          wn += norms[i];
        }
        bm /= N;
        for (int i = 0; i < N; ++i) bs += (b[i] - bm) * (b[i] - bm);
        res.v_norm[idx] = std::sqrt(vn);
        res.bias_mean[idx] = bm;
        res.bias_std[idx] = std::sqrt(bs / N);
        res.w_norm[idx] = wn / N;
        if (opt.probe > 0) {
          std::uint64_t on = 0;
          for (int k = 0; k < opt.probe; ++k) {
            std::copy_n(b.data(), N, a.data());
            for (int j = 0; j < M; ++j)
              for (int i = 0; i < N; ++i) a[i] += probe_x[size_t(k) * M + j] * W[size_t(j) * P + i];
            for (int i = 0; i < N; ++i) on += a[i] > 0;
          }
          res.probe_activation[idx] = double(on) / (double(opt.probe) * N);
        }
        if (grid_on) {
          const auto it = std::lower_bound(dens_rec.begin(), dens_rec.end(), r);
          if (it != dens_rec.end() && *it == r) {
            const size_t s = size_t(it - dens_rec.begin());
            for (int i = 0; i < N; ++i) {
              const auto cv = lv.cell(V[i]), cb = lb.cell(b[i]);
              if (cv >= 0 && cv < lv.bins && cb >= 0 && cb < lb.bins)
                ++fa.density[(s * lv.bins + cv) * lb.bins + cb];
            }
          }
        }
        if (!have_next) W0.assign(W.begin(), W.end());  // otherwise copied by the fused pass of finish_window
        have_next = false;
        b0.assign(b.begin(), b.end()); V0.assign(V.begin(), V.end());
        std::fill(sgV.begin(), sgV.end(), 0.0);
        std::fill(sgb.begin(), sgb.end(), 0.0);
        s_loss = s_act = s_p = s_c2 = s_gv = s_gb = s_gw = 0;
        w_steps = 0;
      };
      auto finish_window = [&](std::uint64_t r) {
        const size_t idx = size_t(r) * E + e;
        // One pass over W: |W - W0|^2 (gradient variance), |W_i| (next record), sum and max of W^2
        // (divergence), and W0 <- W for the next window.
        {
          double dw2 = 0, sq = 0, mx = 0;
          std::fill(nrm_next.begin(), nrm_next.end(), 0.0);
          for (int j = 0; j < M; ++j) {
            double* __restrict w0 = &W0[size_t(j) * P];
            const double* __restrict w1 = &W[size_t(j) * P];
            double* __restrict nn = nrm_next.data();
#pragma omp simd reduction(+ : dw2, sq) reduction(max : mx)
            for (int i = 0; i < P; ++i) {
              const double d = w1[i] - w0[i];
              dw2 += d * d;
              sq += w1[i] * w1[i];
              mx = std::max(mx, w1[i] * w1[i]);
              nn[i] += w1[i] * w1[i];
              w0[i] = w1[i];
            }
          }
          for (auto& v : nrm_next) v = std::sqrt(v);
          win_dw2 = dw2;
          win_sq = sq;
          win_mx = mx;
          have_next = true;
        }
        const double n = double(w_steps);
        res.loss[idx] = s_loss / (n * B);
        res.activation_rate[idx] = s_act / (n * B * N);
        res.p_mean[idx] = s_p / (n * B);
        res.c2[idx] = s_c2 / (n * B);
        if (w_steps >= 2) {
          // Trace of the covariance of the mini-batch gradient: mean |g_t|^2 - |mean g_t|^2, with
          // the mean gradient of W from the net displacement (all of W moved by -eta g_t).
          double mv = 0, mb = 0;
          for (int i = 0; i < N; ++i) { mv += sgV[i] * sgV[i]; mb += sgb[i] * sgb[i]; }
          const double mw = win_dw2;
          const double f = n / (n - 1);
          res.grad_var_v[idx] = f * (s_gv / n - mv / (n * n));
          res.grad_var_b[idx] = c.biases() ? f * (s_gb / n - mb / (n * n)) : kNaN;
          res.grad_var_w[idx] = f * (s_gw / n - mw / (eta * eta * n * n));
        }
        if (c.data == Data::gaussian && r % 10 == 0) {
          // Eq. 27 (every 10th record) at the window's start parameters: phi_1, phi_2 from h = w.x + b ~ N(b, |w|^2)
          // (exact for x ~ N(0, I)) times the measured E(p-y)^2 (the paper's independence assumption).
          double db = 0, dv2 = 0;
          const double c2 = res.c2[idx];
          for (int i = 0; i < N; ++i) {  // eq27_unit: validation/THEORY.md, tested in test_report.cpp
            const auto u = eq27_unit(b0[i], norms_start[i], V0[i], c2, eta, B);
            db += u.b_drift;
            dv2 += u.v2_drift;
          }
          res.eq27_b_drift[idx] = db / N;
          res.eq27_v2_drift[idx] = dv2 / N;
        }
      };

      have_next = false;  // nothing carried over from the previous network of this thread
      record_params(t0 / K);
      for (std::uint64_t t = t0; t < t1 && !dead; ++t) {
        const std::uint64_t r = t / K;
        // Forward (H given), loss, output error.
        double act = 0;
        for (int k = 0; k < B; ++k) {
          const double* h = &H[size_t(k) * P];
          for (int i = 0; i < N; ++i) { a[i] = std::max(h[i], 0.0); act += h[i] > 0; }
          const double f = dot(V.data(), a.data(), N), y = Y[k];
          double p, l;
          if (c.loss == Loss::bce) { p = sigmoid(f); l = bce(f, y); }
          else { p = f; l = 0.5 * (f - y) * (f - y); }
          delta[k] = (p - y) / B;
          s_loss += l;
          s_p += (c.loss == Loss::bce ? p : sigmoid(f));
          s_c2 += (p - y) * (p - y);
          for (int i = 0; i < N; ++i) U[size_t(k) * P + i] = h[i] > 0 ? delta[k] * V[i] : 0.0;
        }
        s_act += act;
        if (!std::isfinite(s_loss)) { dead = true; res.diverged_at[e] = std::int64_t(t); break; }
        // Gradients of V and b; |g|^2 of each group.
        std::fill(gV.begin(), gV.end(), 0.0);
        std::fill(gb.begin(), gb.end(), 0.0);
        for (int k = 0; k < B; ++k) {
          const double* h = &H[size_t(k) * P];
          for (int i = 0; i < N; ++i) gV[i] += delta[k] * std::max(h[i], 0.0);
          for (int i = 0; i < N; ++i) gb[i] += U[size_t(k) * P + i];
        }
        double ngv = 0, ngb = 0;
        for (int i = 0; i < N; ++i) { ngv += gV[i] * gV[i]; ngb += gb[i] * gb[i]; sgV[i] += gV[i]; sgb[i] += gb[i]; }
        // |gW|^2 with gW = sum_k U_k x_k^T: by the Gram identity sum_{k,k'} (U_k.U_k')(x_k.x_k') for
        // small batches (O(B^2 (N+M))), by forming gW row by row for large ones (O(B N M)).
        double ngw = 0;
        if (double(B) * (N + M) <= double(N) * M) {
          for (int k = 0; k < B; ++k)
            for (int k2 = k; k2 < B; ++k2) {
              const double v =
                  dot(&U[size_t(k) * P], &U[size_t(k2) * P], N) * dot(&X[size_t(k) * M], &X[size_t(k2) * M], M);
              ngw += (k == k2 ? 1.0 : 2.0) * v;
            }
        } else {
          for (int j = 0; j < M; ++j) {
            std::fill(row.begin(), row.end(), 0.0);
            for (int k = 0; k < B; ++k) {
              const double xj = X[size_t(k) * M + j];
              const double* u = &U[size_t(k) * P];
#pragma omp simd
              for (int i = 0; i < N; ++i) row[i] += xj * u[i];
            }
            ngw += dot(row.data(), row.data(), N);
          }
        }
        s_gv += ngv; s_gb += ngb; s_gw += ngw;
        ++w_steps;
        // Next batch, then the fused update of step t and forward pass of step t+1.
        const bool more = t + 1 < t1;
        if (more) load(t + 1, Xn, Yn);
        for (int i = 0; i < N; ++i) {
          if (c.biases()) b[i] -= eta * gb[i];
          if (spec.mode != Mode::frozen_v) V[i] -= eta * gV[i];
        }
        if (grid_on) {
          // Cells of the new (V_i, b_i) (a vectorisable pass); crossings only where a cell changed.
          for (int i = 0; i < N; ++i) { cv1[i] = lv.cell(V[i]); cb1[i] = lb.cell(b[i]); }
          for (int i = 0; i < N; ++i) {
            if (cv1[i] != cv0[i])
              count_crossings(Boundary::free, lv.bins, cv0[i], cv1[i], &fa.dvp[r * (fv + 1)], &fa.dvm[r * (fv + 1)]);
            if (cb1[i] != cb0[i])
              count_crossings(Boundary::free, lb.bins, cb0[i], cb1[i], &fa.dbp[r * (fb + 1)], &fa.dbm[r * (fb + 1)]);
          }
          std::swap(cv0, cv1);
          std::swap(cb0, cb1);
        }
        // Fused: the rank-B update of a strip of 8 units (W[., ib..ib+7] += sum_k F_kj U_k) and, while
        // the strip is in L1, the forward pass of the next batch for those units (register blocked).
        for (size_t q = 0; q < F.size(); ++q) F[q] = -eta * X[q];
        for (int ib = 0; ib < P; ib += 8) {
          int j = 0;
          for (; j + 4 <= M; j += 4) {  // four rows at once: independent FMA chains over k
            double* w = &W[size_t(j) * P + ib];
            v8 a0 = load8(w), a1 = load8(w + P), a2 = load8(w + 2 * P), a3 = load8(w + 3 * P);
            for (int k = 0; k < B; ++k) {
              const v8 u = load8(&U[size_t(k) * P + ib]);
              const double* f = &F[size_t(k) * M + j];
              a0 += f[0] * u; a1 += f[1] * u; a2 += f[2] * u; a3 += f[3] * u;
            }
            store8(w, a0); store8(w + P, a1); store8(w + 2 * P, a2); store8(w + 3 * P, a3);
          }
          for (; j < M; ++j) {
            double* w = &W[size_t(j) * P + ib];
            v8 acc = load8(w);
            for (int k = 0; k < B; ++k) acc += F[size_t(k) * M + j] * load8(&U[size_t(k) * P + ib]);
            store8(w, acc);
          }
          if (more)
            for (int k = 0; k < B; ++k)
              store8(&Hn[size_t(k) * P + ib], strip_dot(&Xn[size_t(k) * M], &W[ib], P, M, load8(&b[ib])));
        }
        std::swap(X, Xn);
        std::swap(Y, Yn);
        std::swap(H, Hn);
        if ((t + 1) % K == 0 || t + 1 == T) {
          finish_window(r);
          // Divergence: any |parameter| above the threshold, or a non-finite one (the sum of squares
          // is then not finite).
          double sq = win_sq, mx = win_mx;
          for (int i = 0; i < N; ++i) { sq += V[i] * V[i] + b[i] * b[i]; mx = std::max({mx, V[i] * V[i], b[i] * b[i]}); }
          if (!std::isfinite(sq) || !(mx < opt.blowup * opt.blowup)) { dead = true; res.diverged_at[e] = std::int64_t(t + 1); break; }
          if (t + 1 < t1) record_params(r + 1);
        }
      }
      if (dead) {
        // A diverged network contributes no statistics: its records from the divergence on are NaN.
        const std::uint64_t from = std::uint64_t(res.diverged_at[e]) / K;
        for (std::uint64_t rr = from; rr < R; ++rr)
          for (auto* v : {&res.activation_rate, &res.v_norm, &res.bias_mean, &res.bias_std, &res.w_norm, &res.loss,
                          &res.p_mean, &res.grad_var_v, &res.grad_var_b, &res.grad_var_w, &res.c2,
                          &res.eq27_b_drift, &res.eq27_v2_drift})
            (*v)[size_t(rr) * E + e] = kNaN;
      }
      for (int i = 0; i < N; ++i) {
        for (int j = 0; j < M; ++j) res.final_W[(size_t(e) * N + i) * M + j] = W[size_t(j) * P + i];
        res.final_b[size_t(e) * N + i] = b[i];
        res.final_V[size_t(e) * N + i] = V[i];
      }
#pragma omp critical
      {
        done += t1 - t0;
        progress.update(done, double(done));
      }
    }
  });
  if (ranks) mpi::agree(guard.error());  // the lowest failing rank's error, on every rank
  guard.rethrow();
  t0 = t1;
  if (t0 >= T) break;
  const bool stop = opt.blocks.stops_at(t0);
  if (ranks ? mpi::max_all(std::int64_t(stop)) != 0 : stop) break;  // (a signal to any rank stops them all)
  if (opt.blocks.checkpoint_due(t0) && opt.on_checkpoint) opt.on_checkpoint(assemble(t0));
  }
  progress.finish();
  return assemble(t0);
}

}  // namespace soret::net
