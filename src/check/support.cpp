#include "check/support.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <boost/math/distributions/fisher_f.hpp>
#include <boost/math/distributions/normal.hpp>
#include <numeric>

#include "soret/common/mpi.hpp"
#include "soret/common/rng.hpp"

namespace soret::check {

std::vector<double> Replicas::mean() const {
  std::vector<double> m(samples.at(0).size(), 0.0);
  for (const auto& s : samples)
    for (size_t i = 0; i < m.size(); ++i) m[i] += s[i];
  for (auto& v : m) v /= double(samples.size());
  return m;
}

std::vector<double> Replicas::se() const {
  const auto m = mean();
  const double R = double(samples.size());
  std::vector<double> v(m.size(), 0.0);
  for (const auto& s : samples)
    for (size_t i = 0; i < m.size(); ++i) v[i] += (s[i] - m[i]) * (s[i] - m[i]);
  for (auto& x : v) x = std::sqrt(x / (R - 1) / R);
  return v;
}

std::uint64_t replica_seed(std::uint64_t base, int scenario, int r) {
  return rng::draw(rng::make_key(base, rng::Stream::check_replica), std::uint64_t(scenario), std::uint64_t(r))[0];
}

WalkResults run_walk(const WalkModel& m, const ObserverPlan& p, const std::string& init, std::uint64_t walkers,
                     std::uint64_t steps, std::uint64_t seed, int threads, bool split_walkers) {
  RunOptions o;
  o.walkers = walkers;
  o.steps = steps;
  o.seed = seed;
  o.threads = threads;
  if (!mpi::distributed() || !split_walkers) {
    WalkEngine e(m, p, InitSpec::parse(init, m.dim), o);
    return e.run();
  }
  // MPI ranks: each replica's walkers are split over the ranks (bit-identical to one process);
  // the reduced results go from rank 0 to every rank, which then compute the same rows.
  const auto r = mpi::split(walkers, kMomentGroup, mpi::rank(), mpi::size());
  o.first_walker = r.first;
  o.walkers = r.count;
  o.total_walkers = walkers;
  o.split_over_ranks = true;
  WalkEngine e(m, p, InitSpec::parse(init, m.dim), o);
  WalkResults res = e.run();
  std::vector<std::uint64_t> u{res.avg_outside, res.absorbed_initial};
  for (auto* v : {&res.density_t, &res.density_counts, &res.density_outside, &res.avg_counts, &res.flux_plus,
                  &res.flux_minus, &res.ss_count, &res.moments_t, &res.alive, &res.absorbed_lo, &res.absorbed_hi, &u})
    mpi::broadcast(*v, 0);
  for (auto* v : {&res.ss_mean, &res.ss_msq, &res.mean, &res.var}) mpi::broadcast(*v, 0);
  std::vector<std::uint64_t> win;
  for (const auto& w : res.windows) { win.push_back(w.first); win.push_back(w.second); }
  mpi::broadcast(win, 0);
  res.windows.clear();
  for (size_t i = 0; i + 1 < win.size(); i += 2) res.windows.emplace_back(win[i], win[i + 1]);
  res.avg_outside = u[0];
  res.absorbed_initial = u[1];
  res.final_x.clear();  // (the scenarios do not read final positions)
  res.final_alive.clear();
  return res;
}

WalkModel model_1d(const std::string& g, double eta, Boundary b, double lo, double hi) {
  return walk_1d(g, eta, b, lo, hi);
}

ObserverPlan plan_axis(int axis, const Lattice& l) {
  ObserverPlan p;
  p.hist_axes = {axis};
  p.lattice = {l};
  p.step_stats = false;
  p.moments_every = 0;
  return p;
}

namespace {
Row make(const std::string& scn, const std::string& qty, const std::string& eq, double meas, double se,
         const std::string& pred_name, double pred, const std::string& note) {
  Row r;
  r.scenario = scn;
  r.quantity = qty;
  r.equation = eq;
  r.measured = meas;
  r.se = se;
  r.prediction = pred_name;
  r.predicted = pred;
  // No standard error (identical replicas: a bug that made them so would otherwise pass): z is
  // NaN and a gating row fails.
  r.z = se > 0 && std::isfinite(se) ? (meas - pred) / se : std::numeric_limits<double>::quiet_NaN();
  r.note = note;
  return r;
}
}  // namespace

void gate(std::vector<Row>& rows, const std::string& scn, const std::string& qty, const std::string& eq, double meas,
          double se, const std::string& pred_name, double pred, const std::string& note) {
  Row r = make(scn, qty, eq, meas, se, pred_name, pred, note);
  r.gating = true;
  // |z| < 5: false-alarm rate from Student's t with 15 degrees of freedom (kGateFalseAlarm, check.hpp).
  r.verdict = std::isfinite(r.z) && std::abs(r.z) < kGateZ ? "pass" : "FAIL";
  if (!(se > 0)) r.note += std::string(r.note.empty() ? "" : "; ") + "SE = 0: identical replicas, the row cannot be judged";
  rows.push_back(r);
}

void paper(std::vector<Row>& rows, const std::string& scn, const std::string& qty, const std::string& eq, double meas,
           double se, const std::string& pred_name, double pred, const std::string& note) {
  Row r = make(scn, qty, eq, meas, se, pred_name, pred, note);
  r.verdict = !std::isfinite(r.z) ? "undetermined" : std::abs(r.z) < 5 ? "confirmed" : "refuted";
  rows.push_back(r);
}

void profile_row(std::vector<Row>& rows, bool gating, const std::string& scn, const std::string& qty,
                 const std::string& eq, const Replicas& meas, const std::vector<double>& pred,
                 const std::string& pred_name, const std::vector<int>& use, const std::string& note, int K) {
  const int R = static_cast<int>(meas.samples.size());
  const auto se = meas.se();
  const int n = static_cast<int>(use.size());
  bool degenerate = false;  // identical replicas somewhere: no covariance to test against
  for (int b : use) degenerate |= !(se[b] > 0 && std::isfinite(se[b]));
  if (degenerate) {
    Row row = make(scn, qty, eq, NAN, 0.0, pred_name, K, "SE = 0 at some point: identical replicas, the profile cannot be judged");
    row.gating = gating;
    row.verdict = gating ? "FAIL" : "undetermined";
    rows.push_back(row);
    return;
  }
  // Projections y_r (K per replica) of the standardised deviations.
  std::vector<std::vector<double>> y(R, std::vector<double>(K, 0.0));
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < n; ++j) {
      const int b = use[j];
      const double d = (meas.samples[r][b] - pred[b]) / (se[b] * std::sqrt(double(R)));
      for (int m = 0; m < K / 2; ++m) {
        const double ph = 2 * M_PI * (m + 1) * (j + 0.5) / n;
        y[r][2 * m] += d * std::cos(ph);
        y[r][2 * m + 1] += d * std::sin(ph);
      }
    }
  std::vector<double> ybar(K, 0.0);
  for (const auto& v : y)
    for (int k = 0; k < K; ++k) ybar[k] += v[k] / R;
  std::vector<double> S(K * K, 0.0);
  for (const auto& v : y)
    for (int a = 0; a < K; ++a)
      for (int b = 0; b < K; ++b) S[a * K + b] += (v[a] - ybar[a]) * (v[b] - ybar[b]) / (R - 1);
  // Cholesky solve S x = ybar.
  std::vector<double> Lc(K * K, 0.0);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j <= i; ++j) {
      double sum = S[i * K + j];
      for (int k = 0; k < j; ++k) sum -= Lc[i * K + k] * Lc[j * K + k];
      Lc[i * K + j] = (i == j) ? std::sqrt(std::max(sum, 1e-300)) : sum / Lc[j * K + j];
    }
  std::vector<double> z(K);
  for (int i = 0; i < K; ++i) {
    double sum = ybar[i];
    for (int k = 0; k < i; ++k) sum -= Lc[i * K + k] * z[k];
    z[i] = sum / Lc[i * K + i];
  }
  double t2 = 0;
  for (double v : z) t2 += v * v;
  t2 *= R;
  const double F = double(R - K) / (double(K) * (R - 1)) * t2;
  const boost::math::fisher_f_distribution<double> fd(K, R - K);
  const double p = boost::math::cdf(boost::math::complement(fd, F));
  const boost::math::normal_distribution<double> nd;
  const double zscore = p <= 0 ? 40.0 : boost::math::quantile(boost::math::complement(nd, std::max(p, 1e-300)));
  Row row = make(scn, qty, eq, t2, 0.0, pred_name, K, "");
  row.z = zscore;
  row.gating = gating;
  row.verdict = std::abs(zscore) < 5 ? (gating ? "pass" : "confirmed") : (gating ? "FAIL" : "refuted");
  // Largest per-point |z| as a readable summary.
  double zmax = 0;
  for (int b : use) zmax = std::max(zmax, std::abs((meas.mean()[b] - pred[b]) / se[b]));
  char buf[160];
  std::snprintf(buf, sizeof buf, "Hotelling T^2 on %d modes of %d points (measured: T^2, predicted: K); max point |z| %.3g",
                K, n, zmax);
  row.note = std::string(buf) + (note.empty() ? "" : "; " + note);
  rows.push_back(row);
}

