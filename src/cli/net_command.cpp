// `soret net`: SGD on ensembles of two-layer ReLU networks, sweeps over eta and |B|, scaling study.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <functional>
#include <tuple>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "soret/common/budget.hpp"
#include "soret/common/error.hpp"
#include "soret/common/mpi.hpp"
#include "soret/io/atomic_file.hpp"
#include "soret/common/progress.hpp"
#include "soret/io/hdf5.hpp"
#include "soret/io/walk_output.hpp"
#include "soret/walk/model.hpp"
#include "soret/io/net_output.hpp"
#include "soret/io/net_state.hpp"
#include "soret/io/checkpoint.hpp"
#include "soret/common/interrupt.hpp"
#include "soret/net/state.hpp"
#include "cli/restart_options.hpp"
#include "soret/net/dataset.hpp"
#include "soret/net/eq8.hpp"
#include "soret/net/deep_study.hpp"
#include "soret/net/generalization.hpp"
#include "soret/net/scaling.hpp"
#include "soret/net/trainer.hpp"
#include "soret/version.hpp"

namespace po = boost::program_options;

namespace soret::cli {

namespace {

using namespace soret::net;

std::string fmtd(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

/// An all-diverged run is reported (its analyses have nothing to work on), not a crash.
template <typename V>
void warn_if_all_diverged(const std::string& name, const V& diverged_at) {
  std::size_t n = 0;
  for (auto d : diverged_at) n += d >= 0;
  if (n > 0 && n == diverged_at.size() && mpi::root())
    std::fprintf(stderr, "soret net: warning: run %s: every network (%zu) diverged; its collapse and rate fits are empty\n",
                 name.c_str(), n);
}

struct Study {
  NetConfig cfg;
  std::vector<double> etas;
  std::vector<int> batches;
  TrainOptions opt;
  bool compare = false;
  int full_batch = 1024;
  int compare_ensemble = 128;  ///< networks of the mechanism runs (the first min(E, this))
  std::uint64_t early = 0;
  int bootstrap = 200;
};

/// Record period (steps) of every part of --study paper, and of --study deep --study-size tiny.
constexpr std::uint64_t kPaperRecordEvery = 20, kDeepTinyRecordEvery = 5;

/// Runaway growth: ||V||_2 above this factor times its value at t = 0 (see runaway_at).
constexpr double kRunawayFactor = 100.0;

struct StudyOutput {
  std::vector<RunResult> runs;
  std::vector<std::vector<std::int64_t>> runaway;  ///< per run: runaway_at per network
  /// Eq. 8 measured (per-sample steps of (V_i, sign(V_i) b_i)) at the largest eta, |B| = 1: after
  /// one step (t = 1) and at the end; empty without biases.
  std::vector<std::pair<std::uint64_t, Eq8Steps>> eq8;
  double eq8_eta = 0;
  std::vector<Collapse> collapses;
  std::vector<EarlyRate> rates;
  std::vector<PowerFit> fits;
};

/// Memory of a two-layer sweep, from its options: per-thread work arrays (batch x inputs,
/// batch x hidden, hidden x inputs), the records and final parameters of every run (all runs are
/// kept until the file is written, and the file is built in memory), the bootstrap.
MemoryEstimate estimate_twolayer_memory(const Study& s) {
  MemoryEstimate e;
  const double M = s.cfg.M, N = s.cfg.N, P = double((s.cfg.N + 7) / 8 * 8), E = s.opt.ensemble;
  const double threads = s.opt.threads > 0 ? s.opt.threads : omp_get_max_threads();
  double B = 0;
  for (int b : s.batches) B = std::max(B, double(b));
  if (s.compare) B = std::max(B, s.cfg.train_size > 0 ? double(s.cfg.train_size) : double(s.full_batch));
  const double R = double((s.opt.steps + s.opt.record_every - 1) / s.opt.record_every);
  const double bv = s.opt.grid_bins_v, bb = s.opt.grid_bins_b, grid = bv > 0 && bb > 0 ? 1.0 : 0.0;
  const double fields = grid * (10 * bv * bb + R * (bv + bb + 4) * 2) * 8.0;
  e.add("per-thread work arrays", threads * (8.0 * (3 * P * M + N * M + 4 * B * M + 4 * B * P + 20 * P + 4 * N) + fields));
  const double runs = double(s.etas.size() * s.batches.size()) + (s.compare ? 2.0 : 0.0);
  const double per_run = R * E * 18 * 8.0 + E * (N * M + 2 * N) * 8.0 + fields + double(s.opt.probe) * M * 8.0;
  e.add("records and final parameters of the runs", runs * per_run * 2 /* results, and the file image (h5::AtomicFile) */);
  e.add("bootstrap", double(s.bootstrap) * (8.0 + E * 4.0));
  return e;
}

std::uint64_t early_window(const Study& s) {
  return s.early > 0 ? s.early : std::max<std::uint64_t>(s.opt.record_every * 6, s.opt.steps / 10);
}

/// Options of the mechanism runs (--compare): the early window only, on the first
/// min(E, compare_ensemble) networks.
TrainOptions compare_options(const Study& s) {
  TrainOptions copt = s.opt;
  copt.steps = std::min(s.opt.steps, early_window(s) + s.opt.record_every);
  copt.ensemble = std::min(s.opt.ensemble, s.compare_ensemble);
  return copt;
}

/// Wall seconds per network-step of a run of `s` in `mode` at batch B, from two short runs with the
/// same options (2 x threads networks, a and 2a steps): the difference of their times, so that the
/// fixed cost of a run (threads, buffers) does not count as per-step cost. a starts at
/// min(T/2, 200) and doubles (up to T/2) until the longer run takes 0.2 s, so that tiny nets are
/// not timed on a millisecond.
double seconds_per_network_step(const Study& s, int B, Mode mode) {
  TrainOptions o = s.opt;
  o.progress = false;
  o.split_over_ranks = false;  // (timed on rank 0 alone: the estimate is printed by rank 0)
  const int th = o.threads > 0 ? o.threads : omp_get_max_threads();
  o.ensemble = std::max(2, std::min(s.opt.ensemble, 2 * th));
  std::uint64_t a = std::max<std::uint64_t>(1, std::min<std::uint64_t>(s.opt.steps / 2, 200));
  RunSpec sp;
  sp.eta = s.etas[0];
  sp.batch = B;
  sp.mode = mode;
  sp.full_batch = s.full_batch;
  sp.name = "calibration";
  auto time = [&](std::uint64_t steps) {
    o.steps = steps;
    o.record_every = std::min(s.opt.record_every, steps);
    return train(s.cfg, sp, o).seconds;
  };
  double t1 = time(a), t2 = time(2 * a);
  while (t2 < 0.2 && 2 * a <= s.opt.steps / 2) {
    a *= 2;
    t1 = t2;
    t2 = time(2 * a);
  }
  const double per = t2 > t1 ? (t2 - t1) / double(a) : t2 / double(2 * a);
  return per / double(o.ensemble);
}

struct Estimate {
  double network_steps = 0, seconds = 0, compare_seconds = 0;
};

/// Size and expected training time of the sweep of s (study_jobs), from short calibration runs.
Estimate estimate(const Study& s) {
  Estimate est;
  for (int B : s.batches) {
    const double n = double(s.etas.size()) * double(s.opt.ensemble) * double(s.opt.steps);
    est.network_steps += n;
    est.seconds += n * seconds_per_network_step(s, B, Mode::sgd);
  }
  if (s.compare) {
    const auto c = compare_options(s);
    const double n = double(c.ensemble) * double(c.steps);
    est.network_steps += 2 * n;
    est.compare_seconds = n * (seconds_per_network_step(s, s.batches[0], Mode::full_batch) +
                               seconds_per_network_step(s, s.batches[0], Mode::frozen_v));
  }
  est.seconds /= mpi::size();  // (MPI ranks share the networks)
  est.compare_seconds /= mpi::size();
  return est;
}

void print_estimate(const char* what, const Study& s, const Estimate& e) {
  std::printf("%s: %zu run(s) x %d networks x %llu steps%s = %.3g network-steps; expected about %.0f s of training",
              what, s.etas.size() * s.batches.size(), s.opt.ensemble, (unsigned long long)s.opt.steps,
              s.compare ? " + 2 mechanism runs" : "", e.network_steps, e.seconds + e.compare_seconds);
  if (s.compare) std::printf(" (mechanism runs, --compare: %.0f s)", e.compare_seconds);
  std::printf(" (from two short calibration runs)\n");
  std::fflush(stdout);
}

/// One run of a two-layer sweep: the (eta, |B|) runs, then the mechanism runs (--compare).
struct Job {
  RunSpec spec;
  TrainOptions opt;
};

std::vector<Job> study_jobs(const Study& s) {
  std::vector<Job> jobs;
  for (const RunSpec& spec : sweep_specs(s.etas, s.batches)) jobs.push_back({spec, s.opt});
  if (s.compare) {
    // The mechanism: same initial states and data streams; full-batch GD and frozen V at the
    // largest eta and the first batch size. Only the early-time rates are compared, so these runs
    // cover the early window only, on the first min(E, compare_ensemble) networks.
    const double eta = *std::max_element(s.etas.begin(), s.etas.end());
    for (Mode m : {Mode::full_batch, Mode::frozen_v}) {
      RunSpec spec;
      spec.eta = eta;
      spec.batch = s.batches[0];
      spec.mode = m;
      spec.full_batch = s.full_batch;
      spec.name = std::string(m == Mode::full_batch ? "gd" : "frozenV") + "_eta=" + fmtd(eta);
      jobs.push_back({spec, compare_options(s)});
    }
  }
  return jobs;
}

/// The line printed after a run of the sweep.
void print_run(const Job& j, const RunResult& r) {
  if (j.spec.mode != Mode::sgd) {
    std::printf("  run %-22s %6.2f s  (%d networks, %llu steps)\n", j.spec.name.c_str(), r.seconds, j.opt.ensemble,
                (unsigned long long)j.opt.steps);
    return;
  }
  const auto ra = runaway_at(r, kRunawayFactor);
  int div = 0, run = 0;
  for (auto d : r.diverged_at) div += d >= 0;
  for (auto d : ra) run += d >= 0;
  std::printf("  run %-22s %6.2f s  %8.0f network-steps/s  diverged %d/%d, runaway %d/%d\n", j.spec.name.c_str(),
              r.seconds, double(j.opt.ensemble) * double(j.opt.steps) / r.seconds, div, j.opt.ensemble, run,
              j.opt.ensemble);
}

/// The analyses of a sweep whose runs (study_jobs order) are in out.runs.
void analyse_study(const Study& s, StudyOutput& out);

void analyse_study(const Study& s, StudyOutput& out) {
  out.runaway.clear();
  for (const auto& r : out.runs) out.runaway.push_back(runaway_at(r, kRunawayFactor));
  const std::uint64_t early = early_window(s);
  if (s.cfg.biases() && s.cfg.data == Data::gaussian) {
    // Eq. 8: the covariance of the (V_i, sign(V_i) b_i) steps against its shared-sign form, from
    // per-sample |B| = 1 steps at the parameters after one step and at the end (largest eta).
    const double eta = *std::max_element(s.etas.begin(), s.etas.end());
    for (const auto& r : out.runs)
      if (r.spec.eta == eta && r.spec.batch == s.batches[0]) {
        TrainOptions o1 = s.opt;
        o1.steps = 1;
        o1.record_every = 1;
        o1.progress = false;
        const auto r1 = train(s.cfg, r.spec, o1);
        const std::size_t E = r.diverged_at.size();
        out.eq8_eta = eta;
        out.eq8.push_back({1, eq8_step_covariance(s.cfg, r1.final_W, r1.final_b, r1.final_V, E, 4096, s.opt.seed)});
        out.eq8.push_back({s.opt.steps, eq8_step_covariance(s.cfg, r.final_W, r.final_b, r.final_V, E, 4096, s.opt.seed)});
        break;
      }
  }
  struct Q { const char* name; Field f; bool square; };
  const Q qs[] = {{"activation_rate", &RunResult::activation_rate, false},
                  {"v_norm", &RunResult::v_norm, false},
                  {"v_norm_sq", &RunResult::v_norm, true},
                  {"bias_mean", &RunResult::bias_mean, false}};
  for (const auto& r : out.runs)
    for (const auto& q : qs)
      if (std::string(q.name) != "v_norm" && (s.cfg.biases() || std::string(q.name) != "bias_mean"))
        out.rates.push_back(early_rate(r, q.f, q.name, q.square, early));
  // Every analysis runs along eta (one per batch size) and along |B| (one per eta), over the SGD
  // runs of the sweep: `each_slice` calls fn(variable, suffix, member) for each such slice.
  auto each_slice = [&](auto&& fn) {
    if (s.etas.size() >= 2)
      for (int B : s.batches)
        fn("eta", "_B=" + std::to_string(B), [B](double, int b) { return b == B; });
    if (s.batches.size() >= 2)
      for (double eta : s.etas)
        fn("batch", "_eta=" + fmtd(eta), [eta](double e, int) { return e == eta; });
  };
  for (const auto& q : qs) {
    if (std::string(q.name) == "v_norm_sq") continue;
    if (!s.cfg.biases() && std::string(q.name) == "bias_mean") continue;
    each_slice([&](const char* variable, const std::string& suffix, auto member) {
      std::vector<const RunResult*> runs;
      for (const auto& r : out.runs)
        if (r.spec.mode == Mode::sgd && member(r.spec.eta, r.spec.batch)) runs.push_back(&r);
      auto c = collapse(runs, q.f, q.name, variable, q.square, s.bootstrap, s.opt.seed);
      c.quantity += suffix;
      out.collapses.push_back(c);
    });
  }
  for (const char* qn : {"activation_rate", "v_norm_sq", "bias_mean"}) {
    if (!s.cfg.biases() && std::string(qn) == "bias_mean") continue;
    each_slice([&](const char* variable, const std::string& suffix, auto member) {
      std::vector<EarlyRate> v;
      for (const auto& r : out.rates)
        if (r.quantity == qn && member(r.eta, r.batch) && r.run.rfind("eta=", 0) == 0) v.push_back(r);
      auto p = power_fit(v, variable);
      p.quantity = std::string(qn) + suffix;
      out.fits.push_back(p);
    });
  }
}

void write_study(const std::string& path, const Study& s, const StudyOutput& o, const std::vector<Parameter>& params,
                 const std::function<void(hid_t)>& extra = {}) {
  h5::AtomicFile file(path);
  write_h5md_header(file.id(), "net");
  {
    auto g = h5::create_group(file.id(), "parameters");
    for (const auto& p : params) std::visit([&](const auto& v) { h5::attr(g, p.name, v); }, p.value);
    h5::attr(g, "program_version", std::string(soret::version));
  }
  auto runs = h5::create_group(file.id(), "runs");
  for (const auto& r : o.runs) {
    const hsize_t E = r.diverged_at.size();
    auto g = h5::create_group(runs, r.spec.name);
    h5::attr(g, "eta", r.spec.eta);
    // The real batch: a full-batch step on a fixed training set uses every example once.
    const std::int64_t batch = r.spec.mode != Mode::full_batch ? r.spec.batch
                               : s.cfg.train_size > 0          ? std::int64_t(s.cfg.train_size)
                                                               : s.full_batch;
    h5::attr(g, "batch", batch);
    h5::attr(g, "records", std::int64_t(r.records()));
    h5::attr(g, "networks", std::int64_t(E));
    h5::attr(g, "mode", std::string(r.spec.mode == Mode::sgd ? "sgd" : r.spec.mode == Mode::full_batch ? "full_batch" : "frozen_v"));
    h5::attr(g, "seconds", r.seconds);
    const hsize_t R = r.records();
    // Axes: record steps and network indices are HDF5 dimension scales of every records x networks dataset.
    h5::write(g, "step", r.t, {R}, "steps");
    h5::describe(g, "step", "steps", "record times t_r = r K (statistics of the parameters at t_r; sample "
                                     "statistics over the window t_r .. t_r + K - 1)");
    h5::make_scale(g, "step", "step");
    h5::index_scale(g, "network", E, "network index e (the same initial network in every run of the sweep)");
    auto w = [&](const char* name, const std::vector<double>& v, const char* unit, const char* desc) {
      if (v.empty()) return;
      h5::write(g, name, v, {R, E}, unit);
      h5::describe(g, name, unit, desc);
      h5::attach_scale(g, name, 0, "step");
      h5::attach_scale(g, name, 1, "network");
    };
    w("activation_rate", r.activation_rate, "1", "fraction of active (unit, sample) pairs over the record window");
    w("v_norm", r.v_norm, "1", "||V||_2 at t_r");
    w("bias_mean", r.bias_mean, "1", "mean of b over the hidden units at t_r");
    w("bias_std", r.bias_std, "1", "standard deviation of b over the hidden units at t_r");
    w("w_norm", r.w_norm, "1", "mean over hidden units of ||W_i||_2 at t_r");
    w("loss", r.loss, "1", "mean per-sample loss over the record window");
    w("p_mean", r.p_mean, "1", "mean sigmoid(f) over the record window");
    std::vector<double> gv(r.grad_var_v.size());
    for (size_t i = 0; i < gv.size(); ++i)
      gv[i] = r.grad_var_v[i] + r.grad_var_w[i] + (std::isfinite(r.grad_var_b[i]) ? r.grad_var_b[i] : 0.0);
    w("grad_var", gv, "1", "trace of the covariance of the mini-batch gradient over the record window, V + b + W");
    w("grad_var_v", r.grad_var_v, "1", "trace of the mini-batch gradient covariance, V block");
    w("grad_var_b", r.grad_var_b, "1", "trace of the mini-batch gradient covariance, b block (NaN without biases)");
    w("grad_var_w", r.grad_var_w, "1", "trace of the mini-batch gradient covariance, W block");
    w("c2", r.c2, "1", "mean (p - y)^2 over the record window");
    w("probe_activation", r.probe_activation, "1", "activation rate on the fixed probe samples at t_r");
    if (!r.eq27_b_drift.empty()) {
      // Eq. 27 is evaluated at every 10th record only: its own step axis, no padding.
      std::vector<std::uint64_t> st;
      std::vector<double> db, dv;
      for (hsize_t k = 0; k < R; k += 10) {
        st.push_back(r.t[k]);
        for (hsize_t i = 0; i < E; ++i) {
          db.push_back(r.eq27_b_drift[k * E + i]);
          dv.push_back(r.eq27_v2_drift[k * E + i]);
        }
      }
      auto q = h5::create_group(g, "eq27");
      h5::attr(q, "description", std::string("Eq. 27's thermophoretic drift per step (unit mean), from phi_1, phi_2 of "
                                             "the Gaussian closed forms at the parameters of each 10th record"));
      h5::write(q, "step", st, {st.size()}, "steps");
      h5::describe(q, "step", "steps", "record steps at which Eq. 27 is evaluated (every 10th record)");
      h5::make_scale(q, "step", "step");
      for (const auto& [name, v, desc] : {std::tuple{"b_drift", &db, "predicted d<b>/dt per step"},
                                          std::tuple{"v2_drift", &dv, "predicted d<V_i^2>/dt per step"}}) {
        h5::write(q, name, *v, {st.size(), E}, "per step");
        h5::describe(q, name, "per step", desc);
        h5::attach_scale(q, name, 0, "step");
        h5::attach_scale(g, std::string("eq27/") + name, 1, "network");
      }
    }
    h5::write(g, "diverged_at", std::vector<std::int64_t>(r.diverged_at), {E}, "steps");
    h5::describe(g, "diverged_at", "steps", "step of divergence (non-finite loss or |parameter| > 1e6; training "
                                            "stops, records NaN from then on) or -1");
    h5::attach_scale(g, "diverged_at", 0, "network");
    {
      const auto& ra = o.runaway[size_t(&r - o.runs.data())];
      h5::write(g, "runaway_at", std::vector<std::int64_t>(ra), {E}, "steps");
      h5::describe(g, "runaway_at", "steps", "first record step with ||V||_2 > runaway_factor ||V(0)||_2 (runaway "
                                             "growth; the network stays in the statistics) or -1");
      h5::attach_scale(g, "runaway_at", 0, "network");
      std::int64_t nd = 0, nr = 0;
      for (auto d : r.diverged_at) nd += d >= 0;
      for (auto d : ra) nr += d >= 0;
      h5::attr(g, "diverged_count", nd);
      h5::attr(g, "runaway_count", nr);
      h5::attr(g, "runaway_factor", kRunawayFactor);
    }
    h5::write(g, "final_W", r.final_W, {E, hsize_t(s.cfg.N), hsize_t(s.cfg.M)}, "1");
    h5::write(g, "final_b", r.final_b, {E, hsize_t(s.cfg.N)}, "1");
    h5::write(g, "final_V", r.final_V, {E, hsize_t(s.cfg.N)}, "1");
    h5::describe(g, "final_W", "1", "final first-layer weights W (network x unit x input)");
    h5::describe(g, "final_b", "1", "final biases b (network x unit)");
    h5::describe(g, "final_V", "1", "final output weights V (network x unit)");
    for (const char* n : {"final_W", "final_b", "final_V"}) h5::attach_scale(g, n, 0, "network");
    if (!r.density.empty()) {
      auto ps = h5::create_group(g, "param_space");
      const int bv = s.opt.grid_bins_v, bb = s.opt.grid_bins_b;
      std::vector<double> ev(bv + 1), eb(bb + 1);
      for (int k = 0; k <= bv; ++k) ev[k] = s.opt.v_lo + (s.opt.v_hi - s.opt.v_lo) * k / bv;
      for (int k = 0; k <= bb; ++k) eb[k] = s.opt.b_lo + (s.opt.b_hi - s.opt.b_lo) * k / bb;
      h5::write(ps, "edges_v", ev, {hsize_t(bv + 1)}, "1");
      h5::write(ps, "edges_b", eb, {hsize_t(bb + 1)}, "1");
      h5::write(ps, "density_t", r.density_t, {r.density_t.size()}, "steps");
      h5::write(ps, "density", r.density, {r.density_t.size(), hsize_t(bv), hsize_t(bb)}, "units");
      h5::write(ps, "cross_v_plus", r.cross_v_plus, {R, hsize_t(bv + 1)}, "crossings");
      h5::write(ps, "cross_v_minus", r.cross_v_minus, {R, hsize_t(bv + 1)}, "crossings");
      h5::write(ps, "cross_b_plus", r.cross_b_plus, {R, hsize_t(bb + 1)}, "crossings");
      h5::write(ps, "cross_b_minus", r.cross_b_minus, {R, hsize_t(bb + 1)}, "crossings");
      h5::describe(ps, "edges_v", "1", "grid lines along V_i");
      h5::describe(ps, "edges_b", "1", "grid lines along b_i");
      h5::describe(ps, "density_t", "steps", "times of the density snapshots");
      h5::make_scale(ps, "density_t", "step");
      h5::describe(ps, "density", "units", "per-unit (V_i, b_i) points of all networks per cell (snapshot x V x b)");
      h5::attach_scale(ps, "density", 0, "density_t");
      h5::describe(ps, "cross_v_plus", "crossings", "upward crossings of each V grid line during each record window");
      h5::describe(ps, "cross_v_minus", "crossings", "downward crossings of each V grid line during each record window");
      h5::describe(ps, "cross_b_plus", "crossings", "upward crossings of each b grid line during each record window");
      h5::describe(ps, "cross_b_minus", "crossings", "downward crossings of each b grid line during each record window");
      for (const char* n : {"cross_v_plus", "cross_v_minus", "cross_b_plus", "cross_b_minus"})
        h5::attach_scale(g, std::string("param_space/") + n, 0, "step");
      h5::attr(ps, "description", std::string("per-unit (V_i, b_i) points of all networks; crossings of V and b grid "
                                              "lines per record window (steps t_r .. t_r + K - 1), exact"));
    }
  }
  auto sc = h5::create_group(file.id(), "scaling");
  h5::attr(sc, "description", std::string("collapse: tau = t * eta^k or t / B^k; metric = spread between ensemble-mean "
                                          "curves at equal tau in units of their SE^2 (1 = collapse within noise); "
                                          "best k with a bootstrap 95% interval over networks. early: per-network "
                                          "least-squares slopes up to t_end, mean and SE. power: log|rate| vs log "
                                          "eta or log B."));
  auto cg = h5::create_group(sc, "collapse");
  for (const auto& c : o.collapses) {
    auto g = h5::create_group(cg, c.quantity + "_vs_" + c.variable);
    h5::write(g, "k", c.k, {c.k.size()}, "1");
    h5::write(g, "metric", c.metric, {c.metric.size()}, "1");
    h5::describe(g, "k", "1", "exponent grid: tau = t eta^k (vs eta) or t / |B|^k (vs batch)");
    h5::describe(g, "metric", "1", "spread between the ensemble-mean curves at equal tau, in units of their SE^2");
    h5::make_scale(g, "k", "k");
    h5::attach_scale(g, "metric", 0, "k");
    h5::attr(g, "best", c.best);
    h5::attr(g, "ci_lo", c.ci_lo);
    h5::attr(g, "ci_hi", c.ci_hi);
    h5::attr(g, "bootstrap", std::int64_t(c.bootstrap));
    h5::attr(g, "variable", c.variable);
    h5::attr(g, "at_edge", std::int64_t(c.at_edge));
  }
  auto eg = h5::create_group(sc, "early");
  for (const char* qn : {"activation_rate", "v_norm_sq", "bias_mean"}) {
    std::vector<double> eta, rate, se;
    std::vector<std::int64_t> batch;
    std::string names;
    for (const auto& r : o.rates)
      if (r.quantity == qn) {
        eta.push_back(r.eta); batch.push_back(r.batch); rate.push_back(r.rate); se.push_back(r.se);
        names += (names.empty() ? "" : ";") + r.run;
      }
    if (eta.empty()) continue;
    auto g = h5::create_group(eg, qn);
    h5::write(g, "eta", eta, {eta.size()}, "1");
    h5::write(g, "batch", batch, {batch.size()}, "samples");
    h5::write(g, "rate", rate, {rate.size()}, "per step");
    h5::write(g, "se", se, {se.size()}, "per step");
    h5::describe(g, "eta", "1", "learning rate of each run");
    h5::describe(g, "batch", "samples", "batch size |B| of each run");
    h5::describe(g, "rate", "per step", "early rate: mean over networks of the slope at t = 0 of a quadratic fit up to t_end");
    h5::describe(g, "se", "per step", "standard error of rate over networks");
    h5::make_scale(g, "eta", "eta");
    h5::make_scale(g, "batch", "batch");
    for (const char* n : {"rate", "se"}) {
      h5::attach_scale(g, n, 0, "eta");
      h5::attach_scale(g, n, 0, "batch");
    }
    h5::attr(g, "runs", names);
    h5::attr(g, "t_end", std::int64_t(o.rates.empty() ? 0 : o.rates[0].t_end));
  }
  auto pg = h5::create_group(sc, "power");
  for (const auto& p : o.fits) {
    auto g = h5::create_group(pg, p.quantity + "_vs_" + p.variable);
    h5::attr(g, "slope", p.slope);
    h5::attr(g, "se", p.se);
    h5::attr(g, "ci95_lo", p.slope - 1.96 * p.se);
    h5::attr(g, "ci95_hi", p.slope + 1.96 * p.se);
    h5::attr(g, "unresolved", std::int64_t(p.unresolved()));
  }
  if (extra) extra(file.id());
  file.commit();
}

/// The first-screen rows of a part: one Markdown table row per claim it tests, with the number that
/// decides it and a verdict by a stated rule (collapse: the 95% interval contains 2 for eta, 1 for
/// |B|; Eq. 8: correlation within 5 SE of 1; Eq. 27: measured noise part within 5 SE of the prediction).
/// Eq. 27's predicted drift of the mean bias at t = 0 (mean over the SGD run's networks) and the
/// measured noise part of the early drift: SGD's early rate minus full-batch GD's, with its SE.
struct Eq27Drift {
  bool ok = false;
  double pred = 0, noise = 0, se = 0;
  double sgd = NAN, sgd_se = 0;  ///< SGD's early rate itself
};

Eq27Drift eq27_drift(const StudyOutput& o, const RunResult& sg, const RunResult& gd) {
  Eq27Drift q;
  double pred = 0;
  int n = 0;
  const size_t E = std::min(sg.diverged_at.size(), sg.eq27_b_drift.size());  // the t = 0 record
  for (size_t e = 0; e < E; ++e)
    if (std::isfinite(sg.eq27_b_drift[e])) { pred += sg.eq27_b_drift[e]; ++n; }
  if (n == 0) return q;
  double r_sgd = NAN, s_sgd = 0, r_gd = NAN, s_gd = 0;
  for (const auto& r : o.rates)
    if (r.quantity == "bias_mean") {
      if (r.run == sg.spec.name) { r_sgd = r.rate; s_sgd = r.se; }
      if (r.run == gd.spec.name) { r_gd = r.rate; s_gd = r.se; }
    }
  q.ok = true;
  q.pred = pred / n;
  q.noise = r_sgd - r_gd;
  q.se = std::sqrt(s_sgd * s_sgd + s_gd * s_gd);
  q.sgd = r_sgd;
  q.sgd_se = s_sgd;
  return q;
}

std::string findings(const std::string& part, const StudyOutput& o) {
  std::string out;
  char buf[640];
  auto row = [&](const std::string& claim, const std::string& measured, const std::string& verdict) {
    std::string cells[4] = {part, claim, measured, verdict};
    out += "|";
    for (auto& c : cells) {
      std::string esc;
      for (char ch : c) esc += ch == '|' ? std::string("\\|") : std::string(1, ch);
      out += " " + esc + " |";
    }
    out += "\n";
  };
  for (const auto& c : o.collapses) {
    const bool eta = c.variable == "eta";
    const double want = eta ? 2.0 : 1.0;
    const std::string claim = c.quantity + (eta ? " ~ eta^2 (collapse of t eta^k)" : " ~ 1/|B| (collapse of t/|B|^m)");
    std::string verdict;
    if (c.at_edge) verdict = "not supported: no collapse";
    else if (c.bootstrap == 0) verdict = "no interval (--bootstrap 0)";
    else if (c.ci_hi - c.ci_lo > std::abs(c.best)) verdict = "unresolved";
    else if (c.ci_lo <= want && want <= c.ci_hi) verdict = "holds (interval contains " + fmtd(want) + ")";
    else verdict = "not exactly: interval excludes " + fmtd(want);
    row(claim, c.text(), verdict);
  }
  for (const auto& [t, q] : o.eq8) {
    std::snprintf(buf, sizeof buf, "correlation %.4f +- %.1g at t = %llu, eta = %g (Eq. 8: 1)", q.corr, q.corr_se,
                  (unsigned long long)t, o.eq8_eta);
    row("Eq. 8: the (V_i, sign(V_i) b_i) steps share one sign and their sizes", buf,
        std::abs(q.corr - 1) < 5 * q.corr_se ? "holds" : "fails in size: the sign is shared, the sizes are not");
  }
  for (std::size_t i = 0; i < o.runs.size(); ++i) {
    int nd = 0, nr = 0;
    for (auto d : o.runs[i].diverged_at) nd += d >= 0;
    for (auto d : o.runaway[i]) nr += d >= 0;
    if (nd + nr == 0) continue;
    std::snprintf(buf, sizeof buf, "%s: diverged %d/%zu, runaway %d/%zu", o.runs[i].spec.name.c_str(), nd,
                  o.runs[i].diverged_at.size(), nr, o.runs[i].diverged_at.size());
    row("training is stable", buf, "fails at this eta");
  }
  for (const auto& gd : o.runs) {
    if (gd.spec.mode != Mode::full_batch || gd.eq27_b_drift.empty()) continue;
    for (const auto& sg : o.runs) {
      if (sg.spec.mode != Mode::sgd || sg.spec.eta != gd.spec.eta || sg.spec.batch != 1) continue;
      const Eq27Drift q = eq27_drift(o, sg, gd);
      if (!q.ok) continue;
      const double pred = q.pred, noise = q.noise, se = q.se;
      std::snprintf(buf, sizeof buf, "predicted %.3g, measured noise part %.3g +- %.2g per step (eta = %g): ratio %.2g",
                    pred, noise, se, sg.spec.eta, noise / pred);
      row("Eq. 27 gives d<b>/dt's noise part at t = 0", buf,
          std::abs(noise - pred) < 5 * se ? "holds" : (noise * pred > 0 ? "fails: right sign, wrong size" : "fails"));
    }
  }
  return out;
}

std::string summary(const StudyOutput& o) {
  std::string out;
  char buf[512];
  // Divergence: non-finite loss or |parameter| > 1e6 (training stops, records NaN), and runaway
  // growth (||V|| above kRunawayFactor times its initial value; kept in the statistics).
  for (size_t i = 0; i < o.runs.size(); ++i) {
    const auto& r = o.runs[i];
    int nd = 0, nr = 0;
    for (auto d : r.diverged_at) nd += d >= 0;
    for (auto d : o.runaway[i]) nr += d >= 0;
    if (nd == 0 && nr == 0) continue;
    std::snprintf(buf, sizeof buf,
                  "  divergence %-22s diverged %d/%zu (non-finite or |parameter| > 1e6), runaway %d/%zu (||V|| > %g "
                  "||V(0)||)\n",
                  r.spec.name.c_str(), nd, r.diverged_at.size(), nr, r.diverged_at.size(), kRunawayFactor);
    out += buf;
  }
  for (const auto& c : o.collapses) {
    std::snprintf(buf, sizeof buf, "  collapse %-28s vs %-5s: %s\n", c.quantity.c_str(), c.variable.c_str(),
                  c.text().c_str());
    out += buf;
  }
  for (const auto& p : o.fits) {
    std::snprintf(buf, sizeof buf, "  early rate %-24s ~ %s\n", p.quantity.c_str(), p.text().c_str());
    out += buf;
  }
  // The mechanism: SGD, full-batch GD and frozen-V SGD at the same eta and initial states.
  for (const auto& r : o.rates)
    if (r.run.rfind("eta=", 0) != 0) {
      const std::string eta = r.run.substr(r.run.find("eta="));
      for (const auto& q : o.rates)
        if (q.run.rfind(eta + "_B=", 0) == 0 && q.quantity == r.quantity) {
          std::snprintf(buf, sizeof buf, "  mechanism %-16s SGD %-14s %10.3g +- %.2g | %-14s %10.3g +- %.2g per step\n",
                        r.quantity.c_str(), q.run.c_str(), q.rate, q.se, r.run.c_str(), r.rate, r.se);
          out += buf;
          break;
        }
    }
  for (const auto& [t, q] : o.eq8) {
    std::snprintf(buf, sizeof buf,
                  "  Eq. 8 at t=%llu, eta=%g (per-sample |B| = 1 steps of (V_i, sign(V_i) b_i), %d networks x %d units, "
                  "%d samples; units active %.2f): correlation %.4f +- %.1g (Eq. 8: 1); cross-covariance / eta^2 %.3g +- "
                  "%.2g vs Eq. 8's g_V g_b %.3g +- %.2g\n",
                  (unsigned long long)t, o.eq8_eta, q.networks, q.networks ? q.units / q.networks : 0, q.samples,
                  q.active, q.corr, q.corr_se, q.cross, q.cross_se, q.eq8_cross, q.eq8_cross_se);
    out += buf;
  }
  // Eq. 27 at t = 0 against the measured early drift of the mean bias (SGD, and its noise part
  // SGD - GD), at the eta of the mechanism runs.
  for (const auto& gd : o.runs) {
    if (gd.spec.mode != Mode::full_batch || gd.eq27_b_drift.empty()) continue;
    for (const auto& sg : o.runs) {
      if (sg.spec.mode != Mode::sgd || sg.spec.eta != gd.spec.eta || sg.spec.batch != 1) continue;
      const Eq27Drift q = eq27_drift(o, sg, gd);
      if (!q.ok) continue;
      const double pred = q.pred, noise = q.noise, noise_se = q.se;
      std::snprintf(buf, sizeof buf,
                    "  Eq. 27 at t=0, eta=%g: predicted d<b>/dt = %.3g per step (Eq. 10's term without Eq. 27's 1/2: "
                    "%.3g); measured SGD %.3g +- %.2g, noise part (SGD - GD) %.3g +- %.2g: measured/predicted = %.2g "
                    "(%.2g against Eq. 10's term)\n",
                    sg.spec.eta, pred, 2 * pred, q.sgd, q.sgd_se, noise, noise_se, noise / pred, noise / (2 * pred));
      out += buf;
    }
  }
  return out;
}

struct DeepCli {
  std::string arch, data, data_dir, split, sampler;
  int kernel = 5, stride = 1, classes = 2, grad_samples = 256;
  std::uint64_t test_size = 0;  ///< held-out set: synthetic examples, or the first n of the test split
  int hessian_every = 0, hessian_probes = 32, hessian_samples = 256;
};

/// Builds the data sets, the architecture and the options of a generic-backend sweep.
/// `same_data`: a sweep on the same image data set (data, directory, classes, split), whose data
/// sets are shared instead of read again (the parts of --study deep).
DeepSweep make_sweep(const Study& s, const DeepCli& d, const DeepSweep* same_data = nullptr) {
  DeepSweep w;
  const bool image = d.data == "fashion-mnist" || d.data == "cifar10";
  if (image && same_data) {
    w.train = same_data->train;
    w.eval = same_data->eval;
  } else if (image) {
    std::string dir = d.data_dir;
    if (dir.empty()) {
      if (d.data == "cifar10") throw InputError("data-dir", "--data-dir: the CIFAR-10 binary files' directory is required");
      dir = fashion_mnist_default_dir();
    }
    auto read = [&](const std::string& split) -> std::shared_ptr<const Dataset> {
      std::shared_ptr<const Dataset> data;
      mpi::agreed([&] {  // every rank reads the files (a rank that cannot stops them all)
        if (d.data == "fashion-mnist") data = read_fashion_mnist(dir, split, d.classes);
        else data = read_cifar10(dir, split, d.classes);
      }, true);
      return data;
    };
    w.train = read("train");
    if (s.cfg.train_size > 0) {  // a smaller training set: the first n examples of the train split
      if (s.cfg.train_size > w.train->size())
        throw InputError("train-size", "--train-size: the training split has " + std::to_string(w.train->size()) + " examples");
      w.train = std::make_shared<SubsetDataset>(w.train, s.cfg.train_size);
    }
    w.eval = d.split == "test" ? read("test") : w.train;
    if (d.test_size > 0) {
      auto t = d.split == "test" ? w.eval : read("test");
      if (d.test_size > t->size())
        throw InputError("test-size", "--test-size: the test split has " + std::to_string(t->size()) + " examples");
      w.test = std::make_shared<SubsetDataset>(t, d.test_size);
    }
  } else {
    w.train = std::make_shared<SyntheticDataset>(s.cfg, s.opt.seed);
    w.eval = w.train;
    if (d.test_size > 0) w.test = std::make_shared<SyntheticTestSet>(s.cfg, s.opt.seed, d.test_size);
  }
  if (image && same_data) w.test = same_data->test;
  w.arch = std::make_shared<Architecture>(Architecture::parse(d.arch, w.train->input(), d.classes > 2 ? d.classes : 1,
                                                              d.kernel, d.stride, s.cfg.N, image || s.cfg.biases()));
  w.etas = s.etas;
  w.batches = s.batches;
  w.bootstrap = s.bootstrap;
  w.early = s.early;
  w.opt.ensemble = s.opt.ensemble;
  w.opt.steps = s.opt.steps;
  w.opt.record_every = s.opt.record_every;
  w.opt.seed = s.opt.seed;
  w.opt.threads = s.opt.threads;
  w.opt.progress = s.opt.progress;
  w.opt.grad_samples = d.grad_samples;
  w.opt.init = s.cfg.init;
  w.opt.loss = s.cfg.loss;
  // auto: fresh samples for online data; with a held-out set (a generalization run) an epoch-wise
  // shuffle of the training set (each example once per epoch), else draws with replacement.
  w.opt.sampler = d.sampler == "auto" ? (w.train->size() == 0 ? SamplerKind::online
                                         : w.test              ? SamplerKind::epoch
                                                               : SamplerKind::replacement)
                                      : parse_sampler(d.sampler);
  w.opt.test = w.test.get();
  w.opt.set_metrics = w.test != nullptr;
  w.opt.hessian_every = d.hessian_every;
  w.opt.hessian_probes = d.hessian_probes;
  w.opt.hessian_samples = d.hessian_samples;
  for (int B : w.batches) Sampler check(*w.train, w.opt.sampler, B, w.opt.seed);  // throws on a bad combination
  return w;
}

std::vector<Parameter> deep_params(const DeepSweep& w, const DeepCli& d, const Study& s) {
  const std::vector<double> etas = w.etas;
  const std::vector<std::int64_t> batches(w.batches.begin(), w.batches.end());
  return {{"backend", std::string("generic")}, {"arch", d.arch}, {"kernel", std::int64_t(d.kernel)},
          {"stride", std::int64_t(d.stride)}, {"classes", std::int64_t(d.classes)}, {"loss", to_string(w.opt.loss)},
          {"data", d.data}, {"data_dir", d.data_dir}, {"split", d.split}, {"inputs", std::int64_t(s.cfg.M)},
          {"labels", to_string(s.cfg.labels)}, {"train_size", std::int64_t(s.cfg.train_size)},
          {"sampler", to_string(w.opt.sampler)}, {"grad_samples", std::int64_t(w.opt.grad_samples)},
          {"eta", etas}, {"batch", batches}, {"ensemble", std::int64_t(w.opt.ensemble)},
          {"steps", std::int64_t(w.opt.steps)}, {"record_every", std::int64_t(w.opt.record_every)},
          {"init", w.opt.init.text()}, {"seed", std::int64_t(w.opt.seed)},
          {"threads", std::int64_t(w.opt.threads > 0 ? w.opt.threads : omp_get_max_threads())},
          {"bootstrap", std::int64_t(w.bootstrap)}, {"test_size", std::int64_t(d.test_size)},
          {"hessian_every", std::int64_t(d.hessian_every)}, {"hessian_probes", std::int64_t(d.hessian_probes)},
          {"hessian_samples", std::int64_t(d.hessian_samples)}};
}

/// Memory of a generic-backend sweep (coarse): per thread, activations and their gradients of
/// max(batch, 64) samples through every layer plus a few parameter-sized buffers; per run, the
/// final parameters of every network and the records (kept until the file is written, which is
/// built in memory).
MemoryEstimate estimate_deep_memory(const DeepSweep& w) {
  MemoryEstimate e;
  const double threads = w.opt.threads > 0 ? w.opt.threads : omp_get_max_threads();
  double acts = double(w.arch->input.size());
  for (const auto& l : w.arch->layers) acts += double(l.out.size());
  int B = 64;
  for (int b : w.batches) B = std::max(B, b);
  const double P = double(w.arch->params()), E = w.opt.ensemble;
  e.add("per-thread activations and workspaces", threads * (double(B) * acts * 8.0 * 4 + P * 8.0 * 6));
  const double R = double((w.opt.steps + w.opt.record_every - 1) / w.opt.record_every);
  const double runs = double(w.etas.size() * w.batches.size());
  e.add("final parameters and records of the runs",
        runs * (E * P * 8.0 + R * E * 8.0 * (8 + 3 * double(w.arch->layers.size()))) * 3);
  e.add("bootstrap", double(w.bootstrap) * (8.0 + E * 4.0));
  if (w.opt.hessian_every > 0)  // HessianWorkspace (at most ~32 MiB of chunk buffers) and the samples, per thread
    e.add("per-thread Hessian workspaces", threads * (32.0 * 1048576 + P * 8.0 * 6 +
                                                     double(w.opt.hessian_samples) * double(w.arch->input.size()) * 8.0));
  return e;
}

/// Checkpoint and restart of a sweep (both backends; net/state.hpp). The runs of a sweep go one
/// after another; --stop-at counts the steps of the whole sweep in that order.
struct SweepControl {
  std::string ckpath, ini, context, restart_path;
  bool restarting = false;
  bool checkpoint_runs = false;  ///< also after each complete run (--checkpoint or --checkpoint-every given)
  std::uint64_t every = 0;       ///< --checkpoint-every (steps, a multiple of --record-every)
  std::uint64_t stop_at = 0;     ///< --stop-at (0: none)
  std::uint64_t checkpoints = 0;
  double checkpoint_seconds = 0;
  std::uint64_t restarted_at = 0;  ///< sweep step of the restart's checkpoint
  std::string stopped_run;         ///< the run in progress when stopped
  std::uint64_t stopped_t = 0, stopped_steps = 0;
  int threads = 1;                 ///< OpenMP threads per rank actually used

  /// Writes the checkpoint of a sweep or study whose runs so far are `v` (the last may be in progress).
  void write(const std::vector<DeepRun>& v) const {
    NetState st;
    st.backend = "generic";
    st.deep = v;
    io::write_net_state(ckpath, st, ini, context);
  }
  void write(const std::vector<RunResult>& v) const {
    NetState st;
    st.backend = "twolayer";
    st.runs = v;
    io::write_net_state(ckpath, st, ini, context);
  }
};

/// Part p's output of a study whose runs, part after part, are `all` (part p's runs are
/// [first[p], first[p + 1]); those begun so far: complete, or the last in progress).
template <class Out, class Run>
Out part_runs(const std::vector<std::size_t>& first, std::size_t p, const std::vector<Run>& all) {
  Out o;
  for (std::size_t i = first[p]; i < std::min(first[p + 1], all.size()); ++i) o.runs.push_back(all[i]);
  return o;
}

/// The part in progress when a study stopped: the one of the last run begun, or (stopped between
/// two runs) the next. part_of[i] is run i's part.
template <class Run>
std::size_t stopped_part(const std::vector<Run>& all, const std::vector<std::size_t>& part_of) {
  std::size_t at = all.size();
  if (!all.empty() && !all.back().complete) --at;
  return part_of[std::min(at, part_of.size() - 1)];
}

/// The sweep step of a state: the steps of its complete runs plus the last run's step.
std::uint64_t sweep_step(const std::vector<std::uint64_t>& steps, std::size_t n, std::uint64_t t_last) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i + 1 < n && i < steps.size(); ++i) s += steps[i];
  return s + (n ? t_last : 0);
}

/// Runs the jobs of a sweep in order, continuing the runs of `resumed` (a checkpoint's state);
/// writes the periodic checkpoints and the one of a stop. Returns whether the sweep is complete;
/// `runs` receives the complete runs and, when stopped inside a run, that run's state last.
template <class Run>
bool run_jobs(const std::vector<RunSpec>& specs, const std::vector<std::uint64_t>& steps, const std::vector<Run>& resumed,
              SweepControl& ctl,
              const std::function<Run(std::size_t, const Run*, const BlockPlan&, const std::function<void(const Run&)>&)>& train_one,
              const std::function<void(const std::vector<Run>&)>& write_state,
              const std::function<void(std::size_t, const Run&)>& after_run, std::vector<Run>& runs) {
  if (resumed.size() > specs.size())
    throw InputError("restart", "--restart: '" + ctl.restart_path + "' holds " + std::to_string(resumed.size()) +
                                    " runs; this sweep has " + std::to_string(specs.size()));
  for (std::size_t i = 0; i < resumed.size(); ++i) {
    const RunSpec &a = resumed[i].spec, &b = specs[i];
    if (a.name != b.name || a.eta != b.eta || a.batch != b.batch || a.mode != b.mode || a.full_batch != b.full_batch)
      throw InputError("restart", "--restart: '" + ctl.restart_path + "': its run " + std::to_string(i) + " (" + a.name +
                                      ") is not this sweep's (" + b.name + ")");
  }
  auto save = [&](const std::vector<Run>& v) {
    const auto c0 = std::chrono::steady_clock::now();
    write_state(v);
    ctl.checkpoint_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    ++ctl.checkpoints;
  };
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (mpi::max_all(std::int64_t(interrupt_requested()))) {  // between two runs: the state is the runs complete
      ctl.stopped_run = specs[i].name;
      ctl.stopped_steps = steps[i];
      save(runs);
      return false;
    }
    BlockPlan bp;
    bp.checkpoint_every = ctl.every;
    bp.stop_on_interrupt = true;
    if (ctl.stop_at > offset && ctl.stop_at < offset + steps[i]) bp.stop_at = ctl.stop_at - offset;
    const Run* from = i < resumed.size() ? &resumed[i] : nullptr;
    Run r = train_one(i, from, bp, [&](const Run& p) {
      runs.push_back(p);
      save(runs);
      runs.pop_back();
    });
    const bool complete = r.complete;
    runs.push_back(std::move(r));
    if (!complete) {
      ctl.stopped_run = specs[i].name;
      ctl.stopped_t = runs.back().t_reached;
      ctl.stopped_steps = steps[i];
      save(runs);
      return false;
    }
    after_run(i, runs.back());
    if (ctl.checkpoint_runs) save(runs);
    offset += steps[i];
    if (ctl.stop_at > 0 && ctl.stop_at == offset && i + 1 < specs.size()) {
      ctl.stopped_run = specs[i + 1].name;
      ctl.stopped_steps = steps[i + 1];
      if (!ctl.checkpoint_runs) save(runs);
      return false;
    }
  }
  return true;
}

