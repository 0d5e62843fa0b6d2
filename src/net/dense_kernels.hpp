#pragma once
// The three products of a Dense layer over n samples (row-major, PyTorch layout: W is out x in),
// internal to net/layers.cpp and the library benchmark bench/bench_net_libs.cpp (which measures
// these against Eigen and oneDNN on the same shapes).
namespace soret::net::kernels {

/// xsmm: libxsmm's JIT-generated small-matrix kernels (dispatched once per shape and thread;
/// shapes libxsmm declines or that are too large for unblocked kernels go to OpenBLAS);
/// openblas: cblas_dgemm (OpenMP build: single-threaded inside soret's threads); loops: the
/// hand-written loops (kept for the measured comparison).
enum class DenseImpl { xsmm, openblas, loops };

/// Y (n x no) = X (n x ni) W^T (+ b in every row where b is not null). xsmm: where Yf_keep is
/// not null and the kernel exists, Y is also left there feature-major (Yf_keep[i n + k] = Y[k no + i]).
void dense_fwd(DenseImpl impl, int n, int no, int ni, const double* X, const double* W, const double* b, double* Y,
               double* Yf_keep = nullptr);
/// gW (no x ni) += scale dY^T X.
void dense_grad_w(DenseImpl impl, int n, int no, int ni, double scale, const double* dY, const double* X, double* gW);
/// dX (n x ni) = dY W (written, not added).
void dense_grad_x(DenseImpl impl, int n, int no, int ni, const double* dY, const double* W, double* dX);

/// dst[c ldd + r] = src[r lds + c] (+ b[r] where b is not null), r < rows, c < cols.
void transpose(int rows, int cols, const double* src, int lds, double* dst, int ldd, const double* b);

/// The backward on feature-major gradients (dYf[i n + k] = dL_k/dy_i; libxsmm only): whether
/// dense_fwd keeps Yf and both kernels below exist for this shape.
bool dense_fm_available(int n, int no, int ni);
/// dXf (feature-major, n x ni written) = dY W.
void dense_grad_x_fm(int n, int no, int ni, const double* dYf, const double* W, double* dXf);
/// gW += scale dY^T X (X sample-major), gb += scale sum_k dY_k (where gb is not null).
void dense_grad_w_fm(int n, int no, int ni, double scale, const double* dYf, const double* X, double* gW, double* gb);

/// One sample: y (no) = W x (+ b where not null); rows in groups of 8 with their own accumulators.
void dense_fwd1(int no, int ni, const double* W, const double* x, const double* b, double* y);
/// One sample, SGD step in place: for every row i with dy_i != 0, dx += dy_i W_i (the weights
/// before the step; dx written, not added, and skipped where null), then W_i += scale dy_i x and
/// b_i += scale dy_i (where b is not null). Rows in groups of 4 sharing each load and store of dx.
void dense_bwd1_inplace(int no, int ni, double* W, double* b, const double* x, const double* dy, double* dx, double scale);

}  // namespace soret::net::kernels