std::pair<double, double> fit_slope(const std::vector<double>& x, const std::vector<double>& y,
                                    const std::vector<double>& sy) {
  double S = 0, Sx = 0, Sy = 0, Sxx = 0, Sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = 1.0 / (sy[i] * sy[i]);
    S += w; Sx += w * x[i]; Sy += w * y[i]; Sxx += w * x[i] * x[i]; Sxy += w * x[i] * y[i];
  }
  const double det = S * Sxx - Sx * Sx;
  return {(S * Sxy - Sx * Sy) / det, std::sqrt(S / det)};
}

std::pair<double, double> fit_exponent(const std::function<std::vector<double>(double)>& shape,
                                       const std::vector<double>& p, const std::vector<double>& se,
                                       const std::vector<int>& use, double lo, double hi) {
  auto chi2 = [&](double nu) {
    auto s = shape(nu);
    // Normalise the prediction over the bins used, as the measurement is compared there.
    double ts = 0, tp = 0;
    for (int i : use) { ts += s[i]; tp += p[i]; }
    double c = 0;
    for (int i : use) c += std::pow((p[i] - s[i] * tp / ts) / se[i], 2);
    return c;
  };
  const double gr = (std::sqrt(5.0) - 1) / 2;
  double a = lo, b = hi, c = b - gr * (b - a), d = a + gr * (b - a);
  for (int it = 0; it < 80; ++it) {
    if (chi2(c) < chi2(d)) b = d; else a = c;
    c = b - gr * (b - a);
    d = a + gr * (b - a);
  }
  const double nu = 0.5 * (a + b), h = 1e-3;
  const double curv = (chi2(nu + h) - 2 * chi2(nu) + chi2(nu - h)) / (h * h);
  return {nu, curv > 0 ? std::sqrt(2.0 / curv) : INFINITY};
}

}  // namespace soret::check