/// The /run group of a sweep's file: complete or stopped, and what checkpoints cost.
std::function<void(hid_t)> run_group(const SweepControl& ctl, bool complete, std::size_t runs_complete, std::uint64_t t_reached) {
  return [&ctl, complete, runs_complete, t_reached](hid_t f) {
    auto g = h5::create_group(f, "run");
    h5::attr(g, "complete", std::int64_t(complete));
    h5::attr(g, "runs_complete", std::int64_t(runs_complete));
    h5::attr(g, "t_reached", std::int64_t(t_reached));
    h5::attr(g, "restarted_from", ctl.restarting ? ctl.restart_path : std::string());
    h5::attr(g, "restarted_at", std::int64_t(ctl.restarted_at));
    h5::attr(g, "checkpoints_written", std::int64_t(ctl.checkpoints));
    h5::attr(g, "checkpoint_seconds", ctl.checkpoint_seconds);
    h5::attr(g, "ranks", std::int64_t(mpi::size()));
    h5::attr(g, "threads", std::int64_t(ctl.threads));
  };
}

/// Removes `path` if it is a stopped run's partial output (an HDF5 file marked /run@complete = 0).
bool remove_if_partial(const std::string& path) {
  if (!mpi::root()) return false;  // (rank 0 writes and removes files)
  try {
    if (!std::filesystem::is_regular_file(path) || H5Fis_hdf5(path.c_str()) <= 0) return false;
    bool incomplete = false;
    {
      auto f = h5::open_file_read(path);
      if (h5::exists(f, "run")) {
        auto g = h5::open_group(f, "run");
        incomplete = h5::attr_exists(g, "complete") && h5::read_attr_int64(g, "complete") == 0;
      }
    }
    return incomplete && std::filesystem::remove(path);
  } catch (const std::exception&) {  // (left in place)
    return false;
  }
}

