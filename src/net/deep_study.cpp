#include "soret/net/deep_study.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "soret/common/mpi.hpp"

namespace soret::net {

std::string run_name(double eta, int batch) {
  char b[64];
  std::snprintf(b, sizeof b, "eta=%g_B=%d", eta, batch);
  return b;
}

std::vector<RunSpec> sweep_specs(const std::vector<double>& etas, const std::vector<int>& batches) {
  std::vector<RunSpec> specs;
  for (int B : batches)
    for (double eta : etas) {
      RunSpec spec;
      spec.eta = eta;
      spec.batch = B;
      spec.name = run_name(eta, B);
      specs.push_back(spec);
    }
  return specs;
}

void print_run_line(const DeepRun& r, const DeepOptions& opt) {
  int div = 0;
  for (auto d : r.diverged_at) div += d >= 0;
  const double thread_seconds = r.seconds * mpi::size() * (opt.threads > 0 ? opt.threads : omp_get_max_threads());
  std::printf("  run %-18s %7.2f s  %9.0f network-steps/s  (records %.0f%% of thread time)  diverged %d/%d\n",
              r.spec.name.c_str(), r.seconds, double(opt.ensemble) * double(opt.steps) / r.seconds,
              100.0 * r.record_seconds / thread_seconds, div, opt.ensemble);
  std::fflush(stdout);
}

DeepSweepOutput run_deep_sweep(const DeepSweep& s, bool quiet) {
  DeepSweepOutput out;
  for (const RunSpec& spec : sweep_specs(s.etas, s.batches)) {
    out.runs.push_back(train_deep(*s.arch, *s.train, *s.eval, spec, s.opt));
    if (!quiet) print_run_line(out.runs.back(), s.opt);
  }
  out.collapses = deep_collapses(s, out.runs);
  deep_rates(s, out);
  return out;
}

std::uint64_t DeepSweep::early_window() const {
  return early > 0 ? early : std::max<std::uint64_t>(opt.record_every * 6, opt.steps / 10);
}

void deep_rates(const DeepSweep& s, DeepSweepOutput& o) {
  o.rates.clear();
  o.fits.clear();
  if (o.runs.empty() || s.opt.grad_samples < 2) return;
  std::vector<std::pair<std::string, int>> qs = {{"grad_var", 0}};
  const auto& labels = o.runs[0].rec.column("grad_var_layer").labels;
  for (size_t j = 0; j < labels.size(); ++j) qs.push_back({"grad_var_layer:" + labels[j], int(j)});
  const std::uint64_t t_end = s.early_window();
  for (const auto& r : o.runs)
    for (const auto& [name, j] : qs) {
      Series x;
      x.eta = r.spec.eta;
      x.batch = r.spec.batch;
      x.t = r.t;
      x.networks = r.diverged_at.size();
      x.v = r.rec.slice(j == 0 && name == "grad_var" ? "grad_var" : "grad_var_layer", size_t(j));
      o.rates.push_back(early_rate(x, r.spec.name, name, false, t_end));
    }
  for (const auto& [name, j] : qs) {
    if (s.etas.size() >= 2)
      for (int B : s.batches) {
        std::vector<EarlyRate> v;
        for (const auto& r : o.rates)
          if (r.quantity == name && r.batch == B) v.push_back(r);
        auto p = power_fit(v, "eta");
        p.quantity = name + "_B=" + std::to_string(B);
        o.fits.push_back(p);
      }
    if (s.batches.size() >= 2)
      for (double eta : s.etas) {
        std::vector<EarlyRate> v;
        for (const auto& r : o.rates)
          if (r.quantity == name && r.eta == eta) v.push_back(r);
        auto p = power_fit(v, "batch");
        char b[32];
        std::snprintf(b, sizeof b, "_eta=%g", eta);
        p.quantity = name + b;
        o.fits.push_back(p);
      }
  }
}

std::vector<Collapse> deep_collapses(const DeepSweep& s, const std::vector<DeepRun>& runs) {
  std::vector<Collapse> out;
  if (runs.empty() || s.opt.grad_samples < 2) return out;
  // (column, entry, quantity name): the gradient variance of all parameters and per layer, the
  // activation rate per hidden layer, the weight norm per layer.
  struct Q {
    std::string column;
    int j;
    std::string name;
  };
  std::vector<Q> qs = {{"grad_var", 0, "grad_var"}};
  for (const char* col : {"grad_var_layer", "activation_rate_layer", "weight_norm_layer"}) {
    const auto& labels = runs[0].rec.column(col).labels;
    for (size_t j = 0; j < labels.size(); ++j) qs.push_back({col, int(j), std::string(col) + ":" + labels[j]});
  }
  auto series = [&](const DeepRun& r, const Q& q) {
    Series x;
    x.eta = r.spec.eta;
    x.batch = r.spec.batch;
    x.t = r.t;
    x.networks = r.diverged_at.size();
    x.v = r.rec.slice(q.column, size_t(q.j));
    return x;
  };
  for (const auto& qq : qs) {
    const std::string& q = qq.name;
    const Q& j = qq;
    if (s.etas.size() >= 2)
      for (int B : s.batches) {
        std::vector<Series> ss;
        for (const auto& r : runs)
          if (r.spec.batch == B) ss.push_back(series(r, j));
        auto c = collapse(ss, q, "eta", false, s.bootstrap, s.opt.seed);
        c.quantity += "_B=" + std::to_string(B);
        out.push_back(c);
      }
    if (s.batches.size() >= 2)
      for (double eta : s.etas) {
        std::vector<Series> ss;
        for (const auto& r : runs)
          if (r.spec.eta == eta) ss.push_back(series(r, j));
        auto c = collapse(ss, q, "batch", false, s.bootstrap, s.opt.seed);
        char b[32];
        std::snprintf(b, sizeof b, "_eta=%g", eta);
        c.quantity += b;
        out.push_back(c);
      }
  }
  return out;
}

std::string deep_summary(const DeepSweep& s, const DeepSweepOutput& o) {
  std::string out;
  char buf[512];
  {  // the cost of the records (gradient variance from S per-sample gradients), measured apart
    double wall = 0, rec = 0, steps = 0;
    for (const auto& r : o.runs) {
      wall += r.seconds;
      rec += r.record_seconds;
      steps += double(r.diverged_at.size()) * double(s.opt.steps);
    }
    const int th = s.opt.threads > 0 ? s.opt.threads : omp_get_max_threads();
    const double samples = double(o.runs.empty() ? 0 : o.runs[0].records()) * double(s.opt.grad_samples) *
                           double(o.runs.empty() ? 0 : o.runs[0].diverged_at.size()) * double(o.runs.size());
    std::snprintf(buf, sizeof buf,
                  "  time %.1f s on %d threads; records (S = %d every %llu steps) %.1f s of %.1f s thread time (%.0f%%): "
                  "%.3g ms per record sample, training %.3g ms per network-step (thread time)\n",
                  wall, th, s.opt.grad_samples, (unsigned long long)s.opt.record_every, rec, wall * th,
                  wall > 0 ? 100.0 * rec / (wall * th) : 0.0, samples > 0 ? 1e3 * rec / samples : 0.0,
                  steps > 0 ? 1e3 * (wall * th - rec) / steps : 0.0);
    out += buf;
  }
  for (const auto& r : o.runs) {
    if (s.opt.grad_samples < 2) break;
    const auto gv = r.rec.slice("grad_var"), acc = r.rec.slice("accuracy");
    const size_t E = r.diverged_at.size(), R = r.records();
    auto mean = [&](const std::vector<double>& v, size_t k, double* se) {
      double m = 0, m2 = 0;
      int n = 0;
      for (size_t e = 0; e < E; ++e)
        if (std::isfinite(v[k * E + e])) { m += v[k * E + e]; m2 += v[k * E + e] * v[k * E + e]; ++n; }
      m /= std::max(n, 1);
      *se = n > 1 ? std::sqrt(std::max(0.0, m2 / n - m * m) / (n - 1)) : NAN;
      return m;
    };
    double s0, s1, sa;
    const double g0 = mean(gv, 0, &s0), g1 = mean(gv, R - 1, &s1), a1 = mean(acc, R - 1, &sa);
    std::snprintf(buf, sizeof buf, "  %-18s grad_var %.4g +- %.2g (t=0) -> %.4g +- %.2g (t=%llu); accuracy %.3f +- %.3f\n",
                  r.spec.name.c_str(), g0, s0, g1, s1, (unsigned long long)r.t.back(), a1, sa);
    out += buf;
  }
  for (const auto& c : o.collapses) {
    std::snprintf(buf, sizeof buf, "  collapse %-36s vs %-5s: %s\n", c.quantity.c_str(), c.variable.c_str(), c.text().c_str());
    out += buf;
  }
  if (!o.fits.empty()) {
    std::snprintf(buf, sizeof buf, "  early rates: slope at t = 0 of per-network quadratics over t <= %llu, then log|rate| vs log eta or log |B|\n",
                  (unsigned long long)s.early_window());
    out += buf;
  }
  for (const auto& r : o.rates)
    if (r.quantity == "grad_var") {
      if (std::isfinite(r.rate) && std::isfinite(r.se))
        std::snprintf(buf, sizeof buf, "  early rate grad_var %-18s %.3g +- %.2g per step\n", r.run.c_str(), r.rate, r.se);
      else  // fewer than 4 records in the window (or 2 networks): no slope
        std::snprintf(buf, sizeof buf, "  early rate grad_var %-18s not determined (too few records in the window)\n",
                      r.run.c_str());
      out += buf;
    }
  for (const auto& p : o.fits) {
    std::snprintf(buf, sizeof buf, "  early rate %-34s ~ %s\n", p.quantity.c_str(), p.text().c_str());
    out += buf;
  }
  return out;
}

}  // namespace soret::net
