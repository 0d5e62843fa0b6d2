// The fused SIMD axis step and the SIMD piecewise polynomial against their lane-by-lane scalar
// definition (kernel_g, fold_fast), bit for bit, on whatever ISA this build compiled.
#include <doctest/doctest.h>

#include <cstdint>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "soret/walk/kernels.hpp"
#include "soret/walk/profile.hpp"

using namespace soret;

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

AxisKernel kernel_of(const FastFunction& f, AxisMove m, double eta) {
  AxisKernel k;
  k.m = m;
  k.eta = eta;
  if (f.kind() == FastFunction::Kind::poly) {
    k.P = f.poly_pieces(); k.D = f.poly_degree(); k.pscale = f.poly_scale(); k.poff = f.poly_offset();
    k.coef = f.poly_coef(); k.coef_t = f.poly_coef_by_piece(); k.stride = f.poly_stride();
  } else {
    k.gconst = f.grid_max();
  }
  return k;
}

}  // namespace

TEST_SUITE_BEGIN("quick");

TEST_CASE("fused axis step equals its scalar definition lane by lane, every degree, both boundaries") {
  INFO("fused ISA: " << fused_isa());
  // Profiles whose fitted degree spans the range: constant, low degree, the default, a steep one.
  const char* exprs[] = {"1.7", "1 + 0.3*q", "1 + 0.2*q*q", "1 + 0.5*sin(2*_pi*q)", "1 + 0.4*sin(4*_pi*q)",
                         "1.2 + exp(-30*(q-0.4)^2)", "1 + 0.9*sin(6*_pi*q)"};
  std::vector<int> degrees, pieces;
  for (const char* e : exprs) {
    for (Boundary b : {Boundary::periodic, Boundary::reflecting}) {
      Expression ex(e, 1, 1.0, "g");
      FastFunction f(ex, {{0.0, 1.0}});
      if (f.kind() != FastFunction::Kind::poly && f.kind() != FastFunction::Kind::constant) continue;
      if (b == Boundary::periodic) {
        degrees.push_back(f.poly_degree());
        pieces.push_back(f.poly_pieces());
      }
      AxisMove m;
      m.b = b;
      m.B = 37;
      m.ih = 37.0;
      const double eta = 0.031;
      const AxisKernel k = kernel_of(f, m, eta);
      const int cap = 4096;
      std::mt19937_64 gen(7);
      std::uniform_real_distribution<double> u(0.0, 1.0);
      std::vector<double> x(cap), xr(cap);
      std::vector<std::uint64_t> w(cap);
      for (int i = 0; i < cap; ++i) {
        x[i] = u(gen);
        w[i] = gen();
      }
      // edges: exactly lo, just below hi, hi (reflecting only), a bin face
      x[0] = 0.0; x[1] = std::nextafter(1.0, 0.0); x[2] = b == Boundary::reflecting ? 1.0 : 0.5; x[3] = 10.0 / 37.0;
      xr = x;
      std::vector<std::int32_t> c1(cap), cu(cap);
      const int bit = 13;
      const bool any = fused_axis_step(k, x.data(), w.data(), bit, cap, c1.data(), cu.data());
      bool any_ref = false;
      int bad = 0;
      for (int i = 0; i < cap; ++i) {
        const double z = 1.0 - 2.0 * double(std::int64_t((w[i] >> bit) & 1u));
        const double xu = xr[i] - eta * kernel_g(k, xr[i]) * z;
        double xn = 0;
        std::int32_t a = 0, c = 0;
        if (fold_fast(m, xu, xn, a, c)) {
          bad += !same_bits(x[i], xn) || c1[i] != a || cu[i] != c;
        } else {
          any_ref = true;
          bad += !same_bits(x[i], xu);
        }
      }
      INFO(e << (b == Boundary::periodic ? " periodic" : " reflecting") << " P=" << k.P << " D=" << k.D);
      CHECK(bad == 0);
      CHECK(any == any_ref);
      // Without cells: positions only.
      std::vector<double> x2 = xr;
      fused_axis_step(k, x2.data(), w.data(), bit, cap, nullptr, nullptr);
      CHECK(std::memcmp(x2.data(), x.data(), sizeof(double) * cap) == 0);
    }
  }
  // The cases above must exercise several degrees and every form (constant, one piece, 16 or 32
  // pieces), or the test says little.
  std::sort(degrees.begin(), degrees.end());
  CHECK(std::unique(degrees.begin(), degrees.end()) - degrees.begin() >= 3);
  CHECK(std::count(pieces.begin(), pieces.end(), 0) >= 1);
  CHECK(std::count(pieces.begin(), pieces.end(), 1) >= 1);
  CHECK(std::count_if(pieces.begin(), pieces.end(), [](int p) { return p > 1; }) >= 1);
}

TEST_CASE("SIMD piecewise polynomial equals kernel_g at clamped points, NaN and infinities included") {
  for (const char* e : {"1 + 0.5*sin(2*_pi*q)", "1.2 + exp(-30*(q-0.4)^2)"}) {
    Expression ex(e, 1, 1.0, "g");
    FastFunction f(ex, {{-0.5, 2.0}});
    REQUIRE(f.kind() == FastFunction::Kind::poly);
    AxisMove m;
    m.lo = -0.5; m.hi = 2.0; m.L = 2.5;
    const AxisKernel k = kernel_of(f, m, 1.0);
    std::mt19937_64 gen(11);
    std::uniform_real_distribution<double> u(-1.0, 2.5);
    std::vector<double> x(1003), out(1003);
    for (auto& v : x) v = u(gen);
    x[5] = std::nan(""); x[6] = INFINITY; x[7] = -INFINITY; x[8] = 2.0; x[9] = -0.5;
    poly_values(k, -0.5, 2.0, x.data(), int(x.size()), out.data());
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i) bad += !same_bits(out[i], kernel_g(k, std::clamp(x[i], -0.5, 2.0)));
    INFO(e);
    CHECK(bad == 0);
  }
}

TEST_SUITE_END();