/// The message of a stopped sweep (stderr) and its exit status.
int report_stop(const SweepControl& ctl, const std::string& partial) {
  const int sig = interrupt_signal();
  if (mpi::root())
    std::fprintf(stderr,
               "soret net: stopped (%s) at step %llu of %llu of run %s; checkpoint '%s', partial output '%s' (marked "
               "incomplete); continue with: soret net --restart %s\n",
               sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "--stop-at", (unsigned long long)ctl.stopped_t,
               (unsigned long long)ctl.stopped_steps, ctl.stopped_run.c_str(), ctl.ckpath.c_str(), partial.c_str(),
               ctl.ckpath.c_str());
  return kExitInterrupted;
}

void print_checkpoints(const SweepControl& ctl) {
  if (ctl.restarting) std::printf("  restarted from sweep step %llu of %s\n", (unsigned long long)ctl.restarted_at, ctl.restart_path.c_str());
  if (ctl.checkpoints)
    std::printf("  checkpoints: %llu written to %s (%.2f s)\n", (unsigned long long)ctl.checkpoints, ctl.ckpath.c_str(),
                ctl.checkpoint_seconds);
}

/// One generic-backend sweep into one HDF5 file (checkpoints and restart: SweepControl).
int deep_run(const Study& s, const DeepCli& d, const std::string& out, bool quiet, double budget, SweepControl& ctl,
             const NetState* resumed) {
  mpi::agreed([&] { io::check_output_file(out, "out"); });  // fail early (exit 2) on a bad place, before any training
  const DeepSweep w = make_sweep(s, d);
  mpi::agreed([&] { enforce_memory_budget(estimate_deep_memory(w), budget); }, true);  // (per node: agreed)
  if (resumed && resumed->backend != "generic")
    throw InputError("restart", "--restart: '" + ctl.restart_path + "' is a checkpoint of a two-layer run, not of --arch " + d.arch);
  if (!quiet)
    std::printf("soret net %s: %s, %zu parameters, %s, %s loss, E=%d, %llu steps, S=%d\n", soret::version,
                w.arch->text.c_str(), w.arch->params(), w.train->describe().c_str(), to_string(w.opt.loss).c_str(),
                w.opt.ensemble, (unsigned long long)w.opt.steps, w.opt.grad_samples);
  const std::vector<RunSpec> specs = sweep_specs(w.etas, w.batches);
  const std::vector<std::uint64_t> steps(specs.size(), w.opt.steps);
  if (resumed) ctl.restarted_at = sweep_step(steps, resumed->deep.size(), resumed->t());
  DeepSweepOutput o;
  bool complete = false;
  {
    InterruptScope interrupt;  // SIGINT/SIGTERM: finish the block, checkpoint, partial output
    complete = run_jobs<DeepRun>(
        specs, steps, resumed ? resumed->deep : std::vector<DeepRun>{}, ctl,
        [&](std::size_t i, const DeepRun* from, const BlockPlan& bp, const std::function<void(const DeepRun&)>& ck) {
          DeepOptions op = w.opt;
          op.resume = from;
          op.blocks = bp;
          op.on_checkpoint = ck;
          return train_deep(*w.arch, *w.train, *w.eval, specs[i], op);
        },
        [&](const std::vector<DeepRun>& v) { ctl.write(v); },
        [&](std::size_t, const DeepRun& r) {
          if (!quiet) print_run_line(r, w.opt);
        },
        o.runs);
  }
  std::size_t ncomplete = 0;
  for (const auto& r : o.runs) ncomplete += r.complete;
  const std::uint64_t t_reached = o.runs.empty() ? 0 : o.runs.back().t_reached;
  if (!complete) {
    const std::string partial = io::partial_output_path(out);
    if (!o.runs.empty() && o.runs.back().records() == 0) o.runs.pop_back();
    write_deep_sweep(partial, w, o, deep_params(w, d, s), run_group(ctl, false, ncomplete, t_reached));
    return report_stop(ctl, partial);
  }
  o.collapses = deep_collapses(w, o.runs);
  deep_rates(w, o);
  write_deep_sweep(out, w, o, deep_params(w, d, s), run_group(ctl, true, ncomplete, t_reached));
  remove_if_partial(io::partial_output_path(out));  // (a stopped run's partial output, now superseded)
  if (!quiet) {
    std::fputs(deep_summary(w, o).c_str(), stdout);
    print_checkpoints(ctl);
    std::printf("  wrote %s\n", out.c_str());
  }
  return 0;
}

