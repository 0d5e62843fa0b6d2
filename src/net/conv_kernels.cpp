#include "net/conv_kernels.hpp"

#include <algorithm>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
#include <immintrin.h>
#define SORET_CONV_AVX2 1
#endif

namespace soret::net::kernels {

namespace {

using v8 = double __attribute__((vector_size(64)));
inline v8 load8(const double* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store_n(double* p, v8 v, int n) {
  if (n >= 8) std::memcpy(p, &v, sizeof v);
  else
    for (int i = 0; i < n; ++i) p[i] = v[i];
}

/// CB output channels x NV vectors of 8 outputs of one row, kept in registers over (ci, ky, kx).
template <int CB, int NV>
inline void conv_tile(const double* x, int Ci, int H, int Wd, const double* w, const double* bias, int co0, int K,
                      double* y, int Ho, int Wo, int oy, int ox0) {
  const std::size_t cstride = std::size_t(Ci) * K * K;
  v8 acc[CB][NV];
  for (int c = 0; c < CB; ++c) {
    const double b = bias ? bias[co0 + c] : 0.0;
    for (int v = 0; v < NV; ++v) acc[c][v] = v8{} + b;
  }
  for (int ci = 0; ci < Ci; ++ci)
    for (int ky = 0; ky < K; ++ky) {
      const double* xr = x + (std::size_t(ci) * H + oy + ky) * Wd + ox0;
      const double* wq = w + std::size_t(co0) * cstride + (std::size_t(ci) * K + ky) * K;
      for (int kx = 0; kx < K; ++kx) {
        v8 xv[NV];
        for (int v = 0; v < NV; ++v) xv[v] = load8(xr + kx + 8 * v);
        for (int c = 0; c < CB; ++c) {
          const double wv = wq[c * cstride + kx];
          for (int v = 0; v < NV; ++v) acc[c][v] += wv * xv[v];
        }
      }
    }
  for (int c = 0; c < CB; ++c)
    for (int v = 0; v < NV; ++v)
      store_n(y + (std::size_t(co0 + c) * Ho + oy) * Wo + ox0 + 8 * v, acc[c][v], Wo - ox0 - 8 * v);
}

template <int CB>
void conv_block(const double* x, int Ci, int H, int Wd, const double* w, const double* bias, int co0, int K, double* y,
                int Ho, int Wo) {
  for (int oy = 0; oy < Ho; ++oy) {
    int ox0 = 0;
    for (; ox0 + 8 < Wo; ox0 += 16) conv_tile<CB, 2>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo, oy, ox0);
    if (ox0 < Wo) conv_tile<CB, 1>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo, oy, ox0);
  }
}

/// gw for CB output channels and one (ci, ky, kx): sums over the padded dy rows (zero lanes past Wo).
template <int CB>
void grad_w_block(const double* x, int Ci, int H, int Wd, const double* dyp, int Ho, int Wp, int co0, int K, double scale,
                  double* gw) {
  const std::size_t cstride = std::size_t(Ci) * K * K;
  for (int ci = 0; ci < Ci; ++ci)
    for (int ky = 0; ky < K; ++ky)
      for (int kx = 0; kx < K; ++kx) {
        v8 acc[CB] = {};
        for (int oy = 0; oy < Ho; ++oy) {
          const double* xr = x + (std::size_t(ci) * H + oy + ky) * Wd + kx;
          for (int ox0 = 0; ox0 < Wp; ox0 += 8) {
            const v8 xv = load8(xr + ox0);
            for (int c = 0; c < CB; ++c) acc[c] += load8(dyp + (std::size_t(co0 + c) * Ho + oy) * Wp + ox0) * xv;
          }
        }
        for (int c = 0; c < CB; ++c) {
          double s = 0;
          for (int l = 0; l < 8; ++l) s += acc[c][l];
          gw[std::size_t(co0 + c) * cstride + (std::size_t(ci) * K + ky) * K + kx] += scale * s;
        }
      }
}

template <class F>
void blocks(int Co, F&& f) {
  // Output channels in nearly equal blocks of at most 12 (registers: 12 x 2 accumulators).
  const int nb = (Co + 11) / 12, cb = (Co + nb - 1) / nb;
  for (int co0 = 0; co0 < Co; co0 += cb) f(co0, std::min(cb, Co - co0));
}

#define SORET_DISPATCH(n, call) \
  switch (n) {                  \
    case 1: call(1); break;     \
    case 2: call(2); break;     \
    case 3: call(3); break;     \
    case 4: call(4); break;     \
    case 5: call(5); break;     \
    case 6: call(6); break;     \
    case 7: call(7); break;     \
    case 8: call(8); break;     \
    case 9: call(9); break;     \
    case 10: call(10); break;   \
    case 11: call(11); break;   \
    default: call(12); break;   \
  }

}  // namespace

