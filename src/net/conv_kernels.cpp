#include "net/conv_kernels.hpp"

#include <algorithm>
#include <cstring>

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

void conv_valid(const double* x, int Ci, int H, int Wd, const double* w, const double* bias, int Co, int K, double* y) {
  const int Ho = H - K + 1, Wo = Wd - K + 1;
  blocks(Co, [&](int co0, int n) {
#define SORET_CALL(CB) conv_block<CB>(x, Ci, H, Wd, w, bias, co0, K, y, Ho, Wo)
    SORET_DISPATCH(n, SORET_CALL)
#undef SORET_CALL
  });
}

void conv_grad_w(const double* x, int Ci, int H, int Wd, const double* dy, int Co, int K, double scale, double* gw,
                 double* work) {
  const int Ho = H - K + 1, Wo = Wd - K + 1, Wp = (Wo + 7) / 8 * 8;
  double* dyp = work;  // dy with rows padded to Wp with zeros
  for (int c = 0; c < Co; ++c)
    for (int oy = 0; oy < Ho; ++oy) {
      double* d = dyp + (std::size_t(c) * Ho + oy) * Wp;
      std::copy_n(dy + (std::size_t(c) * Ho + oy) * Wo, Wo, d);
      std::fill(d + Wo, d + Wp, 0.0);
    }
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