/// A part of --study deep or --study generalization: one generic-backend sweep.
struct StudyPart {
  const char* name;
  const char* arch;
  const char* data;
  int inputs, classes;
  std::vector<double> etas;
  std::vector<int> batches;
  int E;
  long long T, K;
  int S;
  // --study generalization: a finite training set, a held-out set, the Hessian every few records
  long long train_size = 0, test_size = 0;
  int hessian_every = 0;
  const char* labels = "random";
  int hidden = 0;  ///< twolayer: hidden units
};

/// --study deep: the paper's deep-network experiments at sizes that run in minutes.
std::vector<StudyPart> deep_parts() {
  return {{"fc6_gaussian_eta", "fc:100,100,100,100,100", "gaussian", 100, 2, {0.025, 0.05, 0.075, 0.1}, {1}, 32, 10000, 200, 256},
          {"cnn6_fmnist_eta", "conv:10,10,10,10,10,10", "fashion-mnist", 0, 10, {0.0025, 0.005, 0.0075, 0.01}, {1}, 8, 2000, 200, 256},
          {"fc300_fmnist_eta", "fc:300", "fashion-mnist", 0, 10, {0.025, 0.05, 0.075, 0.1}, {100}, 4, 500, 25, 256},
          {"fc300_fmnist_batch", "fc:300", "fashion-mnist", 0, 10, {0.02}, {50, 100, 200}, 4, 500, 25, 256}};
}