#ifdef SORET_CONV_AVX2
// AVX2 + FMA versions (4-double vectors, 16 registers) of conv_valid and conv_grad_w: the
// generic 8-double kernels above need 2 registers per vector without AVX-512 and spill.
namespace {

inline __m256i lanes(int r) {  // the first r (1..4) lanes
  return _mm256_setr_epi64x(-1, r > 1 ? -1 : 0, r > 2 ? -1 : 0, r > 3 ? -1 : 0);
}

/// CB output channels x NV vectors of 4 outputs of row oy from ox0, kept in registers over (ci, ky, kx).
template <int CB, int NV>
inline void conv_tile4(const double* x, int Ci, int H, int Wd, const double* w, const double* bias, int co0, int K,
                       double* y, int Ho, int Wo, int oy, int ox0) {
  const std::size_t cstride = std::size_t(Ci) * K * K;
  __m256d acc[CB][NV];
  #pragma GCC unroll 16
  for (int c = 0; c < CB; ++c) {
    const __m256d b = _mm256_set1_pd(bias ? bias[co0 + c] : 0.0);
    #pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[c][v] = b;
  }
  const double* wc = w + std::size_t(co0) * cstride;
  for (int ci = 0; ci < Ci; ++ci)
    for (int ky = 0; ky < K; ++ky) {
      const double* xr = x + (std::size_t(ci) * H + oy + ky) * Wd + ox0;
      const double* wq = wc + (std::size_t(ci) * K + ky) * K;
      for (int kx = 0; kx < K; ++kx) {
        __m256d xv[NV];
        #pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) {
          xv[v] = _mm256_loadu_pd(xr + kx + 4 * v);
        }
        #pragma GCC unroll 16
        for (int c = 0; c < CB; ++c) {
          const __m256d wv = _mm256_broadcast_sd(wq + c * cstride + kx);
          #pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) acc[c][v] = _mm256_fmadd_pd(wv, xv[v], acc[c][v]);
        }
      }
    }
  #pragma GCC unroll 16
  for (int c = 0; c < CB; ++c)
    #pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      double* yo = y + (std::size_t(co0 + c) * Ho + oy) * Wo + ox0 + 4 * v;
      const int left = Wo - ox0 - 4 * v;
      if (left >= 4) _mm256_storeu_pd(yo, acc[c][v]);
      else _mm256_maskstore_pd(yo, lanes(left), acc[c][v]);
    }
}

template <int CB>
void conv_block4(const double* x, int Ci, int H, int Wd, const double* w, const double* bias, int co0, int K, double* y,
                 int Ho, int Wo) {
  // (CB <= 5: CB x 2 accumulators; CB > 5: CB x 1)
  for (int oy = 0; oy < Ho; ++oy) {
    int ox0 = 0;
    if constexpr (CB <= 5)
      for (; ox0 + 4 < Wo; ox0 += 8) conv_tile4<CB, 2>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo, oy, ox0);
    for (; ox0 < Wo; ox0 += 4) conv_tile4<CB, 1>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo, oy, ox0);
  }
}

inline double hsum(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/// gw for CB output channels, one (ci, ky) and all KX = K kernel columns: sums over the dy rows
/// padded to Wp (a multiple of 4) with zeros.
template <int CB, int KX>
void grad_w_tile4(const double* x, int H, int Wd, const double* dyp, int Ho, int Wp, int co0, int Ci, int ci, int ky,
                  double scale, double* gw) {
  __m256d acc[CB][KX];
  #pragma GCC unroll 16
  for (int c = 0; c < CB; ++c)
    #pragma GCC unroll 16
    for (int kx = 0; kx < KX; ++kx) acc[c][kx] = _mm256_setzero_pd();
  for (int oy = 0; oy < Ho; ++oy) {
    const double* xr = x + (std::size_t(ci) * H + oy + ky) * Wd;
    const double* dr = dyp + (std::size_t(co0) * Ho + oy) * Wp;
    for (int ox0 = 0; ox0 < Wp; ox0 += 4) {
      __m256d dv[CB];
      #pragma GCC unroll 16
      for (int c = 0; c < CB; ++c) {
        dv[c] = _mm256_loadu_pd(dr + std::size_t(c) * Ho * Wp + ox0);
      }
      #pragma GCC unroll 16
      for (int kx = 0; kx < KX; ++kx) {
        const __m256d xv = _mm256_loadu_pd(xr + ox0 + kx);
        #pragma GCC unroll 16
        for (int c = 0; c < CB; ++c) acc[c][kx] = _mm256_fmadd_pd(dv[c], xv, acc[c][kx]);
      }
    }
  }
  const std::size_t cstride = std::size_t(Ci) * KX * KX;
  #pragma GCC unroll 16
  for (int c = 0; c < CB; ++c)
    #pragma GCC unroll 16
    for (int kx = 0; kx < KX; ++kx)
      gw[std::size_t(co0 + c) * cstride + (std::size_t(ci) * KX + ky) * KX + kx] += scale * hsum(acc[c][kx]);
}

template <int KX>
void grad_w4(const double* x, int Ci, int H, int Wd, const double* dyp, int Co, int Ho, int Wp, double scale, double* gw) {
  constexpr int CB = KX <= 3 ? 12 / KX : KX <= 6 ? 2 : 1;  // CB x KX <= 12 accumulators
  for (int ci = 0; ci < Ci; ++ci)
    for (int ky = 0; ky < KX; ++ky) {
      int co0 = 0;
      for (; co0 + CB <= Co; co0 += CB) grad_w_tile4<CB, KX>(x, H, Wd, dyp, Ho, Wp, co0, Ci, ci, ky, scale, gw);
      for (; co0 < Co; ++co0) grad_w_tile4<1, KX>(x, H, Wd, dyp, Ho, Wp, co0, Ci, ci, ky, scale, gw);
    }
}

}  // namespace
#endif

