#include "net/dense_kernels.hpp"

#include <algorithm>
#include <cstddef>

#include <cblas.h>

namespace soret::net::kernels {

void dense_fwd(DenseImpl impl, int n, int no, int ni, const double* X, const double* W, double* Y) {
  if (impl == DenseImpl::openblas) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, no, ni, 1.0, X, ni, W, ni, 0.0, Y, no);
    return;
  }
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

void dense_grad_w(DenseImpl impl, int n, int no, int ni, double scale, const double* dY, const double* X, double* gW) {
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

}  // namespace soret::net::kernels
