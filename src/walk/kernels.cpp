#include "soret/walk/kernels.hpp"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
// GCC 12 warns about the undefined pass-through operand inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define SORET_AVX512 1
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SORET_AVX2 1
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
/// GK: 0 constant g, 1 P = 16, 2 P = 32, 3 one piece (degree k.D at run time); D: the degree
/// of GK 1 and 2 (unrolled). PER: periodic (else reflecting). CELLS: write c1; CU: write cu.
template <int GK, int D, bool PER, bool CELLS, bool CU>
bool axis_simd(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
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
  if constexpr (GK == 1 || GK == 2)
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
    } else if constexpr (GK == 3) {
      // one piece: t = y (the clamped piece is 0), broadcast coefficients
      __m512d t[U];
      const __m512d top = _mm512_set1_pd(k.coef[k.D]);
      for (int u = 0; u < U; ++u) {
        t[u] = _mm512_fmadd_pd(xv[u], ps, poff);
        g[u] = top;
      }
      for (int d = k.D - 1; d >= 0; --d) {
        const __m512d cd = _mm512_set1_pd(k.coef[d]);
        for (int u = 0; u < U; ++u) g[u] = _mm512_fmadd_pd(g[u], t[u], cd);
      }
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


#ifdef SORET_AVX2
/// Four lanes' piecewise-polynomial g: each lane's piece coefficients are loaded whole from the
/// piece-major table (4 at a time) and transposed into one vector per coefficient; Horner in t
/// with the same fma chain as kernel_g. (Measured on Zen 3: AVX2 gathers, one per coefficient,
/// take 1.7x as long; 128-bit broadcasts + blends instead of the transpose, the same time.)
template <int D>
inline __m256d poly4(const AxisKernel& k, __m128i j, __m256d t) {
  constexpr int G = (D + 4) / 4;
  alignas(16) std::int32_t jj[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(jj), j);
  const double* r0 = k.coef_t + size_t(jj[0]) * size_t(k.stride);
  const double* r1 = k.coef_t + size_t(jj[1]) * size_t(k.stride);
  const double* r2 = k.coef_t + size_t(jj[2]) * size_t(k.stride);
  const double* r3 = k.coef_t + size_t(jj[3]) * size_t(k.stride);
  __m256d C[4 * G];
  for (int g = 0; g < G; ++g) {
    const __m256d a0 = _mm256_loadu_pd(r0 + 4 * g), a1 = _mm256_loadu_pd(r1 + 4 * g);
    const __m256d a2 = _mm256_loadu_pd(r2 + 4 * g), a3 = _mm256_loadu_pd(r3 + 4 * g);
    const __m256d t0 = _mm256_unpacklo_pd(a0, a1), t1 = _mm256_unpackhi_pd(a0, a1);
    const __m256d t2 = _mm256_unpacklo_pd(a2, a3), t3 = _mm256_unpackhi_pd(a2, a3);
    C[4 * g + 0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    C[4 * g + 1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    C[4 * g + 2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    C[4 * g + 3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
  __m256d r = C[D];
#pragma GCC unroll 16
  for (int d = D - 1; d >= 0; --d) r = _mm256_fmadd_pd(r, t, C[d]);
  return r;
}

/// One piece (P = 1): t = y itself (the clamped piece is 0), Horner with broadcast coefficients,
/// U vectors at a time.
template <int U>
inline void g_single(const AxisKernel& k, const __m256d* xv, __m256d* g) {
  const __m256d ps = _mm256_set1_pd(k.pscale), poff = _mm256_set1_pd(k.poff);
  __m256d t[U];
  const __m256d top = _mm256_broadcast_sd(k.coef + k.D);
  for (int u = 0; u < U; ++u) {
    t[u] = _mm256_fmadd_pd(xv[u], ps, poff);
    g[u] = top;
  }
  for (int d = k.D - 1; d >= 0; --d) {
    const __m256d cd = _mm256_broadcast_sd(k.coef + d);
    for (int u = 0; u < U; ++u) g[u] = _mm256_fmadd_pd(g[u], t[u], cd);
  }
}

/// Piece index (as int32) and local coordinate t of four positions, as kernel_g computes them.
inline void piece4(const AxisKernel& k, __m256d xv, __m128i& j, __m256d& t) {
  const __m256d yy = _mm256_fmadd_pd(xv, _mm256_set1_pd(k.pscale), _mm256_set1_pd(k.poff));
  __m256d jd = _mm256_round_pd(yy, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  jd = _mm256_max_pd(jd, _mm256_setzero_pd());
  jd = _mm256_min_pd(jd, _mm256_set1_pd(double(k.P - 1)));
  t = _mm256_sub_pd(yy, jd);
  j = _mm256_cvttpd_epi32(jd);
}

/// GK: 0 constant g, 1 piecewise polynomial of degree D (P = 16 or 32), 3 one piece (degree
/// k.D at run time). PER: periodic (else reflecting).
/// CELLS: write c1; CU: write cu. Same arithmetic as axis_scalar, lane for lane.
template <int GK, int D, bool PER, bool CELLS, bool CU>
bool axis_simd(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
               std::int32_t* cu) {
  const __m256d lo = _mm256_set1_pd(k.m.lo), hi = _mm256_set1_pd(k.m.hi), L = _mm256_set1_pd(k.m.L);
  const __m256d eta = _mm256_set1_pd(k.eta), gc = _mm256_set1_pd(k.gconst);
  const __m256d ih = _mm256_set1_pd(k.m.ih), bmax = _mm256_set1_pd(double(k.m.B - 1));
  const __m256d Bd = _mm256_set1_pd(double(k.m.B)), one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
  const __m128i sh = _mm_cvtsi32_si128(63 - bit);
  const __m256i signbit = _mm256_set1_epi64x(std::int64_t(1ull << 63));
  constexpr int U = 4;
  int any = 0;
  for (int i0 = 0; i0 < cap; i0 += 4 * U) {
    __m256d xv[U], g[U], xu[U], y[U], below[U], above[U], ok[U];
    for (int u = 0; u < U; ++u) xv[u] = _mm256_loadu_pd(x + i0 + 4 * u);
    if constexpr (GK == 0) {
      for (int u = 0; u < U; ++u) g[u] = gc;
    } else if constexpr (GK == 3) {
      g_single<U>(k, xv, g);
    } else {
      for (int u = 0; u < U; ++u) {
        __m128i j;
        __m256d t;
        piece4(k, xv[u], j, t);
        g[u] = poly4<D>(k, j, t);
      }
    }
    for (int u = 0; u < U; ++u) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i0 + 4 * u));
      const __m256i sb = _mm256_and_si256(_mm256_sll_epi64(wv, sh), signbit);
      __m256d st = _mm256_mul_pd(eta, g[u]);
      st = _mm256_castsi256_pd(_mm256_xor_si256(_mm256_castpd_si256(st), sb));
      xu[u] = _mm256_sub_pd(xv[u], st);
    }
    for (int u = 0; u < U; ++u) {
      if constexpr (PER) {
        below[u] = _mm256_cmp_pd(xu[u], lo, _CMP_LT_OQ);
        above[u] = _mm256_cmp_pd(xu[u], hi, _CMP_GE_OQ);
        y[u] = _mm256_blendv_pd(xu[u], _mm256_add_pd(xu[u], L), below[u]);
        y[u] = _mm256_blendv_pd(y[u], _mm256_sub_pd(y[u], L), above[u]);
        ok[u] = _mm256_and_pd(_mm256_cmp_pd(y[u], lo, _CMP_GE_OQ), _mm256_cmp_pd(y[u], hi, _CMP_LT_OQ));
      } else {
        y[u] = xu[u];
        ok[u] = _mm256_and_pd(_mm256_cmp_pd(xu[u], lo, _CMP_GE_OQ), _mm256_cmp_pd(xu[u], hi, _CMP_LE_OQ));
      }
      _mm256_storeu_pd(x + i0 + 4 * u, _mm256_blendv_pd(xu[u], y[u], ok[u]));
      any |= _mm256_movemask_pd(ok[u]) ^ 0xF;
    }
    if constexpr (CELLS) {
      for (int u = 0; u < U; ++u) {
        __m256d cd = _mm256_round_pd(_mm256_mul_pd(_mm256_sub_pd(y[u], lo), ih), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        cd = _mm256_min_pd(cd, bmax);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(c1 + i0 + 4 * u), _mm256_cvttpd_epi32(cd));
        if constexpr (CU) {
          __m256d ud = cd;
          if constexpr (PER) {
            // cu = c1 + wrap * B, wrap = -1 (below), +1 (above), 0: exact in double
            const __m256d wrap = _mm256_sub_pd(_mm256_and_pd(above[u], one), _mm256_and_pd(below[u], one));
            ud = _mm256_fmadd_pd(wrap, Bd, cd);
          }
          (void)zero;
          _mm_storeu_si128(reinterpret_cast<__m128i*>(cu + i0 + 4 * u), _mm256_cvttpd_epi32(ud));
        }
      }
    }
  }
  return any != 0;
}

/// std::clamp(x, lo, hi) lane by lane: x < lo -> lo, hi < x -> hi (NaN stays NaN).
inline __m256d clamp4(__m256d x, __m256d lo, __m256d hi) {
  x = _mm256_blendv_pd(x, lo, _mm256_cmp_pd(x, lo, _CMP_LT_OQ));
  return _mm256_blendv_pd(x, hi, _mm256_cmp_pd(hi, x, _CMP_LT_OQ));
}

void poly_single_avx2(const AxisKernel& k, double lo_, double hi_, const double* x, int n, double* out) {
  const __m256d lo = _mm256_set1_pd(lo_), hi = _mm256_set1_pd(hi_);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256d xv = clamp4(_mm256_loadu_pd(x + i), lo, hi);
    __m256d g;
    g_single<1>(k, &xv, &g);
    _mm256_storeu_pd(out + i, g);
  }
  for (; i < n; ++i) out[i] = kernel_g(k, std::clamp(x[i], lo_, hi_));
}

template <int D>
void poly_avx2(const AxisKernel& k, double lo_, double hi_, const double* x, int n, double* out) {
  const __m256d lo = _mm256_set1_pd(lo_), hi = _mm256_set1_pd(hi_);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d xv = clamp4(_mm256_loadu_pd(x + i), lo, hi);
    __m128i j;
    __m256d t;
    piece4(k, xv, j, t);  // NaN: max(NaN, 0) = 0 picks piece 0, as kernel_g does
    _mm256_storeu_pd(out + i, poly4<D>(k, j, t));
  }
  for (; i < n; ++i) out[i] = kernel_g(k, std::clamp(x[i], lo_, hi_));
}

void poly_degree2(const AxisKernel& k, double lo, double hi, const double* x, int n, double* out) {
  switch (k.D) {
    case 1: return poly_avx2<1>(k, lo, hi, x, n, out);
    case 2: return poly_avx2<2>(k, lo, hi, x, n, out);
    case 3: return poly_avx2<3>(k, lo, hi, x, n, out);
    case 4: return poly_avx2<4>(k, lo, hi, x, n, out);
    case 5: return poly_avx2<5>(k, lo, hi, x, n, out);
    case 6: return poly_avx2<6>(k, lo, hi, x, n, out);
    case 7: return poly_avx2<7>(k, lo, hi, x, n, out);
    case 8: return poly_avx2<8>(k, lo, hi, x, n, out);
    default: return poly_avx2<9>(k, lo, hi, x, n, out);
  }
}
#endif

#if defined(SORET_AVX512) || defined(SORET_AVX2)
// Dispatch to axis_simd, the kernel of the ISA compiled above.
template <int GK, int D, bool PER>
bool dispatch_cells(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
                    std::int32_t* cu) {
  if (!c1) return axis_simd<GK, D, PER, false, false>(k, x, w, bit, cap, c1, cu);
  if (!cu) return axis_simd<GK, D, PER, true, false>(k, x, w, bit, cap, c1, cu);
  return axis_simd<GK, D, PER, true, true>(k, x, w, bit, cap, c1, cu);
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

#endif

}  // namespace

void poly_values(const AxisKernel& k, double lo, double hi, const double* x, int n, double* out) {
#ifdef SORET_AVX512
  if (k.P == 1 && k.D >= 1) {
    const __m512d lov = _mm512_set1_pd(lo), hiv = _mm512_set1_pd(hi);
    const __m512d ps = _mm512_set1_pd(k.pscale), poff = _mm512_set1_pd(k.poff);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
      __m512d xv = _mm512_loadu_pd(x + i);
      xv = _mm512_mask_mov_pd(xv, _mm512_cmp_pd_mask(xv, lov, _CMP_LT_OQ), lov);
      xv = _mm512_mask_mov_pd(xv, _mm512_cmp_pd_mask(hiv, xv, _CMP_LT_OQ), hiv);
      const __m512d t = _mm512_fmadd_pd(xv, ps, poff);
      __m512d g = _mm512_set1_pd(k.coef[k.D]);
      for (int d = k.D - 1; d >= 0; --d) g = _mm512_fmadd_pd(g, t, _mm512_set1_pd(k.coef[d]));
      _mm512_storeu_pd(out + i, g);
    }
    for (; i < n; ++i) out[i] = kernel_g(k, std::clamp(x[i], lo, hi));
    return;
  }
  if ((k.P == 16 || k.P == 32) && k.D >= 1 && k.D <= 9) {
    if (k.P == 16) poly_degree<1>(k, lo, hi, x, n, out);
    else poly_degree<2>(k, lo, hi, x, n, out);
    return;
  }
#elif defined(SORET_AVX2)
  if (k.P == 1 && k.D >= 1) {
    poly_single_avx2(k, lo, hi, x, n, out);
    return;
  }
  if (k.P > 1 && k.coef_t && k.D >= 1 && k.D <= 9 && k.stride >= k.D + 1) {
    poly_degree2(k, lo, hi, x, n, out);
    return;
  }
#endif
  for (int i = 0; i < n; ++i) out[i] = kernel_g(k, std::clamp(x[i], lo, hi));
}

bool fused_axis_step(const AxisKernel& k, double* x, const std::uint64_t* w, int bit, int cap, std::int32_t* c1,
                     std::int32_t* cu) {
#ifdef SORET_AVX512
  const bool ok_shape = (k.m.b == Boundary::periodic || k.m.b == Boundary::reflecting) &&
                        (k.P == 0 || (k.P == 1 && k.D >= 1) || ((k.P == 16 || k.P == 32) && k.D >= 1 && k.D <= 9)) &&
                        (c1 || !cu);
  if (ok_shape) {
    if (k.P == 0) return dispatch_boundary<0, 0>(k, x, w, bit, cap, c1, cu);
    if (k.P == 1) return dispatch_boundary<3, 0>(k, x, w, bit, cap, c1, cu);
    if (k.P == 16) return dispatch_degree<1>(k, x, w, bit, cap, c1, cu);
    return dispatch_degree<2>(k, x, w, bit, cap, c1, cu);
  }
#elif defined(SORET_AVX2)
  const bool ok_shape = (k.m.b == Boundary::periodic || k.m.b == Boundary::reflecting) &&
                        (k.P == 0 || (k.P == 1 && k.D >= 1) || (k.coef_t && k.D >= 1 && k.D <= 9 && k.stride >= k.D + 1)) &&
                        (c1 || !cu);
  if (ok_shape) {
    if (k.P == 0) return dispatch_boundary<0, 0>(k, x, w, bit, cap, c1, cu);
    if (k.P == 1) return dispatch_boundary<3, 0>(k, x, w, bit, cap, c1, cu);
    return dispatch_degree<1>(k, x, w, bit, cap, c1, cu);
  }
#endif
  return axis_scalar(k, x, w, bit, cap, c1, cu);
}

const char* fused_isa() {
#ifdef SORET_AVX512
  return "avx512";
#elif defined(SORET_AVX2)
  return "avx2";
#else
  return "scalar";
#endif
}

}  // namespace soret
