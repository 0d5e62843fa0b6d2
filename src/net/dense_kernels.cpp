#include "net/dense_kernels.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#include <cblas.h>
#include <libxsmm.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace soret::net::kernels {

namespace {

// libxsmm works column-major. Row-major X (n x ni), dY (n x no) are the column-major matrices
// X^T (ni x n) and dY^T (no x n); row-major W (no x ni) is W^T (ni x no). Then
//   forward:  Y  = X W^T     <=> Y^T ... needs X feature-major: Yf (n x no) = Xf (n x ni) . W^T   (NN)
//   input:    dX^T (ni x n) = W^T (ni x no) . dY^T (no x n)                                        (NN)
//   weights:  W^T (ni x no) += X^T (ni x n) . (scale dY^T)^T (n x no)                               (NT, beta 1)
// libxsmm 1.17's JIT has no transposed A, and alpha must be 1: the forward transposes X into
// Xf and Yf back (adding the bias), the weight gradient scales a copy of dY.
struct XsmmShape {
  int n = 0, no = 0, ni = 0;
  libxsmm_dmmfunction fwd = nullptr, gx = nullptr, gw = nullptr;
  libxsmm_dmmfunction gx_fm = nullptr, gw_fm = nullptr;  // the backward on feature-major dY
};

/// Above this many multiply-adds per product the unblocked kernels lose to OpenBLAS's blocking.
constexpr std::size_t kXsmmMaxMnk = std::size_t(1) << 20;

XsmmShape xsmm_shape(int n, int no, int ni) {
  thread_local std::vector<XsmmShape> cache;  // dispatched once per shape and thread
  for (const auto& s : cache)
    if (s.n == n && s.no == no && s.ni == ni) return s;
  XsmmShape s{n, no, ni};
  if (std::size_t(n) * no * ni <= kXsmmMaxMnk) {
    const double one = 1, zero = 0;
    const int nn = LIBXSMM_GEMM_FLAG_NONE, nt = LIBXSMM_GEMM_FLAG_TRANS_B, pf = LIBXSMM_GEMM_PREFETCH_NONE;
    libxsmm_blasint lda = n, ldb = ni, ldc = n;
    s.fwd = libxsmm_dmmdispatch(n, no, ni, &lda, &ldb, &ldc, &one, &zero, &nn, &pf);
    lda = ni, ldb = no, ldc = ni;
    s.gx = libxsmm_dmmdispatch(ni, n, no, &lda, &ldb, &ldc, &one, &zero, &nn, &pf);
    s.gw = libxsmm_dmmdispatch(ni, no, n, &lda, &ldb, &ldc, &one, &one, &nt, &pf);
    lda = n, ldb = ni, ldc = n;  // dXf (n x ni) = dYf (n x no) . (W^T)^T
    s.gx_fm = libxsmm_dmmdispatch(n, ni, no, &lda, &ldb, &ldc, &one, &zero, &nt, &pf);
    lda = ni, ldb = n, ldc = ni;  // W^T (ni x no) += X^T (ni x n) . sdYf (n x no)
    s.gw_fm = libxsmm_dmmdispatch(ni, no, n, &lda, &ldb, &ldc, &one, &one, &nn, &pf);
  }
  cache.push_back(s);
  return s;
}

}  // namespace

