#include "soret/walk/kernels.hpp"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
// GCC 12 warns about the undefined pass-through operand inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define SORET_AVX512 1
#endif

namespace soret {

namespace {

/// The portable form: lane by lane, the same arithmetic as the SIMD form.
bool axis_scalar(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
                 std::int32_t* cu) {
  bool any = false;
  for (int i = 0; i < cap; ++i) {
    const double z = 1.0 - 2.0 * double(std::int64_t((w[i] >> bit) & 1u));
    const double xu = x[i] - k.eta * kernel_g(k, x[i]) * z;
    double xn;
    std::int32_t a = 0, b = 0;
    if (fold_fast(k.m, xu, xn, a, b)) {
      x[i] = xn;
      if (c1) c1[i] = a;
      if (cu) cu[i] = b;
    } else {
      x[i] = xu;
      any = true;
    }
  }
  return any;
}

#ifdef SORET_AVX512
/// GK: 0 constant g, 1 P = 16, 2 P = 32; D: the degree (unrolled). PER: periodic (else
/// reflecting). CELLS: write c1; CU: write cu.
template <int GK, int D, bool PER, bool CELLS, bool CU>
bool axis_avx512(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
                 std::int32_t* cu) {
  const __m512d lo = _mm512_set1_pd(k.m.lo), hi = _mm512_set1_pd(k.m.hi), L = _mm512_set1_pd(k.m.L);
  const __m512d eta = _mm512_set1_pd(k.eta);
  const __m512d poff = _mm512_set1_pd(k.poff), ps = _mm512_set1_pd(k.pscale), zero = _mm512_setzero_pd();
  const __m512d pmax = _mm512_set1_pd(double(k.P - 1));
  const __m512d ih = _mm512_set1_pd(k.m.ih), bmax = _mm512_set1_pd(double(k.m.B - 1));
  const __m512d gc = _mm512_set1_pd(k.gconst);
  const __m256i Bv = _mm256_set1_epi32(k.m.B);
  const __m128i sh = _mm_cvtsi32_si128(63 - bit);
  const __m512i signbit = _mm512_set1_epi64(std::int64_t(1ull << 63));
  const __m512i bit4 = _mm512_set1_epi64(16);
  constexpr int NP = GK == 2 ? 4 : 2;
  __m512d c[D + 1][NP];
  if constexpr (GK > 0)
    for (int d = 0; d <= D; ++d)
      for (int r = 0; r < NP; ++r) c[d][r] = _mm512_loadu_pd(k.coef + size_t(d) * k.P + 8 * r);
  // U independent vectors per iteration, stage by stage: the long dependency chain (polynomial,
  // update, boundary, cells) of one vector overlaps the others'.
  constexpr int U = 4;
  int any = 0;
  for (int i0 = 0; i0 < cap; i0 += 8 * U) {
    __m512d xv[U], g[U], xu[U], y[U];
    __m512i sb[U];
    __mmask8 ok[U], below[U] = {}, above[U] = {};
    for (int u = 0; u < U; ++u) {
      xv[u] = _mm512_loadu_pd(x + i0 + 8 * u);
      const __m512i wv = _mm512_loadu_si512(reinterpret_cast<const void*>(w + i0 + 8 * u));
      sb[u] = _mm512_and_si512(_mm512_sll_epi64(wv, sh), signbit);
    }
    if constexpr (GK == 0) {
      for (int u = 0; u < U; ++u) g[u] = gc;
    } else {
      __m512d t[U];
      __m512i j[U];
      for (int u = 0; u < U; ++u) {
        const __m512d yy = _mm512_fmadd_pd(xv[u], ps, poff);
        __m512d jd = _mm512_roundscale_pd(yy, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        jd = _mm512_max_pd(jd, zero);
        jd = _mm512_min_pd(jd, pmax);
        t[u] = _mm512_sub_pd(yy, jd);
        j[u] = _mm512_cvttpd_epi64(jd);
      }
      auto look = [&](int d, const __m512i& jj) {
        if constexpr (GK == 1) {
          return _mm512_permutex2var_pd(c[d][0], jj, c[d][1]);
        } else {
          const __m512d lo4 = _mm512_permutex2var_pd(c[d][0], jj, c[d][1]);
          const __m512d hi4 = _mm512_permutex2var_pd(c[d][2], jj, c[d][3]);
          return _mm512_mask_mov_pd(lo4, _mm512_test_epi64_mask(jj, bit4), hi4);
        }
      };
      for (int u = 0; u < U; ++u) g[u] = look(D, j[u]);
#pragma GCC unroll 16
      for (int d = D - 1; d >= 0; --d)
        for (int u = 0; u < U; ++u) g[u] = _mm512_fmadd_pd(g[u], t[u], look(d, j[u]));
    }
    for (int u = 0; u < U; ++u) {
      __m512d st = _mm512_mul_pd(eta, g[u]);
      st = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(st), sb[u]));
      xu[u] = _mm512_sub_pd(xv[u], st);
    }
    for (int u = 0; u < U; ++u) {
      if constexpr (PER) {
        below[u] = _mm512_cmp_pd_mask(xu[u], lo, _CMP_LT_OQ);
        above[u] = _mm512_cmp_pd_mask(xu[u], hi, _CMP_GE_OQ);
        y[u] = _mm512_mask_add_pd(xu[u], below[u], xu[u], L);
        y[u] = _mm512_mask_sub_pd(y[u], above[u], y[u], L);
        ok[u] = _mm512_cmp_pd_mask(y[u], lo, _CMP_GE_OQ) & _mm512_cmp_pd_mask(y[u], hi, _CMP_LT_OQ);
      } else {
        y[u] = xu[u];
        ok[u] = _mm512_cmp_pd_mask(xu[u], lo, _CMP_GE_OQ) & _mm512_cmp_pd_mask(xu[u], hi, _CMP_LE_OQ);
      }
      _mm512_storeu_pd(x + i0 + 8 * u, _mm512_mask_mov_pd(xu[u], ok[u], y[u]));
      any |= std::uint8_t(~ok[u]);
    }
    if constexpr (CELLS) {
      for (int u = 0; u < U; ++u) {
        __m512d cd = _mm512_roundscale_pd(_mm512_mul_pd(_mm512_sub_pd(y[u], lo), ih), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        cd = _mm512_min_pd(cd, bmax);
        const __m256i cv = _mm512_cvttpd_epi32(cd);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c1 + i0 + 8 * u), cv);
        if constexpr (CU) {
          __m256i uu = cv;
          if constexpr (PER) {
            uu = _mm256_mask_add_epi32(uu, above[u], uu, Bv);
            uu = _mm256_mask_sub_epi32(uu, below[u], uu, Bv);
          }
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(cu + i0 + 8 * u), uu);
        }
      }
    }
  }
  return any != 0;
}