void conv_valid(const double* x, int Ci, int H, int Wd, const double* w, const double* bias, int Co, int K, double* y) {
  const int Ho = H - K + 1, Wo = Wd - K + 1;
#ifdef SORET_CONV_AVX2
  {
    // Output channels in nearly equal blocks of at most 5 (x 2 vectors of accumulators).
    const int nb = (Co + 4) / 5, cb = (Co + nb - 1) / nb;
    for (int co0 = 0; co0 < Co; co0 += cb) {
      switch (std::min(cb, Co - co0)) {
        case 1: conv_block4<1>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo); break;
        case 2: conv_block4<2>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo); break;
        case 3: conv_block4<3>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo); break;
        case 4: conv_block4<4>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo); break;
        default: conv_block4<5>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo); break;
      }
    }
    return;
  }
#endif
  blocks(Co, [&](int co0, int n) {
#define SORET_CALL(CB) conv_block<CB>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo)
    SORET_DISPATCH(n, SORET_CALL)
#undef SORET_CALL
  });
}

namespace {
/// dy (Co x Ho x Wo) into dyp with rows padded to Wp with zeros.
void pad_rows(const double* dy, int Co, int Ho, int Wo, int Wp, double* dyp) {
  for (int c = 0; c < Co; ++c)
    for (int oy = 0; oy < Ho; ++oy) {
      double* d = dyp + (std::size_t(c) * Ho + oy) * Wp;
      std::copy_n(dy + (std::size_t(c) * Ho + oy) * Wo, Wo, d);
      std::fill(d + Wo, d + Wp, 0.0);
    }
}
}  // namespace

void conv_grad_w(const double* x, int Ci, int H, int Wd, const double* dy, int Co, int K, double scale, double* gw,
                 double* work) {
  const int Ho = H - K + 1, Wo = Wd - K + 1;
#ifdef SORET_CONV_AVX2
  if (K <= 7) {
    const int Wp = (Wo + 3) / 4 * 4;
    double* dyp = work;
    pad_rows(dy, Co, Ho, Wo, Wp, dyp);
    switch (K) {
      case 1: grad_w4<1>(x, Ci, H, Wd, dyp, Co, Ho, Wp, scale, gw); break;
      case 2: grad_w4<2>(x, Ci, H, Wd, dyp, Co, Ho, Wp, scale, gw); break;
      case 3: grad_w4<3>(x, Ci, H, Wd, dyp, Co, Ho, Wp, scale, gw); break;
      case 4: grad_w4<4>(x, Ci, H, Wd, dyp, Co, Ho, Wp, scale, gw); break;
      case 5: grad_w4<5>(x, Ci, H, Wd, dyp, Co, Ho, Wp, scale, gw); break;
      case 6: grad_w4<6>(x, Ci, H, Wd, dyp, Co, Ho, Wp, scale, gw); break;
      default: grad_w4<7>(x, Ci, H, Wd, dyp, Co, Ho, Wp, scale, gw); break;
    }
    return;
  }
#endif
  const int Wp = (Wo + 7) / 8 * 8;
  double* dyp = work;
  pad_rows(dy, Co, Ho, Wo, Wp, dyp);
  blocks(Co, [&](int co0, int n) {
#define SORET_CALL(CB) grad_w_block<CB>(x, Ci, H, Wd, dyp, Ho, Wp, co0, K, scale, gw)
    SORET_DISPATCH(n, SORET_CALL)
#undef SORET_CALL
  });
}

