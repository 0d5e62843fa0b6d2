#include "soret/net/layers.hpp"

#include <algorithm>
#include <cmath>

#include "soret/common/error.hpp"
#include "soret/common/parse.hpp"
#include "soret/common/rng.hpp"
#include "net/conv_kernels.hpp"
#include "net/dense_kernels.hpp"

namespace soret::net {

namespace {

std::vector<int> parse_list(const std::string& s, const std::string& option, const std::string& what) {
  std::vector<int> v;
  for (const auto& t : split(s, ',')) {
    const long long n = parse_int(t, option);
    if (n < 1 || n > 100000) throw InputError(option, "--" + option + ": " + what + " must be in [1, 1e5] (got " + t + ")");
    v.push_back(int(n));
  }
  if (v.empty()) throw InputError(option, "--" + option + ": " + what + " list is empty");
  return v;
}

}  // namespace

void Architecture::add_dense(int out, bool bias) {
  Layer l;
  l.kind = LayerKind::dense;
  l.in = layers.empty() ? input : layers.back().out;
  l.out = Shape{out, 1, 1};
  l.bias = bias;
  l.fan_in = int(l.in.size());
  layers.push_back(l);
}

void Architecture::add_conv(int channels, int kernel, int stride) {
  Layer l;
  l.kind = LayerKind::conv2d;
  l.in = layers.empty() ? input : layers.back().out;
  l.kernel = kernel;
  l.stride = stride;
  if (l.in.h < kernel || l.in.w < kernel)
    throw InputError("arch", "--arch conv: a " + std::to_string(kernel) + "x" + std::to_string(kernel) +
                                 " kernel does not fit the " + std::to_string(l.in.h) + "x" + std::to_string(l.in.w) +
                                 " input of convolution " + std::to_string(layers.size() / 2));
  l.out = Shape{channels, (l.in.h - kernel) / stride + 1, (l.in.w - kernel) / stride + 1};
  l.fan_in = l.in.c * kernel * kernel;
  layers.push_back(l);
}

void Architecture::add_relu() {
  Layer l;
  l.kind = LayerKind::relu;
  l.in = l.out = layers.back().out;
  layers.push_back(l);
}

void Architecture::add_flatten() {
  Layer l;
  l.kind = LayerKind::flatten;
  l.in = layers.empty() ? input : layers.back().out;
  l.out = Shape{int(l.in.size()), 1, 1};
  layers.push_back(l);
}

void Architecture::finish() {
  int nd = 0, nc = 0, nr = 0, nf = 0;
  params_ = 0;
  blocks.clear();
  for (size_t i = 0; i < layers.size(); ++i) {
    Layer& l = layers[i];
    switch (l.kind) {
      case LayerKind::dense: l.name = "dense" + std::to_string(nd++); break;
      case LayerKind::conv2d: l.name = "conv" + std::to_string(nc++); break;
      case LayerKind::relu: l.name = "relu" + std::to_string(nr++); break;
      case LayerKind::flatten: l.name = "flatten" + std::to_string(nf++); break;
    }
    if (!l.has_params()) continue;
    const double bound = 1.0 / std::sqrt(double(l.fan_in));
    l.w_size = l.kind == LayerKind::dense ? l.out.size() * l.in.size()
                                          : std::size_t(l.out.c) * l.in.c * l.kernel * l.kernel;
    l.w_off = params_;
    params_ += l.w_size;
    blocks.push_back(Block{l.name + ".weight", l.w_off, l.w_size, int(i), bound});
    l.b_size = l.bias ? std::size_t(l.out.c) : 0;
    l.b_off = params_;
    params_ += l.b_size;
    if (l.bias) blocks.push_back(Block{l.name + ".bias", l.b_off, l.b_size, int(i), bound});
  }
  outputs = int(layers.back().out.size());
}

Architecture Architecture::twolayer(Shape input, int N, bool hidden_bias) {
  Architecture a;
  const int M = int(input.size());
  a.input = input;
  if (input.h > 1 || input.w > 1) a.add_flatten();
  a.add_dense(N, hidden_bias);
  a.add_relu();
  a.add_dense(1, false);
  a.finish();
  a.text = "twolayer (M=" + std::to_string(M) + ", N=" + std::to_string(N) + ")";
  return a;
}

Architecture Architecture::fc(Shape input, const std::vector<int>& widths, int outputs) {
  Architecture a;
  a.input = input;
  if (input.h > 1 || input.w > 1) a.add_flatten();
  std::string t = "fc:";
  for (size_t i = 0; i < widths.size(); ++i) {
    a.add_dense(widths[i], true);
    a.add_relu();
    t += (i ? "," : "") + std::to_string(widths[i]);
  }
  a.add_dense(outputs, true);
  a.finish();
  a.text = t;
  return a;
}

Architecture Architecture::conv(Shape input, const std::vector<int>& channels, int kernel, int stride, int outputs) {
  Architecture a;
  a.input = input;
  std::string t = "conv:";
  for (size_t i = 0; i < channels.size(); ++i) {
    a.add_conv(channels[i], kernel, stride);
    a.add_relu();
    t += (i ? "," : "") + std::to_string(channels[i]);
  }
  a.add_flatten();
  a.add_dense(outputs, true);
  a.finish();
  a.text = t + " kernel " + std::to_string(kernel) + " stride " + std::to_string(stride);
  return a;
}

Architecture Architecture::parse(const std::string& spec, Shape input, int outputs, int kernel, int stride,
                                 int twolayer_hidden, bool twolayer_bias, const std::string& option) {
  if (spec == "twolayer") {
    if (outputs != 1) throw InputError(option, "--arch twolayer has one output (use --arch fc:N with --classes)");
    return twolayer(input, twolayer_hidden, twolayer_bias);
  }
  if (spec.rfind("fc:", 0) == 0) return fc(input, parse_list(spec.substr(3), option, "widths"), outputs);
  if (spec.rfind("conv:", 0) == 0) {
    if (input.h < 2 || input.w < 2)
      throw InputError(option, "--arch conv needs image inputs (--data fashion-mnist or cifar10)");
    if (kernel < 1) throw InputError("kernel", "--kernel must be >= 1");
    if (stride < 1) throw InputError("stride", "--stride must be >= 1");
    return conv(input, parse_list(spec.substr(5), option, "channels"), kernel, stride, outputs);
  }
  throw InputError(option, "--" + option + " must be twolayer, fc:W1,W2,... or conv:C1,C2,... (got '" + spec + "')");
}

std::vector<int> Architecture::param_layers() const {
  std::vector<int> v;
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].has_params()) v.push_back(int(i));
  return v;
}