/// The analysis a study adds once its parts are complete (generalization: the matched-loss
/// table): writes its files and returns the Markdown it adds to summary.md.
using StudyAnalysis = std::function<std::string(const std::vector<StudyPart>&, const std::vector<DeepSweep>&,
                                                const std::vector<DeepSweepOutput>&)>;

/// --study deep and --study generalization: generic-backend sweeps, one per part. Checkpoints as
/// --study paper: its runs, part after part, are one sweep (run_jobs); a part's file is written
/// when its last run completes (replacing PART.partial.h5, which a stop inside it writes), and
/// summary.md when the study completes.
int parts_study(const std::string& study, std::vector<StudyPart> parts, const Study& base, const DeepCli& dbase,
                const std::string& out, bool quiet, bool tiny, SweepControl& ctl, const NetState* resumed,
                const std::function<void(const std::vector<std::uint64_t>&, std::uint64_t)>& check_stop,
                const StudyAnalysis& analyse = nullptr) {
  mpi::agreed([&] { io::check_output_dir(out, "out"); });
  if (tiny)  // --study-size tiny: seconds, for tests and smoke runs
    for (auto& p : parts) {
      p.E = 2;
      p.T = 10;
      p.K = std::int64_t(kDeepTinyRecordEvery);
      p.S = 8;
      if (p.train_size > 0) p.train_size = std::min(p.train_size, 64ll);
      if (p.test_size > 0) p.test_size = std::min(p.test_size, 64ll);
    }
  std::string md = "# soret net --study " + study + "\n\nsoret " + std::string(soret::version) +
                   ". Gradient variance: unbiased variance over S fresh samples of each parameter's per-sample "
                   "gradient, summed over all parameters and divided by their number (grad_var), also per layer. "
                   "Collapse: best exponent k of tau = t eta^k (or t / |B|^k) with a bootstrap 95% interval over "
                   "networks.\n";
  // Every part's options and sweep (the image parts share one copy of the data set).
  std::vector<Study> studies;
  std::vector<DeepCli> clis;
  std::vector<DeepSweep> sweeps;
  std::vector<std::string> heads;
  std::vector<RunSpec> specs;
  std::vector<std::uint64_t> steps;
  std::vector<std::size_t> part_of, first;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const StudyPart& p = parts[k];
    Study s = base;
    DeepCli d = dbase;
    d.arch = p.arch;
    d.data = p.data;
    d.classes = p.classes;
    d.grad_samples = p.S;
    d.sampler = "auto";
    d.split = "train";
    d.test_size = std::uint64_t(p.test_size);
    d.hessian_every = p.hessian_every;
    s.cfg.loss = p.classes > 2 ? Loss::ce : Loss::bce;
    if (p.inputs > 0) s.cfg.M = p.inputs;
    if (p.hidden > 0) s.cfg.N = p.hidden;
    s.cfg.data = Data::gaussian;
    s.cfg.labels = parse_labels(p.labels);
    s.cfg.train_size = std::uint64_t(p.train_size);
    s.etas = p.etas;
    s.batches = p.batches;
    s.opt.ensemble = p.E;
    s.opt.steps = std::uint64_t(p.T);
    s.opt.record_every = std::uint64_t(p.K);
    const DeepSweep* same = nullptr;
    for (std::size_t j = 0; j < k; ++j)
      if (clis[j].data == d.data && clis[j].classes == d.classes && clis[j].data_dir == d.data_dir &&
          studies[j].cfg.train_size == s.cfg.train_size && clis[j].test_size == d.test_size)
        same = &sweeps[j];
    sweeps.push_back(make_sweep(s, d, same));
    studies.push_back(s);
    clis.push_back(d);
    const DeepSweep& w = sweeps.back();
    char head[512];
    std::snprintf(head, sizeof head, "%s: %s, %zu parameters, %s, %s loss, E = %d, %lld steps, records every %lld with S = %d",
                  p.name, w.arch->text.c_str(), w.arch->params(), w.train->describe().c_str(),
                  to_string(w.opt.loss).c_str(), p.E, p.T, p.K, p.S);
    heads.push_back(head);
    first.push_back(specs.size());
    for (const RunSpec& spec : sweep_specs(p.etas, p.batches)) {
      specs.push_back(spec);
      steps.push_back(std::uint64_t(p.T));
      part_of.push_back(k);
    }
  }
  first.push_back(specs.size());
  if (resumed) ctl.restarted_at = sweep_step(steps, resumed->deep.size(), resumed->t());
  check_stop(steps, ctl.restarted_at);
  if (!quiet && resumed)
    std::printf("soret net --study %s: restarted from step %llu of the study (%zu of its %zu runs begun), %s\n", study.c_str(),
                (unsigned long long)ctl.restarted_at, resumed->deep.size(), specs.size(), ctl.restart_path.c_str());
  auto part_output = [&](std::size_t p, const std::vector<DeepRun>& all) { return part_runs<DeepSweepOutput>(first, p, all); };
  std::vector<DeepRun> all;
  bool complete = false;
  {
    InterruptScope interrupt;  // SIGINT/SIGTERM: finish the block, checkpoint, partial output
    complete = run_jobs<DeepRun>(
        specs, steps, resumed ? resumed->deep : std::vector<DeepRun>{}, ctl,
        [&](std::size_t i, const DeepRun* from, const BlockPlan& bp, const std::function<void(const DeepRun&)>& ck) {
          const std::size_t p = part_of[i];
          if (i == first[p] && !quiet) std::printf("study %s\n", heads[p].c_str());
          const DeepSweep& w = sweeps[p];
          DeepOptions op = w.opt;
          op.resume = from;
          op.blocks = bp;
          op.on_checkpoint = ck;
          return train_deep(*w.arch, *w.train, *w.eval, specs[i], op);
        },
        [&](const std::vector<DeepRun>& v) { ctl.write(v); },
        [&](std::size_t i, const DeepRun& r) {
          const std::size_t p = part_of[i];
          const DeepSweep& w = sweeps[p];
          if (!quiet) print_run_line(r, w.opt);
          if (i + 1 != first[p + 1]) return;
          DeepSweepOutput o = part_output(p, all);
          o.collapses = deep_collapses(w, o.runs);
          deep_rates(w, o);
          const std::string file = out + "/" + parts[p].name + ".h5";
          write_deep_sweep(file, w, o, deep_params(w, clis[p], studies[p]),
                           run_group(ctl, true, o.runs.size(), o.runs.back().t_reached));
          remove_if_partial(io::partial_output_path(file));
          const std::string sm = deep_summary(w, o);
          if (!quiet) std::fputs(sm.c_str(), stdout);
          md += "\n## " + heads[p] + "\n\n```\n" + sm + "```\n";
        },
        all);
  }
  if (!complete) {
    const std::size_t p = stopped_part(all, part_of);
    ctl.stopped_run = std::string(parts[p].name) + "/" + ctl.stopped_run;
    const std::string partial = io::partial_output_path(out + "/" + parts[p].name + ".h5");
    DeepSweepOutput o = part_output(p, all);
    if (!o.runs.empty() && o.runs.back().records() == 0) o.runs.pop_back();
    std::size_t ncomplete = 0;
    for (const auto& r : o.runs) ncomplete += r.complete;
    write_deep_sweep(partial, sweeps[p], o, deep_params(sweeps[p], clis[p], studies[p]),
                     run_group(ctl, false, ncomplete, o.runs.empty() ? 0 : o.runs.back().t_reached));
    return report_stop(ctl, partial);
  }
  if (analyse) {  // the study's own analysis: its verdicts go first in summary.md
    std::vector<DeepSweepOutput> outs;
    for (std::size_t p = 0; p < parts.size(); ++p) outs.push_back(part_output(p, all));
    const std::string extra = analyse(parts, sweeps, outs);
    if (!quiet) std::fputs(extra.c_str(), stdout);
    md = md.substr(0, md.find('\n') + 1) + extra + md.substr(md.find('\n') + 1);
  }
  io::write_file_atomic(out + "/summary.md", md, "out");
  if (!quiet) {
    print_checkpoints(ctl);
    std::printf("wrote %s/*.h5; plots: /usr/bin/python3 validation/plot_%s.py %s\n", out.c_str(),
                study == "deep" ? "net_deep" : study.c_str(), out.c_str());
  }
  return 0;
}

/// --study generalization (issue 12): (a) the two-layer net on the teacher task, a training set of
/// 256 examples; (b) Fashion-MNIST with the 300-unit one-hidden-layer net, 2000 training
/// examples; each an eta x |B| sweep with a held-out set and the Hessian at every record.
std::vector<StudyPart> generalization_parts() {
  StudyPart a{"teacher_twolayer", "twolayer", "gaussian", 20, 2, {0.025, 0.05, 0.1, 0.2}, {1, 4}, 16, 20000, 1000, 256};
  a.train_size = 256;
  a.test_size = 4096;
  a.hessian_every = 1;
  a.labels = "teacher";
  a.hidden = 50;
  StudyPart b{"fc300_fmnist", "fc:300", "fashion-mnist", 0, 10, {0.02, 0.05, 0.1}, {8, 32}, 4, 4000, 250, 256};
  b.train_size = 2000;
  b.test_size = 2000;
  b.hessian_every = 1;
  return {a, b};
}

std::string fmt_pm(double m, double se) {
  char b[64];
  std::snprintf(b, sizeof b, "%.4g +- %.2g", m, se);
  return b;
}

std::string slope_text(const Slope& s, const char* falls, const char* rises) {
  char b[160];
  std::snprintf(b, sizeof b, "%.3g +- %.2g per unit of log(eta^2/|B|) (n = %d): %s", s.slope, s.se, s.n,
                !s.resolved() ? "no resolved change (|slope| < 3 SE)" : s.slope < 0 ? falls : rises);
  return b;
}

