#pragma once
// The per-walker boundary rules shared by both integrators, and the fused SIMD step of one axis.
//
// fold_fast() decides the common cases of one axis exactly and cheaply: a periodic wrap by at
// most one period, a position inside a reflecting or absorbing domain, any finite position on a
// free axis. It returns false for everything else (several periods, a reflection, absorption,
// non-finite or runaway positions), which the integrator's slow path handles. The cell of the end
// point is the histogram lattice's bin rule (Lattice::cell); `cu` is the cell on the unfolded line
// (the folded cell plus the periods wrapped), so that crossings are counted from c0 to cu.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "soret/walk/model.hpp"

namespace soret {

struct AxisMove {
  Boundary b = Boundary::periodic;
  double lo = 0, hi = 1, L = 1;  ///< domain [lo, hi), L = hi - lo
  int B = 0;                                   ///< bins of its histogram lattice (0: not a histogram axis)
  double ih = 0;                               ///< lattice bins per unit length
};

template <Boundary BB>
inline bool fold_fast_b(const AxisMove& A, double xu, double& xn, std::int32_t& c1, std::int32_t& cu) {
  switch (BB) {
    case Boundary::periodic: {
      double y = xu;
      std::int32_t wrap = 0;
      if (xu < A.lo) {
        y = xu + A.L;
        wrap = -1;
      } else if (xu >= A.hi) {
        y = xu - A.L;
        wrap = 1;
      }
      if (!(y >= A.lo && y < A.hi)) return false;
      xn = y;
      if (A.B) {
        double cd = std::floor((y - A.lo) * A.ih);
        cd = cd < double(A.B - 1) ? cd : double(A.B - 1);
        c1 = static_cast<std::int32_t>(cd);
        cu = c1 + wrap * A.B;
      }
      return true;
    }
    case Boundary::reflecting:
    case Boundary::absorbing: {
      const bool inside = BB == Boundary::reflecting ? (xu >= A.lo && xu <= A.hi) : (xu >= A.lo && xu < A.hi);
      if (!inside) return false;
      xn = xu;
      if (A.B) {
        double cd = std::floor((xu - A.lo) * A.ih);
        cd = cd < double(A.B - 1) ? cd : double(A.B - 1);
        c1 = cu = static_cast<std::int32_t>(cd);
      }
      return true;
    }
    case Boundary::free: {
      if (!std::isfinite(xu)) return false;
      xn = xu;
      if (A.B) {
        double cd = std::floor((xu - A.lo) * A.ih);
        if (cd >= double(A.B) && xu <= A.hi) cd = double(A.B - 1);
        if (!(std::abs(cd) <= 1e9)) return false;  // runaway: the slow path reports it
        c1 = cu = static_cast<std::int32_t>(cd);
      }
      return true;
    }
  }
  return false;
}

inline bool fold_fast(const AxisMove& A, double xu, double& xn, std::int32_t& c1, std::int32_t& cu) {
  switch (A.b) {
    case Boundary::periodic: return fold_fast_b<Boundary::periodic>(A, xu, xn, c1, cu);
    case Boundary::reflecting: return fold_fast_b<Boundary::reflecting>(A, xu, xn, c1, cu);
    case Boundary::absorbing: return fold_fast_b<Boundary::absorbing>(A, xu, xn, c1, cu);
    case Boundary::free: return fold_fast_b<Boundary::free>(A, xu, xn, c1, cu);
  }
  return false;
}

/// One axis of the fused integrator: Rademacher sign, g (constant or piecewise polynomial of the
/// axis' own coordinate), update, periodic or reflecting rule, cells.
struct AxisKernel {
  AxisMove m;
  double eta = 0;
  double gconst = 0;           ///< P == 0: constant g
  int P = 0, D = 0;            ///< piecewise polynomial: pieces (16 or 32) and degree
  double pscale = 0, poff = 0;  ///< piece coordinate y = fma(q, pscale, poff) in [0, P]
  const double* coef = nullptr;  ///< coefficient k of piece j at coef[k * P + j]
  const double* coef_t = nullptr;  ///< the same, piece-major: coef_t[j * stride + k] (zero-padded)
  int stride = 0;                  ///< a multiple of 4, >= D + 1
};

/// g at q exactly as FastFunction::poly_at and the SIMD kernel compute it.
inline double kernel_g(const AxisKernel& k, double q) {
  if (k.P == 0) return k.gconst;
  const double y = std::fma(q, k.pscale, k.poff);
  double jd = std::floor(y);
  jd = jd > 0.0 ? jd : 0.0;
  jd = jd < double(k.P - 1) ? jd : double(k.P - 1);
  const double t = y - jd;
  const int j = static_cast<int>(jd);
  double r = k.coef[size_t(k.D) * k.P + j];
  for (int c = k.D - 1; c >= 0; --c) r = std::fma(r, t, k.coef[size_t(c) * k.P + j]);
  return r;
}

/// Steps lanes [0, cap) (cap a multiple of 32) of one axis in place. Sign of lane i: bit `bit` of
/// w[i] (1: zeta = -1). Writes the end cell to c1 and the unfolded end cell to cu where these are
/// not null. Lanes the fast rules do not decide keep the unfolded position in x, which is then
/// outside the domain (see fused_lane_slow); returns whether there are any.
bool fused_axis_step(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
                     std::int32_t* cu);

/// After fused_axis_step: does lane position x need the slow path?
inline bool fused_lane_slow(const AxisMove& m, double x) {
  return m.b == Boundary::periodic ? !(x >= m.lo && x < m.hi) : !(x >= m.lo && x <= m.hi);
}

/// out[i] = the piecewise polynomial at clamp(x[i], lo, hi), i < n, exactly as kernel_g (SIMD where
/// compiled; any n).
void poly_values(const AxisKernel& k, double lo, double hi, const double* x, int n, double* out);

/// "avx512", "avx2" or "scalar": how fused_axis_step is compiled on this build.
const char* fused_isa();

}  // namespace soret