std::vector<int> Architecture::relu_layers() const {
  std::vector<int> v;
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].kind == LayerKind::relu) v.push_back(int(i));
  return v;
}

std::size_t Architecture::max_activation() const {
  std::size_t m = input.size();
  for (const auto& l : layers) m = std::max(m, l.out.size());
  return m;
}

Workspace::Workspace(const Architecture& a) {
  // (zero-initialised slack past every buffer for the vector loads of the convolution kernels)
  const size_t slack = kernels::kConvSlack;
  act.resize(a.layers.size() + 1);
  act[0].resize(a.input.size() + slack);
  for (size_t i = 0; i < a.layers.size(); ++i) act[i + 1].resize(a.layers[i].out.size() + slack);
  d0.resize(a.max_activation() + slack);
  d1.resize(a.max_activation() + slack);
  size_t w = 0;
  for (const auto& l : a.layers)
    if (l.kind == LayerKind::conv2d) {
      const size_t K = size_t(l.kernel), Co = size_t(l.out.c), Ho = size_t(l.out.h), Wo = size_t(l.out.w);
      w = std::max(w, Co * Ho * ((Wo + 7) / 8 * 8));
      w = std::max(w, Co * (Ho + 2 * K - 2) * (Wo + 2 * K - 2) + size_t(l.in.c) * Co * K * K);
    }
  work.assign(w + 2 * slack, 0.0);
  size_t c = 0;
  for (const auto& l : a.layers)
    if (l.kind == LayerKind::conv2d) c = std::max(c, size_t(l.in.c) * l.kernel * l.kernel * l.out.h * l.out.w);
  cols.assign(c, 0.0);
}

ConvImpl default_conv_impl() {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
  return ConvImpl::direct;
#else
  return ConvImpl::gemm;
#endif
}