/// The matched-loss analysis of --study generalization: OUT/generalization.h5 and the verdicts.
std::string generalization_report(const std::string& out, const std::vector<StudyPart>& parts,
                                  const std::vector<DeepSweepOutput>& outs) {
  std::string md = "\n## Verdicts at matched training loss (Appendix A.5 tested)\n\n"
                   "Each network is compared at its first record whose training loss is at most L* (per part: the "
                   "largest over runs of the median over networks of the lowest training loss reached), not at a matched "
                   "step. Tr H is the exact Gauss-Newton trace (equal to Tr H for ReLU nets, validation/THEORY.md); "
                   "slopes are least squares over the matched networks against log(eta^2/|B|), resolved when |slope| >= 3 SE.\n";
  h5::AtomicFile file(out + "/generalization.h5", "out");
  write_h5md_header(file.id(), "net --study generalization");
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const Generalization g = analyse_generalization(outs[p].runs);
    auto grp = h5::create_group(file.id(), parts[p].name);
    h5::attr(grp, "target_loss", g.target_loss);
    const hsize_t n = g.u.size();
    for (auto [name, v] : {std::pair{"log_eta2_over_B", &g.u}, {"activation_rate", &g.act}, {"weight_norm_first", &g.wn_first},
                           {"weight_norm_last", &g.wn_last}, {"hessian_trace_exact", &g.trace}, {"hessian_trace_hutchinson", &g.hutch},
                           {"eq62_bound", &g.bound}, {"test_error", &g.test_error}, {"test_loss", &g.test_loss}, {"step", &g.step}})
      h5::write(grp, name, *v, {n});
    h5::write(grp, "run", g.run_of, {n});
    h5::write(grp, "network", g.network, {n});
    std::vector<double> eta, x;
    std::vector<std::int64_t> batch, matched;
    for (const auto& m : g.runs) { eta.push_back(m.eta); x.push_back(m.x); batch.push_back(m.batch); matched.push_back(m.matched); }
    h5::write(grp, "run_eta", eta, {hsize_t(eta.size())});
    h5::write(grp, "run_batch", batch, {hsize_t(batch.size())});
    h5::write(grp, "run_eta2_over_B", x, {hsize_t(x.size())});
    h5::write(grp, "run_matched", matched, {hsize_t(matched.size())});
    for (auto [name, sl] : {std::pair{"slope_activation_rate", &g.act_vs_u}, {"slope_weight_norm_first", &g.wn_first_vs_u},
                            {"slope_weight_norm_last", &g.wn_last_vs_u}, {"slope_hessian_trace", &g.trace_vs_u},
                            {"slope_test_error", &g.test_error_vs_u}, {"slope_test_error_controlled", &g.test_error_vs_u_controlled}})
      h5::attr(grp, name, std::vector<double>{sl->slope, sl->se, double(sl->n)});
    h5::write(grp, "correlation", g.corr, {5, 5});
    h5::attr(grp, "bound_records", g.bound_records);
    h5::attr(grp, "bound_holds", g.bound_holds);
    h5::attr(grp, "paper_eq62_below_trace", g.paper_below);
    h5::attr(grp, "bound_ratio_min_median_max", std::vector<double>{g.ratio_min, g.ratio_median, g.ratio_max});

    char b[512];
    std::snprintf(b, sizeof b, "\n### %s (target training loss L* = %.4g)\n\n", parts[p].name, g.target_loss);
    md += b;
    md += "| run | eta^2 / B | matched | step | activation rate | norm W_first | norm W_last | Tr H (exact) | Tr H (Hutchinson) | Eq. 62 bound | test error |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& m : g.runs) {
      std::snprintf(b, sizeof b, "| %s | %.3g | %d/%d | %.0f | %s | %s | %s | %s | %s | %s | %s |\n", m.name.c_str(), m.x,
                    m.matched, m.networks, m.step, fmt_pm(m.act, m.act_se).c_str(), fmt_pm(m.wn_first, m.wn_first_se).c_str(),
                    fmt_pm(m.wn_last, m.wn_last_se).c_str(), fmt_pm(m.trace, m.trace_se).c_str(),
                    fmt_pm(m.hutch, m.hutch_se).c_str(), fmt_pm(m.bound, m.bound_se).c_str(),
                    fmt_pm(m.test_error, m.test_error_se).c_str());
      md += b;
    }
    md += "\n- Does the activation rate fall as eta^2/|B| grows? " + slope_text(g.act_vs_u, "yes, it falls", "no, it rises") + "\n";
    md += "- Do the weight norms fall? first layer " + slope_text(g.wn_first_vs_u, "falls", "rises") + "; last layer " +
          slope_text(g.wn_last_vs_u, "falls", "rises") + "\n";
    md += "- Does the Hessian trace fall with it? " + slope_text(g.trace_vs_u, "yes, it falls", "no, it rises") + "\n";
    md += "- Does test error improve with eta^2/|B|? " + slope_text(g.test_error_vs_u, "yes, it falls", "no, it rises") + "\n";
    const bool expl = g.test_error_vs_u.resolved() && !g.test_error_vs_u_controlled.resolved();
    md += "- Is that explained by the activation rate and weight norms? with them as regressors the slope is " +
          slope_text(g.test_error_vs_u_controlled, "still falling", "still rising") + ": " +
          (!g.test_error_vs_u.resolved() ? "no effect of eta^2/|B| to explain"
           : expl                        ? "yes, they account for it"
                                         : "no, it appears without them") +
          "\n";
    std::snprintf(b, sizeof b,
                  "- The Eq. 62 bound (THEORY.md) holds at %lld of %lld records with a Hessian; bound / Tr H: min %.3g, "
                  "median %.3g, max %.3g. The paper's printed Eq. 62 is below Tr H at %lld of them. Hutchinson against the "
                  "exact trace: mean z %.2f, max |z| %.2f\n",
                  (long long)g.bound_holds, (long long)g.bound_records, g.ratio_min, g.ratio_median, g.ratio_max,
                  (long long)g.paper_below, g.hutch_z_mean, g.hutch_z_max);
    md += b;
    md += "- Correlations over the matched networks (";
    for (std::size_t k = 0; k < g.corr_names.size(); ++k) md += (k ? ", " : "") + g.corr_names[k];
    md += "):\n\n";
    for (std::size_t r = 0; r < 5; ++r) {
      md += "      ";
      for (std::size_t c = 0; c < 5; ++c) {
        std::snprintf(b, sizeof b, " %6.2f", g.corr[r * 5 + c]);
        md += b;
      }
      md += "\n";
    }
  }
  file.commit();
  return md;
}

}  // namespace