/// dst[c ldd + r] = src[r lds + c] (+ b[r] where b is not null), r < rows, c < cols.
void transpose(int rows, int cols, const double* src, int lds, double* dst, int ldd, const double* b) {
  int r = 0;
#if defined(__AVX2__)
  for (; r + 4 <= rows; r += 4) {
    const __m256d bv = b ? _mm256_loadu_pd(b + r) : _mm256_setzero_pd();
    int c = 0;
    for (; c + 4 <= cols; c += 4) {
      const double* s0 = src + std::size_t(r) * lds + c;
      const __m256d a0 = _mm256_loadu_pd(s0), a1 = _mm256_loadu_pd(s0 + lds), a2 = _mm256_loadu_pd(s0 + 2 * lds),
                    a3 = _mm256_loadu_pd(s0 + 3 * lds);
      const __m256d t0 = _mm256_unpacklo_pd(a0, a1), t1 = _mm256_unpackhi_pd(a0, a1), t2 = _mm256_unpacklo_pd(a2, a3),
                    t3 = _mm256_unpackhi_pd(a2, a3);
      double* d0 = dst + std::size_t(c) * ldd + r;
      __m256d o0 = _mm256_permute2f128_pd(t0, t2, 0x20), o1 = _mm256_permute2f128_pd(t1, t3, 0x20),
              o2 = _mm256_permute2f128_pd(t0, t2, 0x31), o3 = _mm256_permute2f128_pd(t1, t3, 0x31);
      if (b) {
        o0 = _mm256_add_pd(o0, bv), o1 = _mm256_add_pd(o1, bv), o2 = _mm256_add_pd(o2, bv), o3 = _mm256_add_pd(o3, bv);
      }
      _mm256_storeu_pd(d0, o0);
      _mm256_storeu_pd(d0 + ldd, o1);
      _mm256_storeu_pd(d0 + 2 * ldd, o2);
      _mm256_storeu_pd(d0 + 3 * ldd, o3);
    }
    for (; c < cols; ++c)
      for (int q = r; q < r + 4; ++q) {
        const double v = src[std::size_t(q) * lds + c];
        dst[std::size_t(c) * ldd + q] = b ? v + b[q] : v;
      }
  }
#endif
  for (; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const double v = src[std::size_t(r) * lds + c];
      dst[std::size_t(c) * ldd + r] = b ? v + b[r] : v;
    }
}

namespace {

double* scratch(std::size_t size) {
  thread_local std::vector<double> v;
  if (v.size() < size) v.resize(size);
  return v.data();
}

/// scale v (m values) in the scratch (libxsmm's kernels take alpha = 1 only).
const double* scaled(double scale, const double* v, std::size_t m) {
  double* s = scratch(m);
#pragma omp simd
  for (std::size_t j = 0; j < m; ++j) s[j] = scale * v[j];
  return s;
}

}  // namespace

void dense_fwd(DenseImpl impl, int n, int no, int ni, const double* X, const double* W, const double* b, double* Y,
               double* Yf_keep) {
  if (impl == DenseImpl::xsmm) {
    if (const auto s = xsmm_shape(n, no, ni); s.fwd) {
      double* Xf = scratch(std::size_t(n) * (ni + no));
      double* Yf = Yf_keep ? Yf_keep : Xf + std::size_t(n) * ni;
      transpose(n, ni, X, ni, Xf, n, nullptr);
      s.fwd(Xf, W, Yf);
      if (Yf_keep && b) {
        for (int i = 0; i < no; ++i) {
          double* y = Yf + std::size_t(i) * n;
          const double bi = b[i];
#pragma omp simd
          for (int k = 0; k < n; ++k) y[k] += bi;
        }
        transpose(no, n, Yf, n, Y, no, nullptr);
      } else {
        transpose(no, n, Yf, n, Y, no, b);
      }
      return;
    }
    impl = DenseImpl::openblas;
  }
  if (impl == DenseImpl::openblas) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, no, ni, 1.0, X, ni, W, ni, 0.0, Y, no);
  } else {
    for (int k = 0; k < n; ++k)
      for (int i = 0; i < no; ++i) {
        const double* w = W + size_t(i) * ni;
        const double* x = X + size_t(k) * ni;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < ni; ++j) s += w[j] * x[j];
        Y[size_t(k) * no + i] = s;
      }
  }
  if (b)
    for (int k = 0; k < n; ++k) {
      double* y = Y + size_t(k) * no;
#pragma omp simd
      for (int j = 0; j < no; ++j) y[j] += b[j];
    }
}

void dense_grad_w(DenseImpl impl, int n, int no, int ni, double scale, const double* dY, const double* X, double* gW) {
  if (impl == DenseImpl::xsmm) {
    if (const auto s = xsmm_shape(n, no, ni); s.gw) {
      s.gw(X, scaled(scale, dY, std::size_t(n) * no), gW);
      return;
    }
    impl = DenseImpl::openblas;
  }
  if (impl == DenseImpl::openblas) {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, n, scale, dY, no, X, ni, 1.0, gW, ni);
    return;
  }
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < no; ++i) {
      const double d = scale * dY[size_t(k) * no + i];
      if (d == 0.0) continue;
      double* g = gW + size_t(i) * ni;
      const double* x = X + size_t(k) * ni;
#pragma omp simd
      for (int j = 0; j < ni; ++j) g[j] += d * x[j];
    }
}