template <int GK, int D, bool PER>
bool dispatch_cells(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
                    std::int32_t* cu) {
  if (!c1) return axis_avx512<GK, D, PER, false, false>(k, x, w, bit, cap, c1, cu);
  if (!cu) return axis_avx512<GK, D, PER, true, false>(k, x, w, bit, cap, c1, cu);
  return axis_avx512<GK, D, PER, true, true>(k, x, w, bit, cap, c1, cu);
}

template <int GK, int D>
bool dispatch_boundary(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
                       std::int32_t* cu) {
  if (k.m.b == Boundary::periodic) return dispatch_cells<GK, D, true>(k, x, w, bit, cap, c1, cu);
  return dispatch_cells<GK, D, false>(k, x, w, bit, cap, c1, cu);
}

template <int GK>
bool dispatch_degree(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
                     std::int32_t* cu) {
  switch (k.D) {
    case 1: return dispatch_boundary<GK, 1>(k, x, w, bit, cap, c1, cu);
    case 2: return dispatch_boundary<GK, 2>(k, x, w, bit, cap, c1, cu);
    case 3: return dispatch_boundary<GK, 3>(k, x, w, bit, cap, c1, cu);
    case 4: return dispatch_boundary<GK, 4>(k, x, w, bit, cap, c1, cu);
    case 5: return dispatch_boundary<GK, 5>(k, x, w, bit, cap, c1, cu);
    case 6: return dispatch_boundary<GK, 6>(k, x, w, bit, cap, c1, cu);
    case 7: return dispatch_boundary<GK, 7>(k, x, w, bit, cap, c1, cu);
    case 8: return dispatch_boundary<GK, 8>(k, x, w, bit, cap, c1, cu);
    default: return dispatch_boundary<GK, 9>(k, x, w, bit, cap, c1, cu);
  }
}