namespace {

void dense_forward(const Layer& l, const double* p, const double* __restrict x, double* __restrict y) {
  kernels::dense_fwd1(int(l.out.size()), int(l.in.size()), p + l.w_off, x, l.bias ? p + l.b_off : nullptr, y);
}

/// dx (may be null) = W^T dy; gW += scale dy x^T; gb += scale dy. g may be p itself (an SGD step
/// in place): each weight is read for dx before it is updated.
void dense_backward(const Layer& l, const double* p, const double* __restrict x, const double* __restrict dy,
                    double* __restrict dx, double* g, double scale) {
  const int n = int(l.in.size()), m = int(l.out.size());
  if (g == p) {
    kernels::dense_bwd1_inplace(m, n, g + l.w_off, l.bias ? g + l.b_off : nullptr, x, dy, dx, scale);
    return;
  }
  const double* W = p + l.w_off;
  double* __restrict gW = g + l.w_off;
  if (dx) std::fill(dx, dx + n, 0.0);
  for (int i = 0; i < m; ++i) {
    const double d = dy[i];
    if (d == 0.0) continue;  // (a ReLU that is off): no contribution
    const double sd = scale * d;
    const double* w = W + size_t(i) * n;
    double* gw = gW + size_t(i) * n;
    if (dx) {
#pragma omp simd
      for (int j = 0; j < n; ++j) { dx[j] += w[j] * d; gw[j] += sd * x[j]; }
    } else {
#pragma omp simd
      for (int j = 0; j < n; ++j) gw[j] += sd * x[j];
    }
    if (l.bias) g[l.b_off + i] += sd;
  }
}

void conv_forward(const Layer& l, const double* p, const double* __restrict x, double* __restrict y, Workspace& ws) {
  if (ws.conv == ConvImpl::gemm) {
    kernels::conv_gemm_forward(x, l.in.c, l.in.h, l.in.w, p + l.w_off, l.bias ? p + l.b_off : nullptr, l.out.c, l.kernel,
                               l.stride, l.out.h, l.out.w, y, ws.cols.data());
    return;
  }
  if (l.stride == 1) {
    kernels::conv_valid(x, l.in.c, l.in.h, l.in.w, p + l.w_off, l.bias ? p + l.b_off : nullptr, l.out.c, l.kernel, y);
    return;
  }
  const int Ci = l.in.c, H = l.in.h, Wd = l.in.w, Co = l.out.c, Ho = l.out.h, Wo = l.out.w, K = l.kernel, S = l.stride;
  const double* Wt = p + l.w_off;
  for (int co = 0; co < Co; ++co) {
    double* yc = y + size_t(co) * Ho * Wo;
    const double b = l.bias ? p[l.b_off + co] : 0.0;
    std::fill(yc, yc + size_t(Ho) * Wo, b);
    for (int ci = 0; ci < Ci; ++ci) {
      const double* xc = x + size_t(ci) * H * Wd;
      const double* w = Wt + (size_t(co) * Ci + ci) * K * K;
      for (int oy = 0; oy < Ho; ++oy) {
        double* yr = yc + size_t(oy) * Wo;
        for (int ky = 0; ky < K; ++ky) {
          const double* xr = xc + size_t(oy * S + ky) * Wd;
          for (int kx = 0; kx < K; ++kx) {
            const double wv = w[ky * K + kx];
            if (S == 1) {
              const double* xs = xr + kx;
#pragma omp simd
              for (int ox = 0; ox < Wo; ++ox) yr[ox] += wv * xs[ox];
            } else {
              for (int ox = 0; ox < Wo; ++ox) yr[ox] += wv * xr[ox * S + kx];
            }
          }
        }
      }
    }
  }
}

void conv_backward_strided(const Layer& l, const double* p, const double* __restrict x, const double* __restrict dy,
                           double* __restrict dx, double* gW, double* gb, double scale);

/// gW, gb: the layer's weight and bias gradient blocks (gb unused without bias).
/// dx = the input gradient of one sample (written), by ws.conv.
void conv_dx(const Layer& l, const double* p, const double* dy, double* dx, Workspace& ws) {
  if (ws.conv == ConvImpl::gemm)
    kernels::conv_gemm_grad_x(dy, l.out.c, l.out.h, l.out.w, p + l.w_off, l.in.c, l.in.h, l.in.w, l.kernel, l.stride, dx,
                              ws.cols.data());
  else
    kernels::conv_grad_x(dy, l.out.c, l.out.h, l.out.w, p + l.w_off, l.in.c, l.kernel, dx, ws.work.data());
}

/// gW += scale x-correlation of one sample, gb += scale sum dy, by ws.conv.
void conv_dw(const Layer& l, const double* x, const double* dy, double* gW, double* gb, double scale, Workspace& ws) {
  if (l.bias)
    for (int co = 0; co < l.out.c; ++co) {
      const double* dyc = dy + size_t(co) * l.out.h * l.out.w;
      double s = 0;
      for (int q = 0; q < l.out.h * l.out.w; ++q) s += dyc[q];
      gb[co] += scale * s;
    }
  if (ws.conv == ConvImpl::gemm)
    kernels::conv_gemm_grad_w(x, l.in.c, l.in.h, l.in.w, dy, l.out.c, l.kernel, l.stride, l.out.h, l.out.w, scale, gW,
                              ws.cols.data());
  else
    kernels::conv_grad_w(x, l.in.c, l.in.h, l.in.w, dy, l.out.c, l.kernel, scale, gW, ws.work.data());
}

void conv_backward_blocks(const Layer& l, const double* p, const double* x, const double* dy, double* dx, double* gW,
                          double* gb, double scale, Workspace& ws) {
  if (ws.conv == ConvImpl::gemm) {
    // (dx first: gW may be the weights themselves, an SGD step in place)
    if (dx) conv_dx(l, p, dy, dx, ws);
    conv_dw(l, x, dy, gW, gb, scale, ws);
    return;
  }
  double* work = ws.work.data();
  if (l.stride != 1) {
    conv_backward_strided(l, p, x, dy, dx, gW, gb, scale);
    return;
  }
  if (l.bias)
    for (int co = 0; co < l.out.c; ++co) {
      const double* dyc = dy + size_t(co) * l.out.h * l.out.w;
      double s = 0;
      for (int q = 0; q < l.out.h * l.out.w; ++q) s += dyc[q];
      gb[co] += scale * s;
    }
  // (dx first: gW may be the weights themselves, an SGD step in place)
  if (dx) kernels::conv_grad_x(dy, l.out.c, l.out.h, l.out.w, p + l.w_off, l.in.c, l.kernel, dx, work);
  kernels::conv_grad_w(x, l.in.c, l.in.h, l.in.w, dy, l.out.c, l.kernel, scale, gW, work);
}

void conv_backward(const Layer& l, const double* p, const double* x, const double* dy, double* dx, double* g,
                   double scale, Workspace& ws) {
  conv_backward_blocks(l, p, x, dy, dx, g + l.w_off, g + l.b_off, scale, ws);
}

/// The direct loops, for any stride.
void conv_backward_strided(const Layer& l, const double* p, const double* __restrict x, const double* __restrict dy,
                           double* __restrict dx, double* gW, double* gb, double scale) {
  const int Ci = l.in.c, H = l.in.h, Wd = l.in.w, Co = l.out.c, Ho = l.out.h, Wo = l.out.w, K = l.kernel, S = l.stride;
  const double* Wt = p + l.w_off;
  if (dx) std::fill(dx, dx + l.in.size(), 0.0);
  for (int co = 0; co < Co; ++co) {
    const double* dyc = dy + size_t(co) * Ho * Wo;
    if (l.bias) {
      double s = 0;
      for (int q = 0; q < Ho * Wo; ++q) s += dyc[q];
      gb[co] += scale * s;
    }
    for (int ci = 0; ci < Ci; ++ci) {
      const double* xc = x + size_t(ci) * H * Wd;
      double* dxc = dx ? dx + size_t(ci) * H * Wd : nullptr;
      const double* w = Wt + (size_t(co) * Ci + ci) * K * K;
      double* gw = gW + (size_t(co) * Ci + ci) * K * K;
      for (int ky = 0; ky < K; ++ky)
        for (int kx = 0; kx < K; ++kx) {
          const double wv = w[ky * K + kx];
          double s = 0;
          for (int oy = 0; oy < Ho; ++oy) {
            const double* dyr = dyc + size_t(oy) * Wo;
            const double* xr = xc + size_t(oy * S + ky) * Wd + kx;
            if (S == 1) {
              double* dxr = dxc ? dxc + size_t(oy + ky) * Wd + kx : nullptr;
#pragma omp simd reduction(+ : s)
              for (int ox = 0; ox < Wo; ++ox) s += dyr[ox] * xr[ox];
              if (dxr) {
#pragma omp simd
                for (int ox = 0; ox < Wo; ++ox) dxr[ox] += wv * dyr[ox];
              }
            } else {
              for (int ox = 0; ox < Wo; ++ox) {
                s += dyr[ox] * xr[ox * S];
                if (dxc) dxc[size_t(oy * S + ky) * Wd + ox * S + kx] += wv * dyr[ox];
              }
            }
          }
          gw[ky * K + kx] += scale * s;
        }
    }
  }
}

}  // namespace

