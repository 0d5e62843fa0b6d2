#pragma once
// Layers (Dense, Conv2d, ReLU, Flatten) acting on one contiguous parameter buffer per network.
//
// An Architecture is a list of layers and the named blocks of the parameter buffer they use
// ("dense0.weight", "dense0.bias", "conv1.weight", ...). Every network of an ensemble has one
// buffer of `params()` doubles laid out by the blocks, so norms per layer, histograms and the
// final parameters all come from one place. Layouts follow PyTorch: a Dense weight is
// out x in (row-major); a Conv2d weight is C_out x C_in x K x K; activations are C x H x W.
// Units: all quantities are dimensionless.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace soret::net {

struct Shape {
  int c = 1, h = 1, w = 1;
  std::size_t size() const { return std::size_t(c) * h * w; }
  bool operator==(const Shape&) const = default;
};

enum class LayerKind { dense, conv2d, relu, flatten };

struct Layer {
  LayerKind kind = LayerKind::dense;
  std::string name;  ///< e.g. "dense0", "conv2", "relu1"
  Shape in, out;
  int kernel = 0, stride = 1;           ///< conv2d
  bool bias = true;                     ///< dense/conv2d: has a (trainable) bias
  std::size_t w_off = 0, w_size = 0;    ///< weight block in the parameter buffer
  std::size_t b_off = 0, b_size = 0;    ///< bias block (size 0 without bias)
  int fan_in = 0;                       ///< inputs per output unit (in, or C_in K K)
  bool has_params() const { return kind == LayerKind::dense || kind == LayerKind::conv2d; }
};

/// A named block of the parameter buffer.
struct Block {
  std::string name;  ///< "<layer>.weight" or "<layer>.bias"
  std::size_t offset = 0, size = 0;
  int layer = 0;     ///< index into Architecture::layers
  double bound = 0;  ///< PyTorch init: uniform in +-bound = 1/sqrt(fan_in)
};

class Architecture {
 public:
  /// `twolayer`: Dense(M -> N, bias iff hidden_bias), ReLU, Dense(N -> 1, no bias): the model
  /// f(x) = V.relu(Wx + b) of the two-layer trainer, with the same parameter order W, b, V.
  /// (Image inputs are flattened first.)
  static Architecture twolayer(Shape input, int N, bool hidden_bias);
  /// `fc:W1,W2,...`: Dense + ReLU per hidden width, then Dense(-> outputs); input flattened.
  static Architecture fc(Shape input, const std::vector<int>& widths, int outputs);
  /// `conv:C1,C2,...`: Conv2d(K, stride S, no padding) + ReLU per entry, Flatten, Dense(-> outputs).
  static Architecture conv(Shape input, const std::vector<int>& channels, int kernel, int stride, int outputs);
  /// Parses `twolayer`, `fc:...` or `conv:...` (throws InputError naming `option`).
  static Architecture parse(const std::string& spec, Shape input, int outputs, int kernel, int stride,
                            int twolayer_hidden, bool twolayer_bias, const std::string& option = "arch");

  std::vector<Layer> layers;
  std::vector<Block> blocks;
  Shape input;
  int outputs = 1;
  std::string text;  ///< canonical description, e.g. "fc:100,100 (784 -> 10)"

  std::size_t params() const { return params_; }
  /// Indices of the layers with parameters (Dense, Conv2d), in order: the "layers" of the records.
  std::vector<int> param_layers() const;
  /// Indices of the ReLU layers (the hidden layers of the activation rates).
  std::vector<int> relu_layers() const;
  /// Number of parameters (weight + bias) of layer l.
  std::size_t layer_params(int l) const { return layers[l].w_size + layers[l].b_size; }
  /// Largest activation vector (input included).
  std::size_t max_activation() const;

 private:
  void add_dense(int out, bool bias);
  void add_conv(int channels, int kernel, int stride);
  void add_relu();
  void add_flatten();
  void finish();
  std::size_t params_ = 0;
};

/// How convolutions are computed: `direct`, soret's register-blocked kernels (stride 1; direct
/// loops otherwise), with 8-double vectors for AVX-512 and 4-double AVX2 + FMA versions of the
/// forward and weight-gradient kernels; `gemm`, im2col + OpenBLAS dgemm per sample (any stride).
/// Measured (bench/bench_net_deep.cpp, the CNN at |B| = 1, 1 thread, on a 2-core AMD EPYC
/// without AVX-512): the AVX2 direct kernels ~1.5x the rate of gemm (the 8-double ones, which
/// spill there, ~0.1x).
enum class ConvImpl { direct, gemm };
/// `direct` when compiled for AVX-512 or AVX2 + FMA, else `gemm`.
ConvImpl default_conv_impl();

