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

/// Y (n x no) = X (n x ni) W^T (+ b in every row where b is not null).
void dense_fwd(DenseImpl impl, int n, int no, int ni, const double* X, const double* W, const double* b, double* Y);
/// gW (no x ni) += scale dY^T X.
void dense_grad_w(DenseImpl impl, int n, int no, int ni, double scale, const double* dY, const double* X, double* gW);
/// dX (n x ni) = dY W (written, not added).
void dense_grad_x(DenseImpl impl, int n, int no, int ni, const double* dY, const double* W, double* dX);

/// One sample: y (no) = W x (+ b where not null); rows in groups of 8 with their own accumulators.
void dense_fwd1(int no, int ni, const double* W, const double* x, const double* b, double* y);
/// One sample, SGD step in place: for every row i with dy_i != 0, dx += dy_i W_i (the weights
/// before the step; dx written, not added, and skipped where null), then W_i += scale dy_i x and
/// b_i += scale dy_i (where b is not null). Rows in groups of 4 sharing each load and store of dx.
void dense_bwd1_inplace(int no, int ni, double* W, double* b, const double* x, const double* dy, double* dx, double scale);

}  // namespace soret::net::kernels