const double* forward(const Architecture& a, const double* p, const double* x, Workspace& ws) {
  std::copy_n(x, a.input.size(), ws.act[0].data());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const Layer& l = a.layers[i];
    const double* in = ws.act[i].data();
    double* out = ws.act[i + 1].data();
    switch (l.kind) {
      case LayerKind::dense: dense_forward(l, p, in, out); break;
      case LayerKind::conv2d: conv_forward(l, p, in, out, ws); break;
      case LayerKind::relu: {
        const size_t n = l.in.size();
#pragma omp simd
        for (size_t j = 0; j < n; ++j) out[j] = in[j] > 0 ? in[j] : 0.0;
        break;
      }
      case LayerKind::flatten: std::copy_n(in, l.in.size(), out); break;
    }
  }
  return ws.act.back().data();
}

void backward(const Architecture& a, const double* p, const double* dout, Workspace& ws, double* grad, double scale) {
  double* d = ws.d0.data();   // dL/d(output of layer i)
  double* dn = ws.d1.data();  // dL/d(input of layer i)
  std::copy_n(dout, a.layers.back().out.size(), d);
  for (size_t i = a.layers.size(); i-- > 0;) {
    const Layer& l = a.layers[i];
    const double* in = ws.act[i].data();
    const bool need_dx = i > 0;
    switch (l.kind) {
      case LayerKind::dense: dense_backward(l, p, in, d, need_dx ? dn : nullptr, grad, scale); break;
      case LayerKind::conv2d: conv_backward(l, p, in, d, need_dx ? dn : nullptr, grad, scale, ws); break;
      case LayerKind::relu: {
        const size_t n = l.in.size();
#pragma omp simd
        for (size_t j = 0; j < n; ++j) dn[j] = in[j] > 0 ? d[j] : 0.0;
        break;
      }
      case LayerKind::flatten: std::copy_n(d, l.in.size(), dn); break;
    }
    std::swap(d, dn);
  }
}

