#include "soret/net/eq8.hpp"

#include <cmath>

namespace soret::net {

namespace {
double phi_n(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI); }
double Phi_n(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }
double sigmoid(double f) { return f >= 0 ? 1.0 / (1.0 + std::exp(-f)) : std::exp(f) / (1.0 + std::exp(f)); }
}  // namespace

Eq27Unit eq27_unit(double b, double s, double V, double c2, double eta, int batch) {
  Eq27Unit u;
  const double v = std::abs(V), z = b / s;
  const double er2 = (b * b + s * s) * Phi_n(z) + b * s * phi_n(z);  // E relu(h)^2
  const double er1 = b * Phi_n(z) + s * phi_n(z);                     // E relu(h) = d/db E relu(h)^2 / 2
  u.phi1 = std::sqrt(c2 * er2);
  u.phi2 = std::sqrt(c2 * Phi_n(z));
  u.dphi1 = c2 * er1 / u.phi1;
  u.dphi2 = c2 * phi_n(z) / s / (2 * u.phi2);
  const double gU = std::sqrt(u.phi1 * u.phi1 + v * v * u.phi2 * u.phi2);
  u.psi = (v * u.phi1 * u.phi2 * u.phi2 + v * u.phi1 * u.phi2 * u.dphi1 + v * v * v * u.phi2 * u.phi2 * u.dphi2) /
          (2 * gU);
  const double speed = eta * eta / double(batch) * u.psi;  // toward smaller b and |V|
  u.b_drift = -speed * (v * u.phi2 / gU);
  u.v2_drift = -2 * v * speed * (u.phi1 / gU);
  return u;
}

Eq8Steps eq8_step_covariance(const NetConfig& c, const std::vector<double>& W, const std::vector<double>& b,
                             const std::vector<double>& V, std::size_t E, int samples, std::uint64_t seed) {
  const int M = c.M, N = c.N;
  const DataSource data(c, seed);
  std::vector<std::vector<double>> xs(samples, std::vector<double>(M));
  std::vector<double> ys(samples);
  for (int k = 0; k < samples; ++k) ys[k] = data.probe(std::uint64_t(k), xs[k].data());
  Eq8Steps out;
  out.samples = samples;
  double sc = 0, sc2 = 0, sx = 0, sx2 = 0, se8 = 0, se82 = 0, sact = 0;
  std::vector<double> h(N), dv(size_t(samples) * N), db(size_t(samples) * N);
  for (std::size_t e = 0; e < E; ++e) {
    bool ok = true;
    for (int i = 0; i < N && ok; ++i) ok = std::isfinite(b[e * N + i]) && std::isfinite(V[e * N + i]);
    if (!ok) continue;
    double act = 0;
    for (int k = 0; k < samples; ++k) {
      double f = 0;
      for (int i = 0; i < N; ++i) {
        double a = c.biases() ? b[e * N + i] : 0.0;
        for (int j = 0; j < M; ++j) a += W[(e * N + i) * M + j] * xs[k][j];
        h[i] = a;
        f += V[e * N + i] * std::max(a, 0.0);
      }
      const double p = c.loss == Loss::bce ? sigmoid(f) : f, d = p - ys[k];
      for (int i = 0; i < N; ++i) {
        const double sgn = V[e * N + i] >= 0 ? 1.0 : -1.0;
        dv[size_t(k) * N + i] = -d * std::max(h[i], 0.0);               // per eta
        db[size_t(k) * N + i] = -d * V[e * N + i] * (h[i] > 0) * sgn;   // s_i db_i per eta
        act += h[i] > 0;
      }
    }
    double cn = 0, xn = 0, e8 = 0;
    int used = 0;
    for (int i = 0; i < N; ++i) {
      double mv = 0, mb = 0;
      for (int k = 0; k < samples; ++k) { mv += dv[size_t(k) * N + i]; mb += db[size_t(k) * N + i]; }
      mv /= samples;
      mb /= samples;
      double vv = 0, bb = 0, vb = 0;
      for (int k = 0; k < samples; ++k) {
        const double a = dv[size_t(k) * N + i] - mv, q = db[size_t(k) * N + i] - mb;
        vv += a * a; bb += q * q; vb += a * q;
      }
      vv /= samples - 1; bb /= samples - 1; vb /= samples - 1;
      if (!(vv > 0 && bb > 0)) continue;  // a dead unit has no step
      cn += vb / std::sqrt(vv * bb);
      xn += vb;
      e8 += std::sqrt(vv * bb);
      ++used;
    }
    if (used == 0) continue;
    cn /= used; xn /= used; e8 /= used;
    sc += cn; sc2 += cn * cn; sx += xn; sx2 += xn * xn; se8 += e8; se82 += e8 * e8;
    sact += act / (double(samples) * N);
    ++out.networks;
    out.units += used;
  }
  const double n = out.networks;
  if (n < 2) return out;
  auto se = [&](double s, double s2) { return std::sqrt(std::max(0.0, (s2 - s * s / n) / (n - 1)) / n); };
  out.corr = sc / n; out.corr_se = se(sc, sc2);
  out.cross = sx / n; out.cross_se = se(sx, sx2);
  out.eq8_cross = se8 / n; out.eq8_cross_se = se(se8, se82);
  out.active = sact / n;
  return out;
}

}  // namespace soret::net
