#pragma once
// Register-blocked direct convolution kernels (stride 1, no padding), internal to net/layers.cpp.
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