namespace {
kernels::DenseImpl impl(const BatchWorkspace& ws) {
  return ws.blas ? kernels::DenseImpl::xsmm : kernels::DenseImpl::loops;
}

/// Whether the passes of n samples run on feature-major Dense outputs and gradients (see
/// BatchWorkspace::fm): Dense and ReLU layers only, every Dense shape with libxsmm kernels.
bool use_fm(const Architecture& a, int n, BatchWorkspace& ws) {
  if (!ws.blas) return false;
  if (ws.fm_n == n) return ws.fm_on;
  ws.fm_n = n;
  ws.fm_on = false;
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const Layer& l = a.layers[i];
    const bool ok = l.kind == LayerKind::relu ? i > 0 && a.layers[i - 1].kind == LayerKind::dense
                                               : kernels::dense_fm_available(n, int(l.out.size()), int(l.in.size()));
    if (!ok) return false;
  }
  ws.fm_on = true;
  return true;
}
}  // namespace

BatchWorkspace::BatchWorkspace(const Architecture& a, int n_) : n(n_), one(a) {
  const size_t slack = kernels::kConvSlack;
  act.resize(a.layers.size() + 1);
  act[0].resize(size_t(n) * a.input.size() + slack);
  for (size_t i = 0; i < a.layers.size(); ++i) act[i + 1].resize(size_t(n) * a.layers[i].out.size() + slack);
  d0.resize(size_t(n) * a.max_activation() + slack);
  d1.resize(size_t(n) * a.max_activation() + slack);
  size_t m = 0;
  for (const auto& l : a.layers)
    if (l.kind == LayerKind::conv2d) m = std::max(m, l.w_size + l.b_size);
  scratch.resize(m);
  bool dense_relu = true;
  for (const auto& l : a.layers) dense_relu = dense_relu && (l.kind == LayerKind::dense || l.kind == LayerKind::relu);
  if (dense_relu) {
    fm.resize(a.layers.size() + 1);
    for (size_t i = 0; i < a.layers.size(); ++i)
      if (a.layers[i].kind == LayerKind::dense) fm[i + 1].resize(size_t(n) * a.layers[i].out.size());
    dfm0.resize(size_t(n) * a.max_activation());
    dfm1.resize(size_t(n) * a.max_activation());
  }
}

