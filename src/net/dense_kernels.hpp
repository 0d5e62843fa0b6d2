#pragma once
// The three products of a Dense layer over n samples (row-major, PyTorch layout: W is out x in),
// internal to net/layers.cpp and the library benchmark bench/bench_net_libs.cpp (which measures
// these against Eigen and oneDNN on the same shapes).
namespace soret::net::kernels {

/// openblas: cblas_dgemm (OpenMP build: single-threaded inside soret's threads); loops: the
/// hand-written loops (kept for the measured comparison).
enum class DenseImpl { openblas, loops };

/// Y (n x no) = X (n x ni) W^T.
void dense_fwd(DenseImpl impl, int n, int no, int ni, const double* X, const double* W, double* Y);
/// gW (no x ni) += scale dY^T X.
void dense_grad_w(DenseImpl impl, int n, int no, int ni, double scale, const double* dY, const double* X, double* gW);
/// dX (n x ni) = dY W (written, not added).
void dense_grad_x(DenseImpl impl, int n, int no, int ni, const double* dY, const double* W, double* dX);

}  // namespace soret::net::kernels