int net_main(int argc, char** argv) {
  po::options_description desc(
      "soret net: SGD on ensembles of two-layer ReLU networks f(x) = V.relu(Wx + b), as walkers in parameter space\n"
      "Usage: soret net [options]\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("config", po::value<std::string>(), "INI file with option = value lines (command line wins)")
    ("study", po::value<std::string>()->default_value(""), "'paper': the paper's two-layer experiments (Fig. 2 top row, Figs. 3-10); 'deep': deep nets and Fashion-MNIST (Fig. 2 middle and bottom rows, Figs. 11-14 setting); 'generalization': Appendix A.5 tested, at matched training loss (two-layer teacher task and Fashion-MNIST fc:300 with finite training sets, held-out sets, Hessian traces, Eq. 62 bound); into --out DIR")
    ("arch", po::value<std::string>()->default_value("twolayer"), "twolayer (--inputs/--hidden) | fc:W1,W2,... (hidden widths, ReLU) | conv:C1,C2,... (convolutions, ReLU, then one dense output layer)")
    ("kernel", po::value<int>()->default_value(5), "conv: kernel size K")
    ("stride", po::value<int>()->default_value(1), "conv: stride S (no padding)")
    ("classes", po::value<int>()->default_value(2), "2: one logit (binary task; on images: class is even) | C > 2: C logits with --loss ce")
    ("data-dir", po::value<std::string>()->default_value(""), "directory of the image data set (fashion-mnist: where Debian's dataset-fashion-mnist puts it)")
    ("split", po::value<std::string>()->default_value("train"), "image data: the set the records are measured on (train | test); training uses train")
    ("grad-samples", po::value<int>()->default_value(256), "deep nets: fresh samples S per record for the gradient variance, activation rates, loss, accuracy")
    ("sampler", po::value<std::string>()->default_value("auto"), "deep nets: online | replacement | epoch | full (auto: online for fresh synthetic data, else replacement)")
    ("inputs", po::value<int>()->default_value(10), "input dimension M")
    ("hidden", po::value<int>()->default_value(10), "hidden units N")
    ("data", po::value<std::string>()->default_value("gaussian"), "gaussian (x ~ N(0,I), with biases) | uniform (x ~ U(0,1)^M, no biases) | fashion-mnist | cifar10 (pixel / 255)")
    ("labels", po::value<std::string>()->default_value("random"), "random (independent of x) | teacher (a fixed random ReLU net)")
    ("loss", po::value<std::string>()->default_value("auto"), "bce (with logits) | mse | ce (softmax cross-entropy; auto: bce for 2 classes, ce otherwise)")
    ("eta", po::value<std::string>()->default_value("0.025,0.05,0.075,0.1"), "learning rates (comma list)")
    ("batch", po::value<std::string>()->default_value("1"), "batch sizes (comma list)")
    ("ensemble", po::value<int>()->default_value(256), "networks per run")
    ("steps", po::value<long long>()->default_value(5000), "SGD steps")
    ("record-every", po::value<long long>()->default_value(10), "record every K steps")
    ("init", po::value<std::string>()->default_value("pytorch"), "pytorch (nn.Linear/nn.Conv2d defaults: uniform in +-1/sqrt(fan_in)) | gaussian:SW,SB,SV (twolayer: W ~ N(0, SW^2/M), b ~ N(0, SB^2), V ~ N(0, SV^2/N); fc/conv: every hidden layer's weights ~ N(0, SW^2/fan_in), the output layer's ~ N(0, SV^2/fan_in), every bias ~ N(0, SB^2))")
    ("train-size", po::value<long long>()->default_value(0), "0: fresh samples every step (image data: the whole train split); "
        "n: a fixed training set of n examples (image data: the first n of the train split)")
    ("test-size", po::value<long long>()->default_value(0), "n > 0: a held-out set (synthetic: n examples from their own stream, "
        "same teacher; image data: the first n of the test split); records train_loss, train_error (whole training set) and "
        "test_loss, test_error; --sampler auto becomes epoch (each training example once per epoch); generic backend")
    ("hessian-every", po::value<int>()->default_value(0), "every K records (0: off) the Hessian of the training loss: "
        "hessian_trace (Hutchinson) and its SE, gauss_newton_trace (exact), eq62_bound (validation/THEORY.md); generic backend")
    ("hessian-probes", po::value<int>()->default_value(32), "Rademacher probes of the Hutchinson trace (>= 2)")
    ("hessian-samples", po::value<int>()->default_value(256), "the Hessian's training loss: the whole fixed training set "
        "if it has at most this many examples, else this many drawn from it (or fresh samples)")
    ("probe", po::value<int>()->default_value(0), "also the activation rate on P fixed probe samples at each record")
    ("grid-v", po::value<std::string>()->default_value("-1:1:40"), "(V_i, b_i) density grid along V: LO:HI:BINS (BINS 0: off)")
    ("grid-b", po::value<std::string>()->default_value("-1:1:40"), "... along b: LO:HI:BINS")
    ("compare", po::value<bool>()->default_value(false), "1: also full-batch GD and frozen-V SGD at the largest eta (mechanism; slow)")
    ("full-batch", po::value<int>()->default_value(1024), "samples per full-batch gradient (online data)")
    ("early", po::value<long long>()->default_value(0), "early-time window of the rate fits: records with t <= EARLY (slope at t=0 of a per-network quadratic; 0: max(6 x record-every, steps/10))")
    ("bootstrap", po::value<int>()->default_value(200), "bootstrap resamples for collapse intervals")
    ("seed", po::value<unsigned long long>()->default_value(1), "random seed")
    ("threads", po::value<int>()->default_value(0), "OpenMP threads (0: all); results do not depend on it")
    ("out", po::value<std::string>()->default_value("soret-net.h5"), "output HDF5 file (a directory with --study)")
    ("max-memory", po::value<std::string>()->default_value("80%"), "refuse a run whose estimated memory exceeds this (bytes, K/M/G/T, or % of the machine; 0: no limit)")
    ("density-every", po::value<long long>()->default_value(0), "records between two (V_i, b_i) density snapshots (0: a tenth of the records, which follows --steps: "
        "give it to extend a run with --restart --steps)")
    ("checkpoint", po::value<std::string>(), "checkpoint file (default: OUT with .checkpoint.h5, with --study OUT/study.checkpoint.h5; on --restart, the restart file); "
        "when given, the state after each complete run of the sweep (and the final one) is checkpointed too, so that the run can be extended")
    ("checkpoint-every", po::value<long long>()->default_value(0), "write the complete state every K steps of a run (a multiple of --record-every; "
        "atomically: the previous checkpoint stays until the new one is complete); 0: only on SIGINT/SIGTERM")
    ("stop-at", po::value<long long>()->default_value(0), "stop at step T of the sweep or study (its runs one after another), rounded up to a record "
        "boundary, as on SIGTERM: checkpoint, partial output, exit status 75; continue with --restart; 0: run to the end")
    ("study-size", po::value<std::string>()->default_value("full"), "with --study: full (the paper's sizes) | tiny (seconds, for tests and smoke "
        "runs; not for conclusions. paper: every part with 8 networks, 200 steps, full-batch gradients of 32 samples; deep: 2 "
        "networks, 10 steps, records every 5 steps with S = 8)")
    ("restart", po::value<std::string>(), "continue the run of a checkpoint: its options are taken back (a contradicting one is "
        "refused), --steps is the total length of each run; the output equals an uninterrupted run's")
    ("progress", po::value<std::string>()->default_value("auto"), "always | auto (on a terminal) | never; without a terminal, always prints a line per 5%")
    ("quiet,q", "no progress (unless --progress always) and no summary");
  // clang-format on
  po::variables_map vm;
  if (!parse_options(desc, argc, argv, vm)) return 0;
  // MPI ranks: every rank runs this command alike (each trains its share of the networks, the
  // trainers share the results); rank 0 prints and writes (io/atomic_file.hpp).
  const bool quiet = vm.count("quiet") > 0 || !mpi::root();

  // --restart: the checkpoint's state and options (read and verified before anything else).
  const bool restarting = vm.count("restart") > 0;
  NetState rstate;
  io::CheckpointHeader rhead;
  if (restarting) {
    const std::string rpath = vm["restart"].as<std::string>();
    mpi::agreed([&] { rstate = io::read_net_state(rpath, &rhead); }, true);  // (a rank that cannot read it stops them all)
    apply_stored_options(desc, vm, rhead.options, rpath, {"steps", "out", "checkpoint-every"});
    // (the stored options hold --study: a study's checkpoint makes this run that study)
    const auto at = rhead.context.find("study = ");
    const std::string of_study = at == std::string::npos ? "" : rhead.context.substr(at + 8, rhead.context.find('\n', at) - at - 8);
    if (of_study != vm["study"].as<std::string>())
      throw InputError("restart", "--restart: '" + rpath + "' is the checkpoint of " +
                                      (of_study.empty() ? std::string("a sweep") : "--study " + of_study) +
                                      ", not of --study " + vm["study"].as<std::string>() + "; a restart continues the same run");
  }
  if (vm["study"].defaulted() && !vm["study-size"].defaulted())
    throw InputError("study-size", "--study-size goes with --study paper, deep or generalization");

  Study s;
  s.cfg.M = vm["inputs"].as<int>();
  s.cfg.N = vm["hidden"].as<int>();
  const std::string data_name = vm["data"].as<std::string>();
  const bool image = data_name == "fashion-mnist" || data_name == "cifar10";
  s.cfg.data = image ? Data::gaussian : parse_data(data_name);
  s.cfg.labels = parse_labels(vm["labels"].as<std::string>());
  const int classes = vm["classes"].as<int>();
  if (classes < 2 || classes > 1000) throw InputError("classes", "--classes must be in [2, 1000]");
  const std::string loss_name = vm["loss"].as<std::string>();
  s.cfg.loss = parse_loss(loss_name == "auto" ? (classes > 2 ? "ce" : "bce") : loss_name);
  if ((s.cfg.loss == Loss::ce) != (classes > 2))
    throw InputError("loss", "--loss ce goes with --classes > 2, bce and mse with --classes 2");
  const std::string arch_name = vm["arch"].as<std::string>();
  const long long test_size = vm["test-size"].as<long long>();
  const int hessian_every = vm["hessian-every"].as<int>();
  if (test_size < 0 || test_size > 10000000) throw InputError("test-size", "--test-size must be in [0, 1e7] (every record evaluates the whole set)");
  if (hessian_every < 0) throw InputError("hessian-every", "--hessian-every must be >= 0");
  // (held-out sets and Hessians are measured by the generic backend, which also runs the two-layer model)
  const bool generic = arch_name != "twolayer" || image || classes != 2 || test_size > 0 || hessian_every > 0;
  s.cfg.init = Init::parse(vm["init"].as<std::string>());
  const long long n = vm["train-size"].as<long long>();
  if (n < 0) throw InputError("train-size", "--train-size must be >= 0");
  s.cfg.train_size = std::uint64_t(n);
  s.cfg.validate();
  for (const auto& t : split(vm["eta"].as<std::string>(), ',')) {
    const double e = parse_double(t, "eta");
    if (!(e > 0) || !std::isfinite(e)) throw InputError("eta", "--eta values must be finite and > 0");
    s.etas.push_back(e);
  }
  for (const auto& t : split(vm["batch"].as<std::string>(), ',')) {
    const long long b = parse_int(t, "batch");
    if (b < 1 || b > 1000000) throw InputError("batch", "--batch values must be in [1, 1e6]");
    s.batches.push_back(int(b));
  }
  if (s.etas.empty()) throw InputError("eta", "--eta needs at least one value");
  if (s.batches.empty()) throw InputError("batch", "--batch needs at least one value");
  {  // Each run of the sweep is stored under its name (eta printed with %g): two runs with one
     // name would collide only after the whole sweep has run.
    std::vector<std::string> seen;
    for (int B : s.batches)
      for (double e : s.etas) {
        const std::string name = "eta=" + fmtd(e) + "_B=" + std::to_string(B);
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
          const bool dup_batch = std::count(s.batches.begin(), s.batches.end(), B) > 1;
          const std::string opt = dup_batch ? "batch" : "eta";
          throw InputError(opt, "--" + opt + ": two runs of the sweep would have the same name '" + name +
                                    "' (values equal, or equal to 6 significant digits); give distinct values");
        }
        seen.push_back(name);
      }
  }
  s.opt.ensemble = vm["ensemble"].as<int>();
  if (s.opt.ensemble < 2) throw InputError("ensemble", "--ensemble must be >= 2");
  const long long T = vm["steps"].as<long long>(), K = vm["record-every"].as<long long>();
  if (T < 1) throw InputError("steps", "--steps must be >= 1");
  if (K < 1) throw InputError("record-every", "--record-every must be >= 1");
  s.opt.steps = std::uint64_t(T);
  s.opt.record_every = std::uint64_t(K);
  s.opt.seed = vm["seed"].as<unsigned long long>();
  s.opt.threads = threads_option(vm);
  s.opt.probe = vm["probe"].as<int>();
  if (s.opt.probe < 0) throw InputError("probe", "--probe must be >= 0");
  const auto pm = progress_mode(vm["progress"].as<std::string>(), quiet);
  s.opt.progress = pm.enabled && mpi::root();  // (one progress line: rank 0's)
  Progress::set_log_lines(pm.log, 5.0);
  auto grid = [&](const std::string& opt, double& lo, double& hi, int& bins) {
    const auto p = split(vm[opt].as<std::string>(), ':');
    if (p.size() != 3) throw InputError(opt, "--" + opt + " must be LO:HI:BINS");
    lo = parse_double(p[0], opt);
    hi = parse_double(p[1], opt);
    const long long b = parse_int(p[2], opt);
    if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(hi - lo) || b < 0 || b > 10000)
      throw InputError(opt, "--" + opt + " needs finite LO < HI and 0 <= BINS <= 1e4");
    bins = int(b);
  };
  grid("grid-v", s.opt.v_lo, s.opt.v_hi, s.opt.grid_bins_v);
  grid("grid-b", s.opt.b_lo, s.opt.b_hi, s.opt.grid_bins_b);
  s.compare = vm["compare"].as<bool>();
  s.full_batch = vm["full-batch"].as<int>();
  if (s.full_batch < 1) throw InputError("full-batch", "--full-batch must be >= 1");
  const long long early = vm["early"].as<long long>();
  if (early < 0) throw InputError("early", "--early must be >= 0");
  s.early = std::uint64_t(early);
  s.bootstrap = vm["bootstrap"].as<int>();
  if (s.bootstrap < 0) throw InputError("bootstrap", "--bootstrap must be >= 0");
  {
    const long long de = vm["density-every"].as<long long>();
    if (de < 0) throw InputError("density-every", "--density-every must be >= 0");
    s.opt.density_every = std::uint64_t(de);
  }
  const std::string out = vm["out"].as<std::string>();
  const std::string study = vm["study"].as<std::string>();
  if (!study.empty() && study != "paper" && study != "deep" && study != "generalization")
    throw InputError("study", "--study must be 'paper', 'deep' or 'generalization'");
  if (!study.empty()) {
    // A study fixes its models, sweeps and sizes: any other option would be silently ignored, so it is refused.
    std::vector<std::string> allowed = {"study", "out", "threads", "seed", "bootstrap", "data-dir", "progress",
                                        "quiet", "config", "help"};
    // checkpoint and restart (the stored options of a study are the ones above)
      for (const char* o : {"study-size", "checkpoint", "checkpoint-every", "stop-at", "restart"}) allowed.push_back(o);
    for (const auto& [name, value] : vm)
      if (!value.defaulted() && std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        throw InputError(name, "--" + name + " cannot be combined with --study " + study +
                                   ", which sets its own models and sizes (with --study: --out, --threads, --seed, "
                                   "--bootstrap, --data-dir, --progress, --quiet" +
                                   ", --study-size, --checkpoint, --checkpoint-every, --stop-at, --restart" +
                                   "); run without --study to choose them");
  }

  DeepCli d;
  d.arch = arch_name;
  d.data = data_name;
  d.kernel = vm["kernel"].as<int>();
  d.stride = vm["stride"].as<int>();
  d.classes = classes;
  d.data_dir = vm["data-dir"].as<std::string>();
  d.split = vm["split"].as<std::string>();
  d.grad_samples = vm["grad-samples"].as<int>();
  d.sampler = vm["sampler"].as<std::string>();
  d.test_size = std::uint64_t(test_size);
  d.hessian_every = hessian_every;
  d.hessian_probes = vm["hessian-probes"].as<int>();
  d.hessian_samples = vm["hessian-samples"].as<int>();
  if (d.hessian_probes < 2 || d.hessian_probes > 100000) throw InputError("hessian-probes", "--hessian-probes must be in [2, 1e5]");
  if (d.hessian_samples < 1 || d.hessian_samples > 1000000)
    throw InputError("hessian-samples", "--hessian-samples must be in [1, 1e6]");
  if (d.grad_samples != 0 && d.grad_samples < 2) throw InputError("grad-samples", "--grad-samples must be 0 or >= 2");
  if (d.split != "train" && d.split != "test") throw InputError("split", "--split must be train or test");
  if (!image && d.split != "train") throw InputError("split", "--split test needs an image data set (--data fashion-mnist or cifar10)");
  if (d.sampler != "auto") parse_sampler(d.sampler);
  const double budget = parse_memory_size(vm["max-memory"].as<std::string>(), "max-memory");
  if (!generic && study.empty())  // (each rank's node: agreed)
    mpi::agreed([&] { enforce_memory_budget(estimate_twolayer_memory(s), budget); }, true);
  std::string size = vm["study-size"].as<std::string>();
  if (size != "full" && size != "tiny") throw InputError("study-size", "--study-size must be full or tiny");
  const bool tiny = size == "tiny";
  // Record period of every part of a study (checkpoints fall on its multiples).
  const std::uint64_t study_K = study == "paper" ? kPaperRecordEvery
                                : tiny             ? kDeepTinyRecordEvery
                                : study == "deep"  ? 200
                                                   : 1000;  // (generalization: records every 1000 and 250 steps)

  // Checkpoints: to --checkpoint, or the restart file, or OUT.checkpoint.h5 (--study paper:
  // OUT/study.checkpoint.h5) (periodic ones, the
  // ones after each complete run when --checkpoint is given, and the one written on a stop).
  SweepControl ctl;
  ctl.threads = s.opt.threads > 0 ? s.opt.threads : omp_get_max_threads();
  if (study.empty()) {
    mpi::agreed([&] { io::check_output_file(out, "out"); });
    ctl.restarting = restarting;
    if (restarting) ctl.restart_path = vm["restart"].as<std::string>();
    ctl.ckpath = vm.count("checkpoint") ? vm["checkpoint"].as<std::string>()
                 : restarting           ? ctl.restart_path
                                        : io::default_checkpoint_path(out);
    mpi::agreed([&] { io::check_output_file(ctl.ckpath, "checkpoint"); });
    if (ctl.ckpath == out) throw InputError("checkpoint", "--checkpoint: the checkpoint and --out must be different files");
    const long long ce = vm["checkpoint-every"].as<long long>(), sa = vm["stop-at"].as<long long>();
    if (ce < 0) throw InputError("checkpoint-every", "--checkpoint-every must be >= 0");
    if (ce % K != 0)
      throw InputError("checkpoint-every", "--checkpoint-every must be a multiple of --record-every (" + std::to_string(K) +
                                               "): checkpoints fall on record boundaries");
    if (sa < 0) throw InputError("stop-at", "--stop-at must be >= 0");
    ctl.every = std::uint64_t(ce);
    ctl.stop_at = std::uint64_t(sa);
    ctl.checkpoint_runs = vm.count("checkpoint") > 0 || ce > 0;
    OptionRecord record;
    record_options(record, vm, {"arch", "kernel", "stride", "classes", "data-dir", "split", "grad-samples", "sampler",
                                "inputs", "hidden", "data", "labels", "loss", "eta", "batch", "ensemble", "steps",
                                "record-every", "init", "train-size", "test-size", "hessian-every", "hessian-probes",
                                "hessian-samples", "probe", "grid-v", "grid-b", "compare", "full-batch",
                                "early", "bootstrap", "seed", "density-every", "out", "checkpoint-every"});
    ctl.ini = record.ini();
    ctl.context = generic ? "backend = generic" : "backend = twolayer";
    if (restarting && rstate.backend != (generic ? "generic" : "twolayer"))
      throw InputError("restart", "--restart: '" + ctl.restart_path + "' is a checkpoint of a " +
                                      (rstate.backend == "generic" ? "generic-backend (--arch fc/conv)" : "two-layer") +
                                      " run; this run is " + (generic ? "--arch " + arch_name : "two-layer"));
  } else {  // --study paper|deep: one checkpoint for the whole study, its runs one after another, part by part
    const long long ce = vm["checkpoint-every"].as<long long>(), sa = vm["stop-at"].as<long long>();
    if (ce < 0) throw InputError("checkpoint-every", "--checkpoint-every must be >= 0");
    if (std::uint64_t(ce) % study_K != 0)
      throw InputError("checkpoint-every", "--checkpoint-every must be a multiple of the study's record period (" +
                                               std::to_string(study_K) + "): checkpoints fall on record boundaries");
    if (sa < 0) throw InputError("stop-at", "--stop-at must be >= 0");
    mpi::agreed([&] { io::check_output_dir(out, "out"); });
    ctl.restarting = restarting;
    if (restarting) ctl.restart_path = vm["restart"].as<std::string>();
    ctl.ckpath = vm.count("checkpoint") ? vm["checkpoint"].as<std::string>()
                 : restarting           ? ctl.restart_path
                                        : out + "/study.checkpoint.h5";
    mpi::agreed([&] { io::check_output_file(ctl.ckpath, "checkpoint"); });
    ctl.every = std::uint64_t(ce);
    ctl.stop_at = std::uint64_t(sa);
    ctl.checkpoint_runs = vm.count("checkpoint") > 0 || ce > 0;
    OptionRecord record;
    record_options(record, vm, {"study", "study-size", "seed", "bootstrap", "data-dir", "out", "checkpoint-every"});
    ctl.ini = record.ini();
    const std::string backend = study == "paper" ? "twolayer" : "generic";
    ctl.context = "backend = " + backend + "\nstudy = " + study;
    if (restarting && rstate.backend != backend)
      throw InputError("restart", "--restart: '" + ctl.restart_path + "' is not a checkpoint of --study " + study);
  }
  // --stop-at counts the steps of the whole sweep: it must lie inside it, and after the checkpoint.
  auto check_stop = [&](const std::vector<std::uint64_t>& steps, std::uint64_t restarted_at) {
    std::uint64_t total = 0;
    for (auto x : steps) total += x;
    if (ctl.stop_at > 0 && ctl.stop_at >= total)
      throw InputError("stop-at", "--stop-at must be below the sweep's length (" + std::to_string(total) + " steps: its runs one after another)");
    if (ctl.stop_at > 0 && restarting && ctl.stop_at <= restarted_at)
      throw InputError("stop-at", "--stop-at: the checkpoint is at step " + std::to_string(restarted_at) + " of the sweep already");
  };
  if (study == "deep")
    return parts_study(study, deep_parts(), s, d, out, quiet, tiny, ctl, restarting ? &rstate : nullptr, check_stop);
  if (study == "generalization")
    return parts_study(study, generalization_parts(), s, d, out, quiet, tiny, ctl, restarting ? &rstate : nullptr, check_stop,
                       [&](const std::vector<StudyPart>& ps, const std::vector<DeepSweep>&, const std::vector<DeepSweepOutput>& os) {
                         return generalization_report(out, ps, os);
                       });
  if (generic) {
    std::vector<std::uint64_t> steps(s.etas.size() * s.batches.size(), s.opt.steps);
    check_stop(steps, restarting ? sweep_step(steps, rstate.deep.size(), rstate.t()) : 0);
    return deep_run(s, d, out, quiet, budget, ctl, restarting ? &rstate : nullptr);
  }

  auto params = [&](const Study& st) {
    const std::vector<double> etas = st.etas;
    const std::vector<std::int64_t> batches(st.batches.begin(), st.batches.end());
    return std::vector<Parameter>{
        {"inputs", std::int64_t(st.cfg.M)}, {"hidden", std::int64_t(st.cfg.N)}, {"data", to_string(st.cfg.data)},
        {"labels", to_string(st.cfg.labels)}, {"loss", to_string(st.cfg.loss)}, {"eta", etas}, {"batch", batches},
        {"ensemble", std::int64_t(st.opt.ensemble)}, {"steps", std::int64_t(st.opt.steps)},
        {"record_every", std::int64_t(st.opt.record_every)}, {"init", st.cfg.init.text()},
        {"train_size", std::int64_t(st.cfg.train_size)}, {"probe", std::int64_t(st.opt.probe)},
        {"compare", std::int64_t(st.compare)}, {"full_batch", std::int64_t(st.full_batch)},
        {"seed", std::int64_t(st.opt.seed)},
        {"threads", std::int64_t(st.opt.threads > 0 ? st.opt.threads : omp_get_max_threads())},
        {"bootstrap", std::int64_t(st.bootstrap)}};
  };

  if (study.empty()) {
    const auto jobs = study_jobs(s);
    std::vector<RunSpec> specs;
    std::vector<std::uint64_t> steps;
    for (const auto& j : jobs) {
      specs.push_back(j.spec);
      steps.push_back(j.opt.steps);
    }
    if (restarting) ctl.restarted_at = sweep_step(steps, rstate.runs.size(), rstate.t());
    check_stop(steps, ctl.restarted_at);
    if (!quiet) {
      std::printf("soret net %s: M=%d N=%d, %s data, %s labels, %s loss, E=%d, %llu steps\n", soret::version, s.cfg.M,
                  s.cfg.N, to_string(s.cfg.data).c_str(), to_string(s.cfg.labels).c_str(),
                  to_string(s.cfg.loss).c_str(), s.opt.ensemble, (unsigned long long)s.opt.steps);
      if (!restarting) print_estimate("  size", s, estimate(s));
    }
    StudyOutput o;
    bool complete = false;
    {
      InterruptScope interrupt;  // SIGINT/SIGTERM: finish the block, checkpoint, partial output
      complete = run_jobs<RunResult>(
          specs, steps, rstate.runs, ctl,
          [&](std::size_t i, const RunResult* from, const BlockPlan& bp, const std::function<void(const RunResult&)>& ck) {
            TrainOptions op = jobs[i].opt;
            op.resume = from;
            op.blocks = bp;
            op.on_checkpoint = ck;
            return train(s.cfg, jobs[i].spec, op);
          },
          [&](const std::vector<RunResult>& v) { ctl.write(v); },
          [&](std::size_t i, const RunResult& r) {
            if (jobs[i].spec.mode == Mode::sgd) warn_if_all_diverged(jobs[i].spec.name, r.diverged_at);
            if (!quiet) print_run(jobs[i], r);
          },
          o.runs);
    }
    std::size_t ncomplete = 0;
    for (const auto& r : o.runs) ncomplete += r.complete;
    const std::uint64_t t_reached = o.runs.empty() ? 0 : o.runs.back().t_reached;
    if (!complete) {
      const std::string partial = io::partial_output_path(out);
      if (!o.runs.empty() && o.runs.back().records() == 0) o.runs.pop_back();
      for (const auto& r : o.runs) o.runaway.push_back(runaway_at(r, kRunawayFactor));
      write_study(partial, s, o, params(s), run_group(ctl, false, ncomplete, t_reached));
      return report_stop(ctl, partial);
    }
    analyse_study(s, o);
    write_study(out, s, o, params(s), run_group(ctl, true, ncomplete, t_reached));
    remove_if_partial(io::partial_output_path(out));  // (a stopped run's partial output, now superseded)
    if (!quiet) {
      std::fputs(summary(o).c_str(), stdout);
      print_checkpoints(ctl);
      std::printf("  wrote %s\n", out.c_str());
    }
    return 0;
  }

  // --study paper: the two-layer experiments of the paper (Appendix A.6 and Fig. 2, top row).
  // Its runs, part after part, are one sweep for checkpoints, --stop-at and --restart (run_jobs):
  // the checkpoint holds every run begun (complete parts' runs too, so that a restart rebuilds
  // their files and summary.md exactly). A part's file (and summary.md, with the parts complete so
  // far) is written when its last run completes, and replaces the part's PART.partial.h5; a stop
  // writes the part in progress to PART.partial.h5 (/run@complete = 0) only.
  std::string top;  // the first screen: one row per claim tested, filled part by part
  std::string md = "# soret net --study paper\n\nsoret " + std::string(soret::version) +
                   ". Collapse: best exponent k of tau = t eta^k (or t / |B|^k) with a bootstrap 95% interval over "
                   "networks; early rate: slope at t = 0 per step, log-log exponent vs eta or |B|; mechanism: "
                   "early rates of SGD against full-batch GD and frozen-V SGD from the same initial states.\n";
  struct Part { const char* name; int M, N; Data data; std::vector<double> etas; std::vector<int> batches; int E; long long T; };
  std::vector<Part> parts = {
      {"gaussian_eta", 10, 10, Data::gaussian, {0.025, 0.05, 0.075, 0.1}, {1}, 512, 20000},
      {"gaussian_batch", 10, 10, Data::gaussian, {0.05}, {1, 2, 3}, 512, 20000},
      {"uniform_eta", 10, 10, Data::uniform, {0.025, 0.05, 0.075, 0.1}, {1}, 512, 20000},
      {"uniform_batch", 10, 10, Data::uniform, {0.05}, {1, 2, 3}, 512, 20000},
      {"fig2_gaussian_eta_M100", 100, 100, Data::gaussian, {0.025, 0.05, 0.075, 0.1}, {1}, 128, 10000}};
  if (tiny)
    for (auto& p : parts) {
      p.E = 8;
      p.T = 200;
    }
  auto part_study = [&](const Part& p) {
    Study st = s;
    st.cfg.M = p.M;
    st.cfg.N = p.N;
    st.cfg.data = p.data;
    st.etas = p.etas;
    st.batches = p.batches;
    st.opt.ensemble = p.E;
    st.opt.steps = std::uint64_t(p.T);
    st.opt.record_every = kPaperRecordEvery;
    st.compare = std::string(p.name) == "gaussian_eta" || std::string(p.name) == "uniform_eta" ||
                 std::string(p.name) == "fig2_gaussian_eta_M100";
    st.full_batch = tiny ? 32 : 256;
    // At M = N = 100 a full-batch step costs 256 sample-passes of a 10^4-parameter net: the
    // mechanism runs use the first 32 networks (measured: about 30 s per network on this machine).
    if (p.M == 100) st.compare_ensemble = 32;
    return st;
  };
  // The study's runs in order: part_of[i] is run i's part, first[p] part p's first run.
  std::vector<Study> studies;
  std::vector<Job> jobs;
  std::vector<std::size_t> part_of, first;
  std::vector<RunSpec> specs;
  std::vector<std::uint64_t> steps;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    studies.push_back(part_study(parts[p]));
    first.push_back(jobs.size());
    for (const auto& j : study_jobs(studies.back())) {
      jobs.push_back(j);
      part_of.push_back(p);
      specs.push_back(j.spec);
      steps.push_back(j.opt.steps);
    }
  }
  first.push_back(jobs.size());
  if (restarting) ctl.restarted_at = sweep_step(steps, rstate.runs.size(), rstate.t());
  check_stop(steps, ctl.restarted_at);
  if (!quiet && !restarting) {
    double total = 0, nsteps = 0;
    std::printf("soret net --study paper%s: %zu parts into %s/\n", tiny ? " (--study-size tiny)" : "", parts.size(), out.c_str());
    for (const auto& p : parts) {
      const Study st = part_study(p);
      const Estimate e = estimate(st);
      print_estimate(("  " + std::string(p.name)).c_str(), st, e);
      total += e.seconds + e.compare_seconds;
      nsteps += e.network_steps;
    }
    std::printf("  in all %.3g network-steps, expected about %.0f s of training (plus the bootstrap intervals)\n", nsteps,
                total);
  }
  if (!quiet && restarting)
    std::printf("soret net --study paper: restarted from step %llu of the study (%zu of its %zu runs begun), %s\n",
                (unsigned long long)ctl.restarted_at, rstate.runs.size(), jobs.size(), ctl.restart_path.c_str());
  // Part p's output from the runs in `all` (those of p: complete, or the last in progress).
  auto part_output = [&](std::size_t p, const std::vector<RunResult>& all) { return part_runs<StudyOutput>(first, p, all); };
  std::vector<RunResult> all;
  bool complete = false;
  {
    InterruptScope interrupt;  // SIGINT/SIGTERM: finish the block, checkpoint, partial output
    complete = run_jobs<RunResult>(
        specs, steps, rstate.runs, ctl,
        [&](std::size_t i, const RunResult* from, const BlockPlan& bp, const std::function<void(const RunResult&)>& ck) {
          if (i == first[part_of[i]] && !quiet)
            std::printf("study %s: M=%d N=%d, %s data, E=%d, %lld steps\n", parts[part_of[i]].name, parts[part_of[i]].M,
                        parts[part_of[i]].N, to_string(parts[part_of[i]].data).c_str(), parts[part_of[i]].E,
                        parts[part_of[i]].T);
          TrainOptions op = jobs[i].opt;
          op.resume = from;
          op.blocks = bp;
          op.on_checkpoint = ck;
          return train(studies[part_of[i]].cfg, jobs[i].spec, op);
        },
        [&](const std::vector<RunResult>& v) { ctl.write(v); },
        [&](std::size_t i, const RunResult& r) {
          const std::size_t p = part_of[i];
          if (jobs[i].spec.mode == Mode::sgd) warn_if_all_diverged(jobs[i].spec.name, r.diverged_at);
          if (!quiet) print_run(jobs[i], r);
          if (i + 1 != first[p + 1]) return;
          // The part's last run: its analyses, its file, and summary.md with the parts so far.
          const Study& st = studies[p];
          StudyOutput o = part_output(p, all);
          analyse_study(st, o);
          write_study(out + "/" + parts[p].name + ".h5", st, o, params(st),
                      run_group(ctl, true, o.runs.size(), o.runs.back().t_reached));
          // The part's file supersedes the partial output a stop inside it left (removed only if
          // it is one: an HDF5 file marked /run@complete = 0).
          remove_if_partial(io::partial_output_path(out + "/" + parts[p].name + ".h5"));
          const std::string sm = summary(o);
          if (!quiet) std::fputs(sm.c_str(), stdout);
          char head[256];
          std::snprintf(head, sizeof head, "\n## %s: M = %d, N = %d, %s data, random labels, E = %d, %lld steps\n\n```\n",
                        parts[p].name, parts[p].M, parts[p].N, to_string(parts[p].data).c_str(), parts[p].E, parts[p].T);
          md += head + sm + "```\n";
          top += findings(parts[p].name, o);
          std::fflush(stdout);
          // After every part (a stopped study keeps what it found): the verdicts first, then the parts.
          io::write_file_atomic(out + "/summary.md",
                                md.substr(0, md.find('\n') + 1) +
                                    "\n## What holds (one row per claim tested; details per part below)\n\n"
                                    "Verdict rules: a collapse holds when its bootstrap 95% interval contains 2 (vs eta) or 1 (vs |B|), "
                                    "is unresolved when the interval is wider than the value, and is not supported at an end of the "
                                    "searched range; Eq. 8 holds when the step correlation is within 5 SE of 1; Eq. 27 when the measured "
                                    "noise part is within 5 SE of its prediction. Runaway: ||V|| > 100 ||V(0)||.\n\n"
                                    "| part | claim | measured | verdict |\n|---|---|---|---|\n" +
                                    top + md.substr(md.find('\n') + 1),
                                "out");
        },
        all);
  }
  if (!complete) {
    const std::size_t p = stopped_part(all, part_of);
    ctl.stopped_run = std::string(parts[p].name) + "/" + ctl.stopped_run;
    const std::string partial = io::partial_output_path(out + "/" + parts[p].name + ".h5");
    StudyOutput o = part_output(p, all);
    if (!o.runs.empty() && o.runs.back().records() == 0) o.runs.pop_back();
    for (const auto& r : o.runs) o.runaway.push_back(runaway_at(r, kRunawayFactor));
    std::size_t ncomplete = 0;
    for (const auto& r : o.runs) ncomplete += r.complete;
    write_study(partial, studies[p], o, params(studies[p]),
                run_group(ctl, false, ncomplete, o.runs.empty() ? 0 : o.runs.back().t_reached));
    return report_stop(ctl, partial);
  }
  if (!quiet) {
    print_checkpoints(ctl);
    std::printf("wrote %s/*.h5; plots: /usr/bin/python3 validation/plot_net.py %s\n", out.c_str(), out.c_str());
  }
  return 0;
}

}  // namespace soret::cli