void conv_grad_x(const double* dy, int Co, int Ho, int Wo, const double* w, int Ci, int K, double* dx, double* work) {
  const int Hp = Ho + 2 * (K - 1), Wp = Wo + 2 * (K - 1);
  double* dyp = work;
  double* wf = work + std::size_t(Co) * Hp * Wp;
  std::fill(dyp, dyp + std::size_t(Co) * Hp * Wp + kConvSlack, 0.0);
  for (int c = 0; c < Co; ++c)
    for (int oy = 0; oy < Ho; ++oy)
      std::copy_n(dy + (std::size_t(c) * Ho + oy) * Wo, Wo, dyp + (std::size_t(c) * Hp + oy + K - 1) * Wp + K - 1);
  // wf[ci][co][ky][kx] = w[co][ci][K-1-ky][K-1-kx]
  for (int co = 0; co < Co; ++co)
    for (int ci = 0; ci < Ci; ++ci)
      for (int ky = 0; ky < K; ++ky)
        for (int kx = 0; kx < K; ++kx)
          wf[((std::size_t(ci) * Co + co) * K + ky) * K + kx] = w[((std::size_t(co) * Ci + ci) * K + K - 1 - ky) * K + K - 1 - kx];
  conv_valid(dyp, Co, Hp, Wp, wf, nullptr, Ci, K, dx);
}

}  // namespace soret::net::kernels

#include <cblas.h>

namespace soret::net::kernels {

void im2col(const double* x, int Ci, int H, int Wd, int K, int S, int Ho, int Wo, double* cols) {
  for (int c = 0; c < Ci; ++c)
    for (int ky = 0; ky < K; ++ky)
      for (int kx = 0; kx < K; ++kx) {
        double* r = cols + ((std::size_t(c) * K + ky) * K + kx) * std::size_t(Ho) * Wo;
        for (int oy = 0; oy < Ho; ++oy) {
          const double* xr = x + (std::size_t(c) * H + std::size_t(oy) * S + ky) * Wd + kx;
          double* rr = r + std::size_t(oy) * Wo;
          if (S == 1) std::copy_n(xr, Wo, rr);
          else
            for (int ox = 0; ox < Wo; ++ox) rr[ox] = xr[std::size_t(ox) * S];
        }
      }
}

void conv_gemm_forward(const double* x, int Ci, int H, int Wd, const double* w, const double* bias, int Co, int K, int S,
                       int Ho, int Wo, double* y, double* cols) {
  const int q = Ho * Wo, kk = Ci * K * K;
  im2col(x, Ci, H, Wd, K, S, Ho, Wo, cols);
  for (int c = 0; c < Co; ++c) std::fill_n(y + std::size_t(c) * q, q, bias ? bias[c] : 0.0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, q, kk, 1.0, w, kk, cols, q, 1.0, y, q);
}

void conv_gemm_grad_w(const double* x, int Ci, int H, int Wd, const double* dy, int Co, int K, int S, int Ho, int Wo,
                      double scale, double* gw, double* cols) {
  const int q = Ho * Wo, kk = Ci * K * K;
  im2col(x, Ci, H, Wd, K, S, Ho, Wo, cols);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, kk, q, scale, dy, q, cols, q, 1.0, gw, kk);
}

void conv_gemm_grad_x(const double* dy, int Co, int Ho, int Wo, const double* w, int Ci, int H, int Wd, int K, int S,
                      double* dx, double* cols) {
  const int q = Ho * Wo, kk = Ci * K * K;
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, q, Co, 1.0, w, kk, dy, q, 0.0, cols, q);
  std::fill_n(dx, std::size_t(Ci) * H * Wd, 0.0);
  for (int c = 0; c < Ci; ++c)
    for (int ky = 0; ky < K; ++ky)
      for (int kx = 0; kx < K; ++kx) {
        const double* r = cols + ((std::size_t(c) * K + ky) * K + kx) * std::size_t(q);
        for (int oy = 0; oy < Ho; ++oy) {
          double* xr = dx + (std::size_t(c) * H + std::size_t(oy) * S + ky) * Wd + kx;
          const double* rr = r + std::size_t(oy) * Wo;
          if (S == 1) {
#pragma omp simd
            for (int ox = 0; ox < Wo; ++ox) xr[ox] += rr[ox];
          } else {
            for (int ox = 0; ox < Wo; ++ox) xr[std::size_t(ox) * S] += rr[ox];
          }
        }
      }
}

}  // namespace soret::net::kernels