void dense_grad_x(DenseImpl impl, int n, int no, int ni, const double* dY, const double* W, double* dX) {
  if (impl == DenseImpl::xsmm) {
    if (const auto s = xsmm_shape(n, no, ni); s.gx) {
      s.gx(W, dY, dX);
      return;
    }
    impl = DenseImpl::openblas;
  }
  if (impl == DenseImpl::openblas) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, ni, no, 1.0, dY, no, W, ni, 0.0, dX, ni);
    return;
  }
  std::fill_n(dX, size_t(n) * ni, 0.0);
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < no; ++i) {
      const double d = dY[size_t(k) * no + i];
      if (d == 0.0) continue;
      const double* w = W + size_t(i) * ni;
      double* dx = dX + size_t(k) * ni;
#pragma omp simd
      for (int j = 0; j < ni; ++j) dx[j] += d * w[j];
    }
}

bool dense_fm_available(int n, int no, int ni) {
  const auto s = xsmm_shape(n, no, ni);
  return s.fwd && s.gx_fm && s.gw_fm;
}

void dense_grad_x_fm(int n, int no, int ni, const double* dYf, const double* W, double* dXf) {
  xsmm_shape(n, no, ni).gx_fm(dYf, W, dXf);
}

void dense_grad_w_fm(int n, int no, int ni, double scale, const double* dYf, const double* X, double* gW, double* gb) {
  const double* sdY = scaled(scale, dYf, std::size_t(n) * no);
  if (gb)
    for (int i = 0; i < no; ++i) {
      double g = gb[i];
      for (int k = 0; k < n; ++k) g += sdY[std::size_t(i) * n + k];
      gb[i] = g;
    }
  xsmm_shape(n, no, ni).gw_fm(X, sdY, gW);
}

namespace {

/// The one-sample in-place step without an input gradient: W_i += scale dy_i x, b_i += scale dy_i.
void step_rows(int no, int ni, double* W, double* b, const double* x, const double* dy, double scale) {
  for (int i = 0; i < no; ++i) {
    const double d = dy[i];
    if (d == 0.0) continue;
    const double sd = scale * d;
    double* w = W + std::size_t(i) * ni;
#pragma omp simd
    for (int j = 0; j < ni; ++j) w[j] += sd * x[j];
    if (b) b[i] += sd;
  }
}

}  // namespace

#if defined(__AVX2__) && defined(__FMA__)

namespace {

/// The four sums of the lanes of a0..a3.
inline __m256d hsum4(__m256d a0, __m256d a1, __m256d a2, __m256d a3) {
  const __m256d t0 = _mm256_hadd_pd(a0, a1), t1 = _mm256_hadd_pd(a2, a3);
  return _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20), _mm256_permute2f128_pd(t0, t1, 0x31));
}

/// R rows of W (R = 4 or 8) dotted with x into y[0..R) (+ b).
template <int R>
inline void rows_dot(int ni, const double* W, const double* x, const double* b, double* y) {
  __m256d acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_pd();
  int j = 0;
  for (; j + 4 <= ni; j += 4) {
    const __m256d xv = _mm256_loadu_pd(x + j);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_pd(_mm256_loadu_pd(W + std::size_t(r) * ni + j), xv, acc[r]);
  }
  for (int r0 = 0; r0 < R; r0 += 4) {
    __m256d s = hsum4(acc[r0], acc[r0 + 1], acc[r0 + 2], acc[r0 + 3]);
    if (b) s = _mm256_add_pd(s, _mm256_loadu_pd(b + r0));
    alignas(32) double t[4];
    _mm256_store_pd(t, s);
    for (int r = 0; r < 4; ++r) {
      for (int jj = j; jj < ni; ++jj) t[r] += W[std::size_t(r0 + r) * ni + jj] * x[jj];
      y[r0 + r] = t[r];
    }
  }
}

}  // namespace