/// The activations of one sample: act[0] = input, act[l + 1] = output of layer l; and the
/// gradient buffers of the backward pass.
struct Workspace {
  explicit Workspace(const Architecture& a);
  std::vector<std::vector<double>> act;
  std::vector<double> d0, d1;
  std::vector<double> work;  ///< scratch of the convolution kernels
  std::vector<double> cols;  ///< im2col patches of one sample (ConvImpl::gemm)
  ConvImpl conv = default_conv_impl();
};

/// Forward pass of one sample x (input().size() values) with parameters p; returns the output
/// (outputs values) in ws.act.back().
const double* forward(const Architecture& a, const double* p, const double* x, Workspace& ws);

/// Backward pass after forward(): dout = dL/d(output) of this sample. Adds scale * dL/dp to
/// grad (params() values). Exact: no finite differences. grad may be p itself with scale = -eta:
/// one SGD step in place (every parameter is used before it is updated; strided convolutions excepted).
void backward(const Architecture& a, const double* p, const double* dout, Workspace& ws, double* grad, double scale);

/// The activations of n samples at once (rows of each layer's activations, sample-major), for
/// the batched passes.
struct BatchWorkspace {
  BatchWorkspace(const Architecture& a, int n);
  int n;
  std::vector<std::vector<double>> act;
  std::vector<double> d0, d1, scratch;  ///< gradients wrt activations; per-sample conv gradients
  Workspace one;                        ///< the convolution kernels' scratch
  bool blas = true;                     ///< Dense products by libxsmm / OpenBLAS (else hand-written loops)
  /// Dense/ReLU-only nets on libxsmm: each Dense output also kept feature-major (fm[i + 1] for
  /// layer i), and the backward without sq runs on feature-major gradients (fm_n: the n it was
  /// set up for, -1 none).
  std::vector<std::vector<double>> fm;
  std::vector<double> dfm0, dfm1;
  int fm_n = -1;
  bool fm_on = false;
};

/// Forward pass of n <= ws.n samples (X: n x input().size()); outputs in ws.act.back() (n x outputs).
/// Dense layers are matrix products through OpenBLAS (cblas_dgemm); convolutions sample by sample.
void forward_batch(const Architecture& a, const double* p, const double* X, int n, BatchWorkspace& ws);

/// Backward pass after forward_batch(): dY = dL_k/d(output_k), n x outputs. Adds scale * sum_k
/// dL_k/dp to grad. If sq is given (one entry per layer of a.layers), adds to sq[l] the sum over
/// the samples of the squared norm of each sample's (scaled) gradient of layer l's parameters:
/// exact, |dy_k|^2 (|x_k|^2 + 1) for Dense, from each sample's own gradient for Conv2d.
/// Without sq, grad may be p itself with scale = -eta / n (an SGD step in place) unless a
/// convolution has a stride > 1.
void backward_batch(const Architecture& a, const double* p, const double* dY, int n, BatchWorkspace& ws, double* grad,
                    double scale, double* sq = nullptr);

/// PyTorch's default initialisation of nn.Linear / nn.Conv2d: every weight and bias uniform in
/// +-1/sqrt(fan_in), drawn block by block in order from the net_init stream, counter (e, 0, ...).
/// For `twolayer` this gives the same numbers as init_network() of the two-layer trainer.
void init_pytorch(const Architecture& a, std::uint64_t seed, std::uint64_t e, double* p);

/// Gaussian initialisation (`--init gaussian:SW,SB,SV`), block by block in order from the same
/// stream: the weights of every parameter layer but the last ~ N(0, SW^2 / fan_in), the last
/// (output) layer's weights ~ N(0, SV^2 / fan_in), every bias ~ N(0, SB^2). For `twolayer` this
/// gives the same numbers as init_network() of the two-layer trainer with the same Init.
void init_gaussian(const Architecture& a, double sw, double sb, double sv, std::uint64_t seed, std::uint64_t e, double* p);

}  // namespace soret::net