void forward_batch(const Architecture& a, const double* p, const double* X, int n, BatchWorkspace& ws) {
  std::copy_n(X, size_t(n) * a.input.size(), ws.act[0].data());
  const bool fm = !ws.fm.empty() && use_fm(a, n, ws);
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const Layer& l = a.layers[i];
    const double* in = ws.act[i].data();
    double* out = ws.act[i + 1].data();
    const size_t ni = l.in.size(), no = l.out.size();
    switch (l.kind) {
      case LayerKind::dense:
        kernels::dense_fwd(impl(ws), n, int(no), int(ni), in, p + l.w_off, l.bias ? p + l.b_off : nullptr, out,
                           fm ? ws.fm[i + 1].data() : nullptr);
        break;
      case LayerKind::conv2d:
        for (int k = 0; k < n; ++k) conv_forward(l, p, in + size_t(k) * ni, out + size_t(k) * no, ws.one);
        break;
      case LayerKind::relu: {
        const size_t m = size_t(n) * ni;
#pragma omp simd
        for (size_t j = 0; j < m; ++j) out[j] = in[j] > 0 ? in[j] : 0.0;
        break;
      }
      case LayerKind::flatten: std::copy_n(in, size_t(n) * ni, out); break;
    }
  }
}

void backward_batch(const Architecture& a, const double* p, const double* dY, int n, BatchWorkspace& ws, double* grad,
                    double scale, double* sq) {
  if (!sq && !ws.fm.empty() && use_fm(a, n, ws)) {  // on feature-major gradients
    double* d = ws.dfm0.data();
    double* dn = ws.dfm1.data();
    const int O = int(a.layers.back().out.size());
    kernels::transpose(n, O, dY, O, d, n, nullptr);
    for (size_t i = a.layers.size(); i-- > 0;) {
      const Layer& l = a.layers[i];
      const int ni = int(l.in.size()), no = int(l.out.size());
      if (l.kind == LayerKind::dense) {
        // dx first: grad may be p itself (an SGD step in place)
        if (i > 0) kernels::dense_grad_x_fm(n, no, ni, d, p + l.w_off, dn);
        kernels::dense_grad_w_fm(n, no, ni, scale, d, ws.act[i].data(), grad + l.w_off, l.bias ? grad + l.b_off : nullptr);
      } else {  // relu, after a Dense layer (kept feature-major by forward_batch)
        const double* z = ws.fm[i].data();
        const size_t m = size_t(n) * ni;
#pragma omp simd
        for (size_t j = 0; j < m; ++j) dn[j] = z[j] > 0 ? d[j] : 0.0;
      }
      std::swap(d, dn);
    }
    return;
  }
  double* d = ws.d0.data();
  double* dn = ws.d1.data();
  std::copy_n(dY, size_t(n) * a.layers.back().out.size(), d);
  for (size_t i = a.layers.size(); i-- > 0;) {
    const Layer& l = a.layers[i];
    const double* in = ws.act[i].data();
    const size_t ni = l.in.size(), no = l.out.size();
    const bool need_dx = i > 0;
    switch (l.kind) {
      case LayerKind::dense: {
        // dx first: grad may be p itself (an SGD step in place)
        if (need_dx) kernels::dense_grad_x(impl(ws), n, int(no), int(ni), d, p + l.w_off, dn);
        kernels::dense_grad_w(impl(ws), n, int(no), int(ni), scale, d, in, grad + l.w_off);
        if (l.bias)
          for (int k = 0; k < n; ++k) {
            const double* dy = d + size_t(k) * no;
            double* gb = grad + l.b_off;
#pragma omp simd
            for (size_t j = 0; j < no; ++j) gb[j] += scale * dy[j];
          }
        if (sq)
          for (int k = 0; k < n; ++k) {
            double dd = 0, xx = 0;
            const double* dy = d + size_t(k) * no;
            const double* x = in + size_t(k) * ni;
            for (size_t j = 0; j < no; ++j) dd += dy[j] * dy[j];
            for (size_t j = 0; j < ni; ++j) xx += x[j] * x[j];
            sq[i] += scale * scale * dd * (xx + (l.bias ? 1.0 : 0.0));
          }
        break;
      }
      case LayerKind::conv2d:
        for (int k = 0; k < n; ++k) {
          const double* x = in + size_t(k) * ni;
          const double* dy = d + size_t(k) * no;
          double* dx = need_dx ? dn + size_t(k) * ni : nullptr;
          if (sq) {  // this sample's own gradient, then added to the sum
            double* s = ws.scratch.data();
            std::fill_n(s, l.w_size + l.b_size, 0.0);
            conv_backward_blocks(l, p, x, dy, dx, s, s + l.w_size, scale, ws.one);
            double q = 0;
            for (size_t j = 0; j < l.w_size; ++j) { q += s[j] * s[j]; grad[l.w_off + j] += s[j]; }
            for (size_t j = 0; j < l.b_size; ++j) { q += s[l.w_size + j] * s[l.w_size + j]; grad[l.b_off + j] += s[l.w_size + j]; }
            sq[i] += q;
          } else if (l.stride != 1 && ws.one.conv == ConvImpl::direct) {
            conv_backward(l, p, x, dy, dx, grad, scale, ws.one);
          } else {
            if (dx) conv_dx(l, p, dy, dx, ws.one);
          }
        }
        if (!sq && ws.one.conv == ConvImpl::gemm)  // weight gradients after every sample's dx (in-place steps)
          for (int k = 0; k < n; ++k)
            conv_dw(l, in + size_t(k) * ni, d + size_t(k) * no, grad + l.w_off, grad + l.b_off, scale, ws.one);
        else if (!sq && l.stride == 1)
          for (int k = 0; k < n; ++k) {
            const double* x = in + size_t(k) * ni;
            const double* dy = d + size_t(k) * no;
            if (l.bias)
              for (int co = 0; co < l.out.c; ++co) {
                const double* dyc = dy + size_t(co) * l.out.h * l.out.w;
                double sb = 0;
                for (int q = 0; q < l.out.h * l.out.w; ++q) sb += dyc[q];
                grad[l.b_off + co] += scale * sb;
              }
            kernels::conv_grad_w(x, l.in.c, l.in.h, l.in.w, dy, l.out.c, l.kernel, scale, grad + l.w_off, ws.one.work.data());
          }
        break;
      case LayerKind::relu: {
        const size_t m = size_t(n) * ni;
#pragma omp simd
        for (size_t j = 0; j < m; ++j) dn[j] = in[j] > 0 ? d[j] : 0.0;
        break;
      }
      case LayerKind::flatten: std::copy_n(d, size_t(n) * ni, dn); break;
    }
    std::swap(d, dn);
  }
}

void init_pytorch(const Architecture& a, std::uint64_t seed, std::uint64_t e, double* p) {
  rng::CounterStream rs(rng::make_key(seed, rng::Stream::net_init), e, 0);
  for (const auto& b : a.blocks)
    for (size_t i = 0; i < b.size; ++i) p[b.offset + i] = b.bound * (2 * rs.uniform() - 1);
}

void init_gaussian(const Architecture& a, double sw, double sb, double sv, std::uint64_t seed, std::uint64_t e, double* p) {
  rng::CounterStream rs(rng::make_key(seed, rng::Stream::net_init), e, 0);
  const int last = a.param_layers().back();
  for (const auto& b : a.blocks) {
    const Layer& l = a.layers[b.layer];
    const bool bias = b.offset == l.b_off && l.b_size > 0;
    const double sd = bias ? sb : (b.layer == last ? sv : sw) / std::sqrt(double(l.fan_in));
    for (size_t i = 0; i < b.size; ++i) p[b.offset + i] = sd * rs.normal();
  }
}

}  // namespace soret::net