template <int GK, int D>
void poly_avx512(const AxisKernel& k, double lo_, double hi_, const double* x, int n, double* out) {
  constexpr int NP = GK == 2 ? 4 : 2;
  __m512d c[D + 1][NP];
  for (int d = 0; d <= D; ++d)
    for (int r = 0; r < NP; ++r) c[d][r] = _mm512_loadu_pd(k.coef + size_t(d) * k.P + 8 * r);
  const __m512d poff = _mm512_set1_pd(k.poff), ps = _mm512_set1_pd(k.pscale), zero = _mm512_setzero_pd();
  const __m512d pmax = _mm512_set1_pd(double(k.P - 1)), lo = _mm512_set1_pd(lo_), hi = _mm512_set1_pd(hi_);
  const __m512i bit4 = _mm512_set1_epi64(16);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    // clamp as std::clamp(x, lo, hi): x < lo -> lo, hi < x -> hi (NaN stays NaN)
    __m512d xv = _mm512_loadu_pd(x + i);
    xv = _mm512_mask_mov_pd(xv, _mm512_cmp_pd_mask(xv, lo, _CMP_LT_OQ), lo);
    xv = _mm512_mask_mov_pd(xv, _mm512_cmp_pd_mask(hi, xv, _CMP_LT_OQ), hi);
    const __m512d yy = _mm512_fmadd_pd(xv, ps, poff);
    __m512d jd = _mm512_roundscale_pd(yy, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    jd = _mm512_max_pd(jd, zero);
    jd = _mm512_min_pd(jd, pmax);
    const __m512d t = _mm512_sub_pd(yy, jd);
    const __m512i j = _mm512_cvttpd_epi64(jd);
    auto look = [&](int d) {
      if constexpr (GK == 1) {
        return _mm512_permutex2var_pd(c[d][0], j, c[d][1]);
      } else {
        const __m512d lo4 = _mm512_permutex2var_pd(c[d][0], j, c[d][1]);
        const __m512d hi4 = _mm512_permutex2var_pd(c[d][2], j, c[d][3]);
        return _mm512_mask_mov_pd(lo4, _mm512_test_epi64_mask(j, bit4), hi4);
      }
    };
    __m512d g = look(D);
#pragma GCC unroll 16
    for (int d = D - 1; d >= 0; --d) g = _mm512_fmadd_pd(g, t, look(d));
    _mm512_storeu_pd(out + i, g);
  }
  for (; i < n; ++i) out[i] = kernel_g(k, std::clamp(x[i], lo_, hi_));
}

template <int GK>
void poly_degree(const AxisKernel& k, double lo, double hi, const double* x, int n, double* out) {
  switch (k.D) {
    case 1: return poly_avx512<GK, 1>(k, lo, hi, x, n, out);
    case 2: return poly_avx512<GK, 2>(k, lo, hi, x, n, out);
    case 3: return poly_avx512<GK, 3>(k, lo, hi, x, n, out);
    case 4: return poly_avx512<GK, 4>(k, lo, hi, x, n, out);
    case 5: return poly_avx512<GK, 5>(k, lo, hi, x, n, out);
    case 6: return poly_avx512<GK, 6>(k, lo, hi, x, n, out);
    case 7: return poly_avx512<GK, 7>(k, lo, hi, x, n, out);
    case 8: return poly_avx512<GK, 8>(k, lo, hi, x, n, out);
    default: return poly_avx512<GK, 9>(k, lo, hi, x, n, out);
  }
}
#endif

}  // namespace

void poly_values(const AxisKernel& k, double lo, double hi, const double* x, int n, double* out) {
#ifdef SORET_AVX512
  if ((k.P == 16 || k.P == 32) && k.D >= 1 && k.D <= 9) {
    if (k.P == 16) poly_degree<1>(k, lo, hi, x, n, out);
    else poly_degree<2>(k, lo, hi, x, n, out);
    return;
  }
#endif
  for (int i = 0; i < n; ++i) out[i] = kernel_g(k, std::clamp(x[i], lo, hi));
}

bool fused_axis_step(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
                     std::int32_t* cu) {
#ifdef SORET_AVX512
  const bool ok_shape = (k.m.b == Boundary::periodic || k.m.b == Boundary::reflecting) && k.D >= (k.P ? 1 : 0) && k.D <= 9 &&
                        (k.P == 0 || k.P == 16 || k.P == 32) && (c1 || !cu);
  if (ok_shape) {
    if (k.P == 0) return dispatch_boundary<0, 0>(k, x, w, bit, cap, c1, cu);
    if (k.P == 16) return dispatch_degree<1>(k, x, w, bit, cap, c1, cu);
    return dispatch_degree<2>(k, x, w, bit, cap, c1, cu);
  }
#endif
  return axis_scalar(k, x, w, bit, cap, c1, cu);
}

const char* fused_isa() {
#ifdef SORET_AVX512
  return "avx512";
#else
  return "scalar";
#endif
}

}  // namespace soret