void dense_fwd1(int no, int ni, const double* W, const double* x, const double* b, double* y) {
  int i = 0;
  for (; i + 8 <= no; i += 8) rows_dot<8>(ni, W + std::size_t(i) * ni, x, b ? b + i : nullptr, y + i);
  for (; i + 4 <= no; i += 4) rows_dot<4>(ni, W + std::size_t(i) * ni, x, b ? b + i : nullptr, y + i);
  for (; i < no; ++i) {
    const double* w = W + std::size_t(i) * ni;
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int j = 0;
    for (; j + 8 <= ni; j += 8) {
      a0 = _mm256_fmadd_pd(_mm256_loadu_pd(w + j), _mm256_loadu_pd(x + j), a0);
      a1 = _mm256_fmadd_pd(_mm256_loadu_pd(w + j + 4), _mm256_loadu_pd(x + j + 4), a1);
    }
    for (; j + 4 <= ni; j += 4) a0 = _mm256_fmadd_pd(_mm256_loadu_pd(w + j), _mm256_loadu_pd(x + j), a0);
    const __m256d s4 = _mm256_add_pd(a0, a1);
    const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
    double s = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
    for (; j < ni; ++j) s += w[j] * x[j];
    y[i] = s + (b ? b[i] : 0.0);
  }
}

namespace {

/// Rows rows[0..R) of W: dx += d_r W_r (before the step), W_r += sd_r x. The same arithmetic,
/// in the same order per element, as one row at a time (no FMA: the build contracts none).
template <int R>
inline void rows_step(int ni, double* W, const int* rows, const double* d, const double* sd, const double* x, double* dx) {
  double* w[R];
  __m256d dv[R], sv[R];
  for (int r = 0; r < R; ++r) {
    w[r] = W + std::size_t(rows[r]) * ni;
    dv[r] = _mm256_set1_pd(d[r]);
    sv[r] = _mm256_set1_pd(sd[r]);
  }
  int j = 0;
  for (; j + 4 <= ni; j += 4) {
    const __m256d xv = _mm256_loadu_pd(x + j);
    __m256d a = _mm256_loadu_pd(dx + j);
    for (int r = 0; r < R; ++r) {
      const __m256d wv = _mm256_loadu_pd(w[r] + j);
      a = _mm256_add_pd(a, _mm256_mul_pd(wv, dv[r]));
      _mm256_storeu_pd(w[r] + j, _mm256_add_pd(wv, _mm256_mul_pd(sv[r], xv)));
    }
    _mm256_storeu_pd(dx + j, a);
  }
  for (; j < ni; ++j)
    for (int r = 0; r < R; ++r) {
      const double wj = w[r][j];
      dx[j] += wj * d[r];
      w[r][j] = wj + sd[r] * x[j];
    }
}

}  // namespace

void dense_bwd1_inplace(int no, int ni, double* W, double* b, const double* x, const double* dy, double* dx, double scale) {
  if (!dx) return step_rows(no, ni, W, b, x, dy, scale);
  std::fill_n(dx, ni, 0.0);
  int rows[4];
  double d[4], sd[4];
  int m = 0;
  for (int i = 0; i < no; ++i) {
    if (dy[i] == 0.0) continue;  // (a ReLU that is off): no contribution
    rows[m] = i;
    d[m] = dy[i];
    sd[m] = scale * dy[i];
    if (b) b[i] += sd[m];
    if (++m == 4) {
      rows_step<4>(ni, W, rows, d, sd, x, dx);
      m = 0;
    }
  }
  switch (m) {
    case 3: rows_step<3>(ni, W, rows, d, sd, x, dx); break;
    case 2: rows_step<2>(ni, W, rows, d, sd, x, dx); break;
    case 1: rows_step<1>(ni, W, rows, d, sd, x, dx); break;
    default: break;
  }
}

#else  // the same products one row at a time

void dense_fwd1(int no, int ni, const double* W, const double* x, const double* b, double* y) {
  for (int i = 0; i < no; ++i) {
    const double* w = W + size_t(i) * ni;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < ni; ++j) s += w[j] * x[j];
    y[i] = s + (b ? b[i] : 0.0);
  }
}

void dense_bwd1_inplace(int no, int ni, double* W, double* b, const double* x, const double* dy, double* dx, double scale) {
  if (!dx) return step_rows(no, ni, W, b, x, dy, scale);
  std::fill_n(dx, ni, 0.0);
  for (int i = 0; i < no; ++i) {
    const double d = dy[i];
    if (d == 0.0) continue;
    const double sd = scale * d;
    double* w = W + size_t(i) * ni;
#pragma omp simd
    for (int j = 0; j < ni; ++j) {
      const double wj = w[j];
      dx[j] += wj * d;
      w[j] = wj + sd * x[j];
    }
    if (b) b[i] += sd;
  }
}

#endif

}  // namespace soret::net::kernels
