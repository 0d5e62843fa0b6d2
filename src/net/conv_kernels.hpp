#pragma once
// Register-blocked direct convolution kernels (stride 1, no padding; AVX2 + FMA versions where
// compiled for AVX2 without AVX-512), internal to net/layers.cpp
// (the im2col kernels below also to net/hessian.cpp).
// Activations are C x H x W with rows of W doubles; every input buffer must be readable for
// kConvSlack doubles past its end (the kernels load whole 8-double vectors and discard the lanes
// beyond a row).
#include <cstddef>

namespace soret::net::kernels {

constexpr std::size_t kConvSlack = 32;

/// y[co][oy][ox] = bias[co] (or 0) + sum_{ci,ky,kx} w[co][ci][ky][kx] x[ci][oy+ky][ox+kx],
/// x: Ci x H x Wd, y: Co x (H-K+1) x (Wd-K+1).
void conv_valid(const double* x, int Ci, int H, int Wd, const double* w, const double* bias, int Co, int K, double* y);

/// gw[co][ci][ky][kx] += scale * sum_{oy,ox} dy[co][oy][ox] x[ci][oy+ky][ox+kx]; dy: Co x Ho x Wo.
/// work: at least Co * Ho * roundup(Wo, 8) + kConvSlack doubles.
void conv_grad_w(const double* x, int Ci, int H, int Wd, const double* dy, int Co, int K, double scale, double* gw,
                 double* work);

/// dx = the full correlation of dy with the flipped kernels (the input gradient), written (not added).
/// work: at least Co * (Ho + 2K - 2) * (Wo + 2K - 2) + Ci * Co * K * K + kConvSlack doubles.
void conv_grad_x(const double* dy, int Co, int Ho, int Wo, const double* w, int Ci, int K, double* dx, double* work);

}  // namespace soret::net::kernels

namespace soret::net::kernels {

// Convolutions as im2col + matrix products through OpenBLAS (any stride, no padding), per sample:
// cols (Ci K K x Ho Wo) holds the input patches. Measured faster than the 8-double direct kernels
// on a machine without AVX-512 (README, bench/bench_net_libs.cpp), slower than their AVX2 versions.

/// cols[(ci K + ky) K + kx][oy Wo + ox] = x[ci][oy S + ky][ox S + kx].
void im2col(const double* x, int Ci, int H, int Wd, int K, int S, int Ho, int Wo, double* cols);

/// y = bias (or 0) + w (Co x Ci K K) . cols(x); cols: scratch of Ci K K Ho Wo doubles.
void conv_gemm_forward(const double* x, int Ci, int H, int Wd, const double* w, const double* bias, int Co, int K, int S,
                       int Ho, int Wo, double* y, double* cols);

/// gw += scale dy (Co x Ho Wo) . cols(x)^T.
void conv_gemm_grad_w(const double* x, int Ci, int H, int Wd, const double* dy, int Co, int K, int S, int Ho, int Wo,
                      double scale, double* gw, double* cols);

/// dx = col2im(w^T . dy) (written, not added).
void conv_gemm_grad_x(const double* dy, int Co, int Ho, int Wo, const double* w, int Ci, int H, int Wd, int K, int S,
                      double* dx, double* cols);

}  // namespace soret::net::kernels
