#include "soret/net/deep_trainer.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include "soret/common/mpi.hpp"
#include "soret/common/omp_guard.hpp"
#include "soret/common/error.hpp"
#include "soret/common/progress.hpp"
#include "soret/common/interrupt.hpp"
#include "soret/net/hessian.hpp"

namespace soret::net {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double sigmoid(double f) { return f >= 0 ? 1.0 / (1.0 + std::exp(-f)) : std::exp(f) / (1.0 + std::exp(f)); }

}  // namespace

double loss_and_grad(Loss loss, const double* f, int outputs, int label, double* df, bool* correct) {
  switch (loss) {
    case Loss::bce: {
      const double y = label, z = f[0];
      df[0] = sigmoid(z) - y;
      *correct = (z > 0) == (label == 1);
      return std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::abs(z)));
    }
    case Loss::mse: {
      const double y = label, z = f[0];
      df[0] = z - y;
      *correct = (z > 0.5) == (label == 1);
      return 0.5 * (z - y) * (z - y);
    }
    case Loss::ce: {
      double m = f[0];
      int arg = 0;
      for (int i = 1; i < outputs; ++i)
        if (f[i] > m) { m = f[i]; arg = i; }
      double s = 0;
      for (int i = 0; i < outputs; ++i) { df[i] = std::exp(f[i] - m); s += df[i]; }
      for (int i = 0; i < outputs; ++i) df[i] /= s;
      df[label] -= 1.0;
      *correct = arg == label;
      return m + std::log(s) - f[label];
    }
  }
  return kNaN;
}

DeepRun train_deep(const Architecture& a, const Dataset& train, const Dataset& eval, const RunSpec& spec,
                   const DeepOptions& opt) {
  const int E = opt.ensemble, B = spec.batch, S = opt.grad_samples, O = a.outputs;
  const std::uint64_t T = opt.steps, K = std::max<std::uint64_t>(1, opt.record_every);
  const std::uint64_t R = T / K + 1;  // records at 0, K, 2K, ... <= T
  const size_t P = a.params(), X = a.input.size();
  const double eta = spec.eta;
  const int threads = opt.threads > 0 ? opt.threads : omp_get_max_threads();
  if ((opt.loss == Loss::ce) != (O > 1))
    throw InputError("loss", "--loss ce goes with --classes > 2; bce and mse with one output (--classes 2)");
  if (!(train.input() == a.input)) throw InputError("arch", "the architecture's input does not match the data");
  { Sampler check(train, opt.sampler, B, opt.seed); }  // bad combinations throw here, not inside the threads

  const auto pl = a.param_layers(), hl = a.relu_layers();
  const int L = int(pl.size()), H = int(hl.size());
  std::vector<std::string> lnames, hnames;
  for (int l : pl) lnames.push_back(a.layers[l].name);
  for (int l : hl) hnames.push_back(a.layers[l - 1].name);  // the layer whose pre-activations they are

  DeepRun res;
  res.spec = spec;
  for (std::uint64_t r = 0; r < R; ++r) res.t.push_back(r * K);
  res.rec = Recorder(R, size_t(E));
  const int c_gtrace = res.rec.add("grad_trace_layer", lnames, "",
                                   "sum over the layer's parameters of the unbiased variance of the per-sample gradient over S samples");
  const int c_gvar = res.rec.add("grad_var_layer", lnames, "", "grad_trace_layer / number of parameters of the layer");
  const int c_act = res.rec.add("activation_rate_layer", hnames, "", "fraction of positive pre-activations over the S samples");
  const int c_wn = res.rec.add("weight_norm_layer", lnames, "", "Frobenius norm of the layer's weights (biases excluded)");
  const int c_loss = res.rec.add("loss", {}, "", "mean per-sample loss over the S samples");
  const int c_acc = res.rec.add("accuracy", {}, "", "fraction of the S samples predicted right");
  const int c_gv = res.rec.add("grad_var", {}, "", "sum of grad_trace_layer / number of parameters (all layers)");
  const bool sets = opt.set_metrics && train.size() > 0;
  int c_trl = -1, c_tre = -1, c_tel = -1, c_tee = -1;
  if (sets) {
    c_trl = res.rec.add("train_loss", {}, "", "mean loss over the whole training set");
    c_tre = res.rec.add("train_error", {}, "", "fraction of the training set predicted wrong");
  }
  if (opt.test) {
    if (!(opt.test->input() == a.input)) throw InputError("test-size", "the held-out set's input does not match the architecture");
    c_tel = res.rec.add("test_loss", {}, "", "mean loss over the whole held-out (test) set");
    c_tee = res.rec.add("test_error", {}, "", "fraction of the held-out (test) set predicted wrong");
  }
  const int HE = std::max(0, opt.hessian_every);
  if (HE > 0 && (opt.hessian_probes < 2 || opt.hessian_samples < 1))
    throw InputError("hessian-probes", "--hessian-probes must be >= 2 and --hessian-samples >= 1");
  int c_ht = -1, c_hse = -1, c_gn = -1, c_hd = -1, c_hdse = -1, c_b62 = -1, c_p62 = -1;
  if (HE > 0) {
    c_ht = res.rec.add("hessian_trace", {}, "", "Tr H of the training loss, Hutchinson's estimator (Rademacher probes, exact HVPs)");
    c_hse = res.rec.add("hessian_trace_se", {}, "", "standard error of hessian_trace over the probes");
    c_gn = res.rec.add("gauss_newton_trace", {}, "", "exact Gauss-Newton trace (1/n) sum_k Tr(J_k^T P_k J_k) (Eq. 45-48)");
    c_hd = res.rec.add("hessian_dropped", {}, "", "Tr H - Tr G, the term Eq. 45 drops, paired over the same probes");
    c_hdse = res.rec.add("hessian_dropped_se", {}, "", "standard error of hessian_dropped");
    c_b62 = res.rec.add("eq62_bound", {}, "", "upper bound on Tr H of validation/THEORY.md (the corrected Eq. 62)");
    c_p62 = res.rec.add("eq62_paper", {}, "", "Eq. 62 as printed in the paper (not a bound in general)");
  }
  res.diverged_at.assign(E, -1);
  res.final_params.assign(size_t(E) * P, kNaN);

  // Resume: the state of this run at step t_start (the records before t_start, the parameters at
  // t_start). Between blocks the parameters of the live networks wait in `cur`.
  const DeepRun* from = opt.resume;
  std::uint64_t t_start = 0;
  std::vector<double> cur(size_t(E) * P, kNaN);
  if (from) {
    auto bad = [&](const std::string& what) {
      throw InputError("restart", "--restart: the checkpoint's run " + spec.name + " " + what);
    };
    t_start = from->t_reached;
    if (t_start > T) bad("is at step " + std::to_string(t_start) + ", beyond --steps " + std::to_string(T));
    const size_t rows = from->records();
    const size_t keep = t_start == T ? R : size_t((t_start + K - 1) / K);  // (the record at t_start is made again)
    if (rows != keep && !(t_start < T && t_start % K == 0 && rows == t_start / K + 1))
      bad("has " + std::to_string(rows) + " records at step " + std::to_string(t_start));
    if (from->diverged_at.size() != size_t(E) || from->final_params.size() != size_t(E) * P || from->rec.networks() != size_t(E))
      bad("has parameters of another ensemble size or architecture");
    for (size_t r = 0; r < keep; ++r)
      if (from->t[r] != res.t[r]) bad("has other record times");
    if (from->rec.columns().size() != res.rec.columns().size()) bad("has other record columns");
    for (size_t k = 0; k < res.rec.columns().size(); ++k) {
      const auto& a = from->rec.columns()[k];
      const auto& b = res.rec.columns()[k];
      if (a.name != b.name || a.labels != b.labels || a.v.size() != rows * E * b.width()) bad("has another column " + b.name);
    }
    res.rec.copy_rows(from->rec, keep);
    res.diverged_at = from->diverged_at;
    for (auto d : res.diverged_at)
      if (d < -1 || d > std::int64_t(t_start)) bad("has a divergence step outside [0, t]");
    cur = from->final_params;
  }

  // MPI ranks: this rank trains the networks [mine.first, mine.first + mine.count); assemble()
  // shares every network's records and parameters with every rank (copies: exact), so every rank
  // returns the result of one process.
  const bool ranks = opt.split_over_ranks && mpi::distributed();
  const mpi::Range mine = ranks ? mpi::split(std::uint64_t(E), 1, mpi::rank(), mpi::size()) : mpi::Range{0, std::uint64_t(E)};
  Progress progress("net " + spec.name, mine.count * (T - t_start), opt.progress);
  std::uint64_t done = 0;
  double rec_secs = 0;
  const auto start = std::chrono::steady_clock::now();

  // The run's result at step tr: the records before tr (all of them at the end), the parameters at tr.
  auto assemble = [&](std::uint64_t tr) {
    DeepRun out;
    out.spec = spec;
    const size_t rows = tr == T ? R : size_t((tr + K - 1) / K);
    out.t.assign(res.t.begin(), res.t.begin() + std::ptrdiff_t(rows));
    out.rec = res.rec;
    out.rec.keep_rows(rows);
    out.diverged_at = res.diverged_at;
    out.final_params = cur;
    if (ranks) {
      for (size_t c = 0; c < out.rec.columns().size(); ++c) {
        auto v = out.rec.columns()[c].v;
        mpi::share_items(v, rows, size_t(E), out.rec.columns()[c].width());
        out.rec.set_values(int(c), std::move(v));
      }
      mpi::share_items(out.diverged_at, 1, size_t(E), 1);
      mpi::share_items(out.final_params, 1, size_t(E), P);
    }
    for (int e = 0; e < E; ++e)
      if (out.diverged_at[e] >= 0) std::fill_n(out.final_params.begin() + std::ptrdiff_t(size_t(e) * P), P, kNaN);
    out.t_reached = tr;
    out.complete = tr == T;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.seconds = (from ? from->seconds : 0.0) + (ranks ? mpi::max_all(secs) : secs);  // (the slowest rank's)
    out.record_seconds = (from ? from->record_seconds : 0.0) + (ranks ? mpi::sum_all(rec_secs) : rec_secs);
    return out;
  };

  // (OpenBLAS's OpenMP build runs single-threaded when called inside an OpenMP parallel region)
  bool in_place = true;  // batched SGD steps inside the backward pass (not with strided convolutions)
  for (const auto& l : a.layers)
    if (l.kind == LayerKind::conv2d && l.stride != 1) in_place = false;
  const int chunk = std::max(1, std::min(S, 64));  // record samples per batched pass
  const int ebatch = sets || opt.test ? 64 : 1;     // samples per batched pass over a whole set
  const int nbuf = std::max({B, chunk, ebatch});

  // The run goes by blocks of steps [t0, t1) (net/state.hpp); a network's parameters wait in `cur`
  // between blocks, and every random draw is keyed on the absolute step: blocking changes no number.
  if (ranks) mpi::mark_run_started();  // (from here an error may be one rank's: common/mpi.hpp)
  std::uint64_t t0 = t_start;
  bool first = true;  // (a run of 0 steps still makes its record at step 0)
  while (t0 < T || (first && T == 0 && !from)) {
  first = false;
  const std::uint64_t t1 = block_end(opt.blocks, t0, T, K);
  // Exceptions are caught per thread and rethrown once after the region (common/omp_guard.hpp);
  // networks are handed out by a counter (as schedule(dynamic, 1) did), so a thread that fails in
  // its set-up cannot leave the others waiting at a worksharing barrier.
  OmpGuard guard;
  std::atomic<int> next_network{0};
#pragma omp parallel num_threads(threads) reduction(+ : rec_secs)
  guard.run([&] {
    // OpenBLAS (OpenMP build) runs its products single-threaded inside an active parallel region;
    // a team of one thread is not one, so there the thread count of this task is set to 1 (an ICV
    // of the region's implicit task: it does not outlive the region). Measured: setting it in a
    // team of two makes OpenBLAS reconfigure itself on every call and the threads contend.
    if (omp_get_num_threads() == 1) omp_set_num_threads(1);
    Workspace ws(a);
    BatchWorkspace bws(a, nbuf);
    bws.blas = opt.blas;
    ws.conv = bws.one.conv = opt.conv;
    Sampler sampler(train, opt.sampler, B, opt.seed);
    std::vector<double> p(P), g(P), Xb(size_t(nbuf) * X), dY(size_t(nbuf) * O);
    std::vector<int> yb(nbuf);
    std::vector<double> sq(a.layers.size());
    const auto gkey = rng::make_key(opt.seed, rng::Stream::net_grad_samples);
    // Hessian samples (the training loss of the records' Hessians).
    const bool whole = train.size() > 0 && train.size() <= std::uint64_t(opt.hessian_samples);
    const int nh = HE == 0 ? 0 : whole ? int(train.size()) : opt.hessian_samples;
    std::unique_ptr<HessianWorkspace> hws;
    std::vector<double> Xh;
    std::vector<int> yh;
    if (HE > 0) {
      hws = std::make_unique<HessianWorkspace>(a);
      Xh.resize(size_t(nh) * X);
      yh.resize(size_t(nh));
    }

    // Loss and error of the current parameters over the whole fixed set d.
    auto set_loss = [&](const Dataset& d, double* loss, double* err) {
      double sl = 0;
      std::uint64_t wrong = 0;
      const std::uint64_t n = d.size();
      for (std::uint64_t k0 = 0; k0 < n; k0 += std::uint64_t(ebatch)) {
        const int m = int(std::min<std::uint64_t>(std::uint64_t(ebatch), n - k0));
        for (int q = 0; q < m; ++q) yb[q] = d.item(k0 + std::uint64_t(q), &Xb[size_t(q) * X]);
        forward_batch(a, p.data(), Xb.data(), m, bws);
        const double* F = bws.act.back().data();
        for (int q = 0; q < m; ++q) {
          bool correct = false;
          sl += loss_and_grad(opt.loss, F + size_t(q) * O, O, yb[q], &dY[size_t(q) * O], &correct);
          wrong += !correct;
        }
      }
      *loss = sl / double(n);
      *err = double(wrong) / double(n);
    };

    auto record = [&](int e, std::uint64_t r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int li = 0; li < L; ++li) {
        const Layer& l = a.layers[pl[li]];
        double s = 0;
        for (size_t i = 0; i < l.w_size; ++i) s += p[l.w_off + i] * p[l.w_off + i];
        res.rec.at(c_wn, r, e)[li] = std::sqrt(s);
      }
      if (S >= 2) {
        // Exact per-sample gradients, in batches: g accumulates their sum, sq[l] the sum of their
        // squared norms per layer; the trace of the covariance is (sum |g_k|^2 - |sum g_k|^2 / S) / (S - 1).
        std::fill(g.begin(), g.end(), 0.0);
        std::fill(sq.begin(), sq.end(), 0.0);
        std::vector<std::uint64_t> on(H, 0);
        double sl = 0;
        int ok = 0;
        for (int k0 = 0; k0 < S; k0 += chunk) {
          const int n = std::min(chunk, S - k0);
          for (int q = 0; q < n; ++q) {
            const std::uint64_t k = std::uint64_t(k0 + q);
            double* x = &Xb[size_t(q) * X];
            if (eval.size() == 0) yb[q] = eval.fresh(rng::Stream::net_grad_samples, std::uint64_t(e), r * K, k, x);
            else yb[q] = eval.item(rng::draw(gkey, std::uint64_t(e), r * K, k, 1)[0] % eval.size(), x);
          }
          forward_batch(a, p.data(), Xb.data(), n, bws);
          const double* F = bws.act.back().data();
          for (int q = 0; q < n; ++q) {
            bool correct = false;
            sl += loss_and_grad(opt.loss, F + size_t(q) * O, O, yb[q], &dY[size_t(q) * O], &correct);
            ok += correct;
          }
          for (int hi = 0; hi < H; ++hi) {
            const double* pre = bws.act[hl[hi]].data();
            const size_t m = size_t(n) * a.layers[hl[hi]].in.size();
            std::uint64_t c = 0;
            for (size_t q = 0; q < m; ++q) c += pre[q] > 0;
            on[hi] += c;
          }
          backward_batch(a, p.data(), dY.data(), n, bws, g.data(), 1.0, sq.data());
        }
        double tot = 0;
        for (int li = 0; li < L; ++li) {
          const Layer& l = a.layers[pl[li]];
          double m2 = 0;
          for (size_t i = l.w_off; i < l.w_off + l.w_size; ++i) m2 += g[i] * g[i];
          for (size_t i = l.b_off; i < l.b_off + l.b_size; ++i) m2 += g[i] * g[i];
          const double tr = (sq[pl[li]] - m2 / S) / (S - 1);
          res.rec.at(c_gtrace, r, e)[li] = tr;
          res.rec.at(c_gvar, r, e)[li] = tr / double(a.layer_params(pl[li]));
          tot += tr;
        }
        *res.rec.at(c_gv, r, e) = tot / double(P);
        for (int hi = 0; hi < H; ++hi)
          res.rec.at(c_act, r, e)[hi] = double(on[hi]) / (double(S) * double(a.layers[hl[hi]].in.size()));
        *res.rec.at(c_loss, r, e) = sl / S;
        *res.rec.at(c_acc, r, e) = double(ok) / S;
      }
      if (sets) set_loss(train, res.rec.at(c_trl, r, e), res.rec.at(c_tre, r, e));
      if (opt.test) set_loss(*opt.test, res.rec.at(c_tel, r, e), res.rec.at(c_tee, r, e));
      if (HE > 0 && r % std::uint64_t(HE) == 0) {
        const auto hkey = rng::make_key(opt.seed, rng::Stream::net_hessian_samples);
        for (int k = 0; k < nh; ++k) {
          double* x = &Xh[size_t(k) * X];
          if (whole) yh[k] = train.item(std::uint64_t(k), x);
          else if (train.size() > 0) yh[k] = train.item(rng::draw(hkey, std::uint64_t(e), r, std::uint64_t(k))[0] % train.size(), x);
          else yh[k] = train.fresh(rng::Stream::net_hessian_samples, std::uint64_t(e), r, std::uint64_t(k), x);
        }
        const HessianRecord h = hessian_record(a, p.data(), Xh.data(), yh.data(), nh, opt.loss,
                                               ProbeOptions{opt.hessian_probes, opt.seed, std::uint64_t(e), r}, *hws);
        *res.rec.at(c_ht, r, e) = h.hutchinson.trace;
        *res.rec.at(c_hse, r, e) = h.hutchinson.trace_se;
        *res.rec.at(c_gn, r, e) = h.gn.trace;
        *res.rec.at(c_hd, r, e) = h.hutchinson.residual;
        *res.rec.at(c_hdse, r, e) = h.hutchinson.residual_se;
        *res.rec.at(c_b62, r, e) = h.eq62.bound;
        *res.rec.at(c_p62, r, e) = h.eq62.paper;
      }
      rec_secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };

    for (int e = 0; (e = int(mine.first) + next_network.fetch_add(1)) < int(mine.first + mine.count) && !guard.failed();) {
      if (res.diverged_at[e] >= 0) continue;  // diverged in an earlier block
      if (t0 > 0) std::copy_n(cur.begin() + std::ptrdiff_t(size_t(e) * P), P, p.begin());
      else if (opt.init.kind == Init::Kind::pytorch) init_pytorch(a, opt.seed, std::uint64_t(e), p.data());
      else init_gaussian(a, opt.init.sw, opt.init.sb, opt.init.sv, opt.seed, std::uint64_t(e), p.data());
      std::int64_t dead = -1;
      for (std::uint64_t t = t0; t < t1; ++t) {
        if (t % K == 0) {
          record(e, t / K);
          double mx = 0, sq = 0;
          for (double v : p) { mx = std::max(mx, std::abs(v)); sq += v * v; }
          if (!std::isfinite(sq) || !(mx < opt.blowup)) { dead = std::int64_t(t); break; }
        }
        double sl = 0;
        for (int k = 0; k < B; ++k) yb[k] = sampler.draw(std::uint64_t(e), t, std::uint64_t(k), &Xb[size_t(k) * X]);
        if (B == 1) {  // the SGD step in place, inside the backward pass
          const double* f = forward(a, p.data(), Xb.data(), ws);
          bool correct = false;
          sl = loss_and_grad(opt.loss, f, O, yb[0], dY.data(), &correct);
          if (!std::isfinite(sl)) { dead = std::int64_t(t); break; }
          backward(a, p.data(), dY.data(), ws, p.data(), -eta);
          continue;
        }
        if (B >= opt.batched_from) {
          forward_batch(a, p.data(), Xb.data(), B, bws);
          const double* F = bws.act.back().data();
          for (int k = 0; k < B; ++k) {
            bool correct = false;
            sl += loss_and_grad(opt.loss, F + size_t(k) * O, O, yb[k], &dY[size_t(k) * O], &correct);
          }
          if (!std::isfinite(sl)) { dead = std::int64_t(t); break; }
          if (in_place) {
            backward_batch(a, p.data(), dY.data(), B, bws, p.data(), -eta / B);
            continue;
          }
          std::fill(g.begin(), g.end(), 0.0);
          backward_batch(a, p.data(), dY.data(), B, bws, g.data(), 1.0 / B);
        } else {
          std::fill(g.begin(), g.end(), 0.0);
          for (int k = 0; k < B; ++k) {
            const double* f = forward(a, p.data(), &Xb[size_t(k) * X], ws);
            bool correct = false;
            sl += loss_and_grad(opt.loss, f, O, yb[k], dY.data(), &correct);
            backward(a, p.data(), dY.data(), ws, g.data(), 1.0 / B);
          }
        }
        if (!std::isfinite(sl)) { dead = std::int64_t(t); break; }
        double* __restrict pp = p.data();
        const double* __restrict gg = g.data();
#pragma omp simd
        for (size_t i = 0; i < P; ++i) pp[i] -= eta * gg[i];
      }
      if (dead < 0 && t1 == T && T % K == 0) {
        record(e, T / K);
        double mx = 0, sq = 0;
        for (double v : p) { mx = std::max(mx, std::abs(v)); sq += v * v; }
        if (!std::isfinite(sq) || !(mx < opt.blowup)) dead = std::int64_t(T);
      }
      if (dead >= 0) {
        res.diverged_at[e] = dead;
        res.rec.invalidate(size_t(e), size_t(dead / std::int64_t(K)));
      } else {
        std::copy(p.begin(), p.end(), cur.begin() + std::ptrdiff_t(size_t(e) * P));
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
