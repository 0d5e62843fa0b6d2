// Layers, the generic backend and its agreement with the fused two-layer kernel.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "soret/common/error.hpp"
#include "soret/net/deep_trainer.hpp"
#include "soret/net/trainer.hpp"
#include "net/dense_kernels.hpp"

using namespace soret;
using namespace soret::net;

namespace {

// An independent, naive evaluation of the networks of the tests (direct index formulas), for
// finite differences of the loss.
double naive_forward_loss(const Architecture& a, const std::vector<double>& p, const std::vector<double>& x0, Loss loss,
                          int label) {
  std::vector<double> x = x0;
  for (const auto& l : a.layers) {
    std::vector<double> y(l.out.size(), 0.0);
    if (l.kind == LayerKind::dense) {
      for (size_t i = 0; i < l.out.size(); ++i) {
        double s = l.bias ? p[l.b_off + i] : 0.0;
        for (size_t j = 0; j < l.in.size(); ++j) s += p[l.w_off + i * l.in.size() + j] * x[j];
        y[i] = s;
      }
    } else if (l.kind == LayerKind::conv2d) {
      const int K = l.kernel, S = l.stride;
      for (int co = 0; co < l.out.c; ++co)
        for (int oy = 0; oy < l.out.h; ++oy)
          for (int ox = 0; ox < l.out.w; ++ox) {
            double s = l.bias ? p[l.b_off + co] : 0.0;
            for (int ci = 0; ci < l.in.c; ++ci)
              for (int ky = 0; ky < K; ++ky)
                for (int kx = 0; kx < K; ++kx)
                  s += p[l.w_off + ((size_t(co) * l.in.c + ci) * K + ky) * K + kx] *
                       x[(size_t(ci) * l.in.h + oy * S + ky) * l.in.w + ox * S + kx];
            y[(size_t(co) * l.out.h + oy) * l.out.w + ox] = s;
          }
    } else if (l.kind == LayerKind::relu) {
      for (size_t i = 0; i < x.size(); ++i) y[i] = std::max(x[i], 0.0);
    } else {
      y = x;
    }
    x = y;
  }
  if (loss == Loss::ce) {
    double m = x[0];
    for (double v : x) m = std::max(m, v);
    double s = 0;
    for (double v : x) s += std::exp(v - m);
    return m + std::log(s) - x[label];
  }
  if (loss == Loss::mse) return 0.5 * (x[0] - label) * (x[0] - label);
  return std::max(x[0], 0.0) - x[0] * label + std::log1p(std::exp(-std::abs(x[0])));
}

/// Central finite difference of the loss in every parameter.
std::vector<double> fd_grad(const Architecture& a, std::vector<double> p, const std::vector<double>& x, Loss loss, int y) {
  std::vector<double> g(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    const double h = 1e-6, p0 = p[i];
    p[i] = p0 + h;
    const double lp = naive_forward_loss(a, p, x, loss, y);
    p[i] = p0 - h;
    const double lm = naive_forward_loss(a, p, x, loss, y);
    p[i] = p0;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

/// A small synthetic image set (fixed set through the Dataset interface).
class TinyImages : public Dataset {
 public:
  TinyImages(Shape s, int n, int classes) : s_(s), n_(n), classes_(classes) {}
  Shape input() const override { return s_; }
  int classes() const override { return classes_; }
  std::uint64_t size() const override { return std::uint64_t(n_); }
  int item(std::uint64_t i, double* x) const override {
    for (size_t j = 0; j < s_.size(); ++j) x[j] = std::sin(0.37 * double(i * s_.size() + j) + 0.1 * double(i));
    return int(i % std::uint64_t(classes_ == 2 ? 2 : classes_));
  }
  int fresh(rng::Stream, std::uint64_t, std::uint64_t, std::uint64_t, double*) const override { return 0; }
  std::string describe() const override { return "tiny"; }

 private:
  Shape s_;
  int n_, classes_;
};

struct Case {
  const char* name;
  Architecture a;
  Loss loss;
  int classes;
};

std::vector<Case> cases() {
  return {{"fc bce", Architecture::fc(Shape{6, 1, 1}, {5, 4}, 1), Loss::bce, 2},
          {"fc mse", Architecture::fc(Shape{6, 1, 1}, {5}, 1), Loss::mse, 2},
          {"fc ce", Architecture::fc(Shape{1, 4, 4}, {7, 3}, 3), Loss::ce, 3},
          {"conv ce stride 1", Architecture::conv(Shape{2, 7, 6}, {3, 2}, 3, 1, 3), Loss::ce, 3},
          {"conv bce stride 2", Architecture::conv(Shape{1, 9, 9}, {2, 3}, 3, 2, 1), Loss::bce, 2}};
}

}  // namespace

TEST_SUITE_BEGIN("quick");

TEST_CASE("architectures: parameter blocks - shapes and the paper's CNN") {
  const auto cnn = Architecture::parse("conv:10,10,10,10,10,10", Shape{1, 28, 28}, 10, 5, 1, 0, true);
  const auto pl = cnn.param_layers();
  REQUIRE(pl.size() == 7);
  CHECK(cnn.layers[pl[5]].out == Shape{10, 4, 4});
  CHECK(cnn.layers[pl[6]].in.size() == 160);  // 10 x 4 x 4 features into the output layer
  CHECK(cnn.params() == (10 * 25 + 10) + 5 * (10 * 10 * 25 + 10) + (160 * 10 + 10));
  const auto fc = Architecture::parse("fc:100,100,100,100,100", Shape{100, 1, 1}, 1, 5, 1, 0, true);
  CHECK(fc.param_layers().size() == 6);
  CHECK(fc.relu_layers().size() == 5);
  size_t off = 0;
  for (const auto& b : fc.blocks) {  // one contiguous buffer, blocks in order
    CHECK(b.offset == off);
    off += b.size;
  }
  CHECK(off == fc.params());
  CHECK(fc.blocks[0].name == "dense0.weight");
  CHECK(fc.blocks[0].bound == doctest::Approx(0.1));
  CHECK_THROWS_AS(Architecture::parse("conv:4", Shape{1, 3, 3}, 1, 5, 1, 0, true), InputError);
  CHECK_THROWS_AS(Architecture::parse("fc:4,0", Shape{3, 1, 1}, 1, 5, 1, 0, true), InputError);
  CHECK_THROWS_AS(Architecture::parse("mlp", Shape{3, 1, 1}, 1, 5, 1, 0, true), InputError);
}

TEST_CASE("per-sample gradients of Dense and Conv2d equal finite differences of an independent loss") {
  for (const auto& c : cases()) {
    CAPTURE(std::string(c.name));
    const auto& a = c.a;
    TinyImages data(a.input, 5, c.classes);
    std::vector<double> p(a.params()), x(a.input.size()), df(a.outputs), g(a.params());
    for (int e = 0; e < 2; ++e) {
      init_pytorch(a, 7, std::uint64_t(e), p.data());
      for (int i = 0; i < 5; ++i) {
        const int y = data.item(std::uint64_t(i), x.data());
        Workspace ws(a);
        const double* f = forward(a, p.data(), x.data(), ws);
        bool ok;
        const double l = loss_and_grad(c.loss, f, a.outputs, y, df.data(), &ok);
        CHECK(l == doctest::Approx(naive_forward_loss(a, p, x, c.loss, y)).epsilon(1e-12));
        std::fill(g.begin(), g.end(), 0.0);
        backward(a, p.data(), df.data(), ws, g.data(), 1.0);
        const auto fd = fd_grad(a, p, x, c.loss, y);
        // Central differences with h = 1e-6: truncation O(h^2) and rounding ~1e-16 |L| / h ~ 1e-10 (hence the 1e-3 floor).
        double worst = 0;
        for (size_t q = 0; q < p.size(); ++q) worst = std::max(worst, std::abs(g[q] - fd[q]) / (1e-3 + std::abs(fd[q])));
        CHECK(worst < 1e-6);
      }
    }
  }
}

TEST_CASE("one SGD step of the generic trainer equals minus eta times the finite-difference batch gradient") {
  for (int batch : {3, 6})  // sample by sample, and the batched passes (OpenBLAS)
  for (const auto& c : cases()) {
    CAPTURE(std::string(c.name));
    CAPTURE(batch);
    const auto& a = c.a;
    TinyImages data(a.input, 11, c.classes);
    RunSpec spec;
    spec.eta = 0.07;
    spec.batch = batch;
    DeepOptions o;
    o.ensemble = 3;
    o.steps = 1;
    o.record_every = 1;
    o.threads = 1;
    o.seed = 5;
    o.grad_samples = 4;
    o.sampler = SamplerKind::replacement;
    o.loss = c.loss;
    const auto r = train_deep(a, data, data, spec, o);
    Sampler s(data, SamplerKind::replacement, spec.batch, o.seed);
    std::vector<double> p(a.params()), x(a.input.size());
    for (int e = 0; e < o.ensemble; ++e) {
      init_pytorch(a, o.seed, std::uint64_t(e), p.data());
      std::vector<double> gsum(p.size(), 0.0);
      for (int k = 0; k < spec.batch; ++k) {
        const int y = s.draw(std::uint64_t(e), 0, std::uint64_t(k), x.data());
        const auto fd = fd_grad(a, p, x, c.loss, y);
        for (size_t q = 0; q < p.size(); ++q) gsum[q] += fd[q] / spec.batch;
      }
      for (size_t q = 0; q < p.size(); ++q)
        CHECK(r.final_params[size_t(e) * p.size() + q] == doctest::Approx(p[q] - spec.eta * gsum[q]).epsilon(1e-8));
    }
  }
}

TEST_CASE("gradient variance records are the two-pass unbiased variance of brute-force per-sample gradients") {
  const auto a = Architecture::conv(Shape{1, 8, 8}, {2, 2}, 3, 1, 3);
  TinyImages data(a.input, 40, 3);
  RunSpec spec;
  spec.eta = 0.05;
  DeepOptions o;
  o.ensemble = 2;
  o.steps = 0;
  o.record_every = 1;
  o.threads = 1;
  o.grad_samples = 70;  // batched passes of 64 and 6 samples
  o.sampler = SamplerKind::replacement;
  o.loss = Loss::ce;
  const auto r = train_deep(a, data, data, spec, o);
  const auto key = rng::make_key(o.seed, rng::Stream::net_grad_samples);
  std::vector<double> p(a.params()), x(a.input.size()), df(3);
  const auto pl = a.param_layers();
  const auto& tr = r.rec.column("grad_trace_layer");
  const auto& gv = r.rec.column("grad_var_layer");
  const auto& act = r.rec.column("activation_rate_layer");
  for (int e = 0; e < 2; ++e) {
    init_pytorch(a, o.seed, std::uint64_t(e), p.data());
    std::vector<std::vector<double>> G;
    std::vector<double> on(a.relu_layers().size(), 0.0);
    for (int k = 0; k < o.grad_samples; ++k) {
      const int y = data.item(rng::draw(key, std::uint64_t(e), 0, std::uint64_t(k), 1)[0] % 40, x.data());
      Workspace ws(a);
      const double* f = forward(a, p.data(), x.data(), ws);
      bool ok;
      loss_and_grad(Loss::ce, f, 3, y, df.data(), &ok);
      std::vector<double> g(a.params(), 0.0);
      backward(a, p.data(), df.data(), ws, g.data(), 1.0);
      G.push_back(g);
      for (size_t h = 0; h < on.size(); ++h)
        for (size_t q = 0; q < a.layers[a.relu_layers()[h]].in.size(); ++q) on[h] += ws.act[a.relu_layers()[h]][q] > 0;
    }
    for (size_t li = 0; li < pl.size(); ++li) {
      const auto& l = a.layers[pl[li]];
      double sum = 0;
      for (size_t q = l.w_off; q < l.b_off + l.b_size; ++q) {
        double m = 0, v = 0;
        for (const auto& g : G) m += g[q];
        m /= double(G.size());
        for (const auto& g : G) v += (g[q] - m) * (g[q] - m);
        sum += v / double(G.size() - 1);
      }
      CHECK(tr.v[size_t(e) * pl.size() + li] == doctest::Approx(sum).epsilon(1e-10));
      CHECK(gv.v[size_t(e) * pl.size() + li] == doctest::Approx(sum / double(l.w_size + l.b_size)).epsilon(1e-10));
    }
    for (size_t h = 0; h < on.size(); ++h)
      CHECK(act.v[size_t(e) * on.size() + h] ==
            doctest::Approx(on[h] / (o.grad_samples * double(a.layers[a.relu_layers()[h]].in.size()))));
  }
}

TEST_CASE("the fused two-layer backend and the generic layers give the same trajectories") {
  for (Data d : {Data::gaussian, Data::uniform})
    for (Loss l : {Loss::bce, Loss::mse})
      for (int B : {1, 3, 5}) {
        CAPTURE(int(d));
        CAPTURE(int(l));
        CAPTURE(B);
        NetConfig c;
        c.M = 7;
        c.N = 5;
        c.data = d;
        c.loss = l;
        RunSpec spec;
        spec.eta = 0.05;
        spec.batch = B;
        TrainOptions fo;
        fo.ensemble = 3;
        fo.steps = 200;
        fo.record_every = 10;
        fo.threads = 1;
        fo.seed = 9;
        const auto fused = train(c, spec, fo);
        const auto a = Architecture::twolayer(Shape{c.M, 1, 1}, c.N, c.biases());
        SyntheticDataset data(c, fo.seed);
        DeepOptions o;
        o.ensemble = 3;
        o.steps = 200;
        o.record_every = 10;
        o.threads = 1;
        o.seed = 9;
        o.grad_samples = 0;
        o.loss = l;
        const auto gen = train_deep(a, data, data, spec, o);
        const auto& L0 = a.layers[0];
        const auto& L2 = a.layers[2];
        double worst = 0;
        for (int e = 0; e < 3; ++e) {
          const double* p = &gen.final_params[size_t(e) * a.params()];
          for (int i = 0; i < c.N; ++i) {
            for (int j = 0; j < c.M; ++j)
              worst = std::max(worst, std::abs(p[L0.w_off + size_t(i) * c.M + j] - fused.final_W[(size_t(e) * c.N + i) * c.M + j]));
            if (c.biases()) worst = std::max(worst, std::abs(p[L0.b_off + i] - fused.final_b[size_t(e) * c.N + i]));
            worst = std::max(worst, std::abs(p[L2.w_off + i] - fused.final_V[size_t(e) * c.N + i]));
          }
        }
        CHECK(worst < 1e-11);  // the same arithmetic up to the order of floating-point sums
        // and the fused trainer's parameter buffers in the generic block layout
        REQUIRE(fused.final_params.size() == gen.final_params.size());
        double worst_buf = 0;
        for (size_t i = 0; i < gen.final_params.size(); ++i)
          worst_buf = std::max(worst_buf, std::abs(fused.final_params[i] - gen.final_params[i]));
        CHECK(worst_buf < 1e-11);
        // and the same weight norms along the way: |V| at every record
        const auto wn = gen.rec.slice("weight_norm_layer", 1);
        for (size_t r = 0; r + 1 < gen.records(); ++r)
          for (int e = 0; e < 3; ++e) CHECK(wn[r * 3 + e] == doctest::Approx(fused.v_norm[r * 3 + e]).epsilon(1e-10));
      }
}

TEST_CASE("gaussian initialisation: the generic twolayer draws the two-layer trainer's numbers, and trains the same") {
  for (Data d : {Data::gaussian, Data::uniform}) {
    CAPTURE(int(d));
    NetConfig c;
    c.M = 6;
    c.N = 4;
    c.data = d;
    c.init = Init::parse("gaussian:1.5,0.3,0.7");
    const auto a = Architecture::twolayer(Shape{c.M, 1, 1}, c.N, c.biases());
    std::vector<double> W(c.N * c.M), b(c.N), V(c.N), p(a.params());
    init_network(c, 5, 2, Params{W.data(), b.data(), V.data()});
    init_gaussian(a, 1.5, 0.3, 0.7, 5, 2, p.data());
    for (int i = 0; i < c.N * c.M; ++i) CHECK(p[a.layers[0].w_off + i] == W[i]);
    if (c.biases())
      for (int i = 0; i < c.N; ++i) CHECK(p[a.layers[0].b_off + i] == b[i]);
    for (int i = 0; i < c.N; ++i) CHECK(p[a.layers[2].w_off + i] == V[i]);
    RunSpec spec;
    spec.eta = 0.05;
    spec.batch = 1;
    TrainOptions fo;
    fo.ensemble = 2;
    fo.steps = 100;
    fo.record_every = 100;
    fo.threads = 1;
    fo.seed = 5;
    const auto fused = train(c, spec, fo);
    SyntheticDataset data(c, fo.seed);
    DeepOptions o;
    o.ensemble = 2;
    o.steps = 100;
    o.record_every = 100;
    o.threads = 1;
    o.seed = 5;
    o.grad_samples = 0;
    o.init = c.init;
    const auto gen = train_deep(a, data, data, spec, o);
    double worst = 0;
    for (int e = 0; e < 2; ++e)
      for (int i = 0; i < c.N; ++i)
        worst = std::max(worst, std::abs(gen.final_params[size_t(e) * a.params() + a.layers[2].w_off + i] -
                                         fused.final_V[size_t(e) * c.N + i]));
    CHECK(worst < 1e-11);
  }
}

TEST_CASE("generic ensembles are bit-identical for 1 and 2 threads") {
  const auto a = Architecture::conv(Shape{1, 8, 8}, {3, 2}, 3, 1, 1);
  TinyImages data(a.input, 30, 2);
  RunSpec spec;
  spec.eta = 0.1;
  spec.batch = 2;
  DeepOptions o;
  o.ensemble = 5;
  o.steps = 40;
  o.record_every = 10;
  o.grad_samples = 8;
  o.sampler = SamplerKind::epoch;
  o.loss = Loss::bce;
  o.threads = 1;
  const auto r1 = train_deep(a, data, data, spec, o);
  o.threads = 2;
  const auto r2 = train_deep(a, data, data, spec, o);
  CHECK(r1.final_params == r2.final_params);
  for (size_t c = 0; c < r1.rec.columns().size(); ++c) {
    CAPTURE(r1.rec.columns()[c].name);
    const auto& v1 = r1.rec.columns()[c].v;
    const auto& v2 = r2.rec.columns()[c].v;
    REQUIRE(v1.size() == v2.size());
    CHECK(std::memcmp(v1.data(), v2.data(), v1.size() * sizeof(double)) == 0);
  }
}

TEST_CASE("batched Dense products: OpenBLAS and the hand-written loops agree to rounding") {
  const auto a = Architecture::fc(Shape{1, 5, 5}, {9, 7}, 3);
  TinyImages data(a.input, 50, 3);
  RunSpec spec;
  spec.eta = 0.1;
  spec.batch = 8;
  DeepOptions o;
  o.ensemble = 2;
  o.steps = 30;
  o.record_every = 10;
  o.grad_samples = 20;
  o.sampler = SamplerKind::replacement;
  o.loss = Loss::ce;
  o.threads = 1;
  const auto r1 = train_deep(a, data, data, spec, o);
  o.blas = false;
  const auto r2 = train_deep(a, data, data, spec, o);
  for (size_t q = 0; q < r1.final_params.size(); ++q)
    CHECK(r1.final_params[q] == doctest::Approx(r2.final_params[q]).epsilon(1e-10));
  const auto g1 = r1.rec.slice("grad_var"), g2 = r2.rec.slice("grad_var");
  for (size_t q = 0; q < g1.size(); ++q) CHECK(g1[q] == doctest::Approx(g2[q]).epsilon(1e-9));
}

TEST_CASE("Dense kernels: libxsmm, OpenBLAS and the loops agree - and the one-sample kernels equal row-by-row sums") {
  using namespace soret::net::kernels;
  auto val = [](size_t i, double f) { return std::sin(f * double(i) + 0.1); };
  // shapes: the benchmark's, odd sizes, one output, and one above libxsmm's size limit (OpenBLAS)
  for (const auto& [n, no, ni] : std::vector<std::array<int, 3>>{{16, 100, 100}, {5, 7, 9}, {3, 1, 13}, {64, 10, 33}, {40, 200, 150}}) {
    CAPTURE(n);
    CAPTURE(no);
    CAPTURE(ni);
    std::vector<double> X(size_t(n) * ni), W(size_t(no) * ni), b(no), dY(size_t(n) * no);
    for (size_t i = 0; i < X.size(); ++i) X[i] = val(i, 0.37);
    for (size_t i = 0; i < W.size(); ++i) W[i] = val(i, 0.71);
    for (size_t i = 0; i < b.size(); ++i) b[i] = val(i, 1.3);
    for (size_t i = 0; i < dY.size(); ++i) dY[i] = i % 3 == 0 ? 0.0 : val(i, 0.53);
    std::vector<double> Y[3], dX[3], gW[3];
    const DenseImpl impls[3] = {DenseImpl::loops, DenseImpl::openblas, DenseImpl::xsmm};
    for (int m = 0; m < 3; ++m) {
      Y[m].assign(size_t(n) * no, 0.0);
      dX[m].assign(size_t(n) * ni, 0.0);
      gW[m] = W;
      dense_fwd(impls[m], n, no, ni, X.data(), W.data(), b.data(), Y[m].data());
      dense_grad_x(impls[m], n, no, ni, dY.data(), W.data(), dX[m].data());
      dense_grad_w(impls[m], n, no, ni, -0.3, dY.data(), X.data(), gW[m].data());
    }
    for (int m = 1; m < 3; ++m) {
      for (size_t i = 0; i < Y[0].size(); ++i) CHECK(Y[m][i] == doctest::Approx(Y[0][i]).epsilon(1e-12));
      for (size_t i = 0; i < dX[0].size(); ++i) CHECK(dX[m][i] == doctest::Approx(dX[0][i]).epsilon(1e-12));
      for (size_t i = 0; i < gW[0].size(); ++i) CHECK(gW[m][i] == doctest::Approx(gW[0][i]).epsilon(1e-12));
    }
    // the backward on feature-major gradients
    if (dense_fm_available(n, no, ni)) {
      std::vector<double> dYf(dY.size()), dXf(dX[0].size()), dXs(dX[0].size()), g = W, gb = b, gb0 = b;
      transpose(n, no, dY.data(), no, dYf.data(), n, nullptr);
      dense_grad_x_fm(n, no, ni, dYf.data(), W.data(), dXf.data());
      transpose(ni, n, dXf.data(), n, dXs.data(), ni, nullptr);
      for (size_t i = 0; i < dXs.size(); ++i) CHECK(dXs[i] == doctest::Approx(dX[0][i]).epsilon(1e-12));
      dense_grad_w_fm(n, no, ni, -0.3, dYf.data(), X.data(), g.data(), gb.data());
      for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(gW[0][i]).epsilon(1e-12));
      for (int k = 0; k < n; ++k)
        for (int i = 0; i < no; ++i) gb0[i] += -0.3 * dY[size_t(k) * no + i];
      for (int i = 0; i < no; ++i) CHECK(gb[i] == doctest::Approx(gb0[i]).epsilon(1e-12));
    } else {
      CHECK(size_t(n) * no * ni > 1000000);  // only the shape above libxsmm's limit
    }
    // one sample: forward with and without bias, and the in-place step with and without dx
    std::vector<double> y(no), y0(no), dx(ni), dx0(ni, 0.0), W1 = W, W0 = W, b1 = b, b0 = b;
    for (int withb = 0; withb < 2; ++withb) {
      dense_fwd1(no, ni, W.data(), X.data(), withb ? b.data() : nullptr, y.data());
      for (int i = 0; i < no; ++i) {
        double s = 0;
        for (int j = 0; j < ni; ++j) s += W[size_t(i) * ni + j] * X[j];
        CHECK(y[i] == doctest::Approx(s + (withb ? b[i] : 0.0)).epsilon(1e-12));
      }
    }
    for (int i = 0; i < no; ++i) {
      const double d = dY[i];
      if (d == 0.0) continue;
      for (int j = 0; j < ni; ++j) {
        const double w = W0[size_t(i) * ni + j];
        dx0[j] += w * d;
        W0[size_t(i) * ni + j] = w + (-0.3 * d) * X[j];
      }
      b0[i] += -0.3 * d;
    }
    dense_bwd1_inplace(no, ni, W1.data(), b1.data(), X.data(), dY.data(), dx.data(), -0.3);
    CHECK(std::memcmp(W1.data(), W0.data(), W0.size() * sizeof(double)) == 0);  // the same arithmetic
    CHECK(std::memcmp(b1.data(), b0.data(), b0.size() * sizeof(double)) == 0);
    CHECK(std::memcmp(dx.data(), dx0.data(), dx0.size() * sizeof(double)) == 0);
    std::vector<double> W2 = W;
    dense_bwd1_inplace(no, ni, W2.data(), nullptr, X.data(), dY.data(), nullptr, -0.3);
    CHECK(std::memcmp(W2.data(), W0.data(), W0.size() * sizeof(double)) == 0);
  }
}

TEST_CASE("convolutions by im2col + OpenBLAS and by the direct kernels give the same outputs and gradients") {
  for (int stride : {1, 2}) {
    CAPTURE(stride);
    const auto a = Architecture::conv(Shape{2, 13, 13}, {3, 4}, 3, stride, 3);
    std::vector<double> p(a.params()), x(a.input.size());
    init_pytorch(a, 3, 0, p.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7 * double(i) + 0.3);
    const std::vector<double> dout = {0.3, -0.5, 0.2};
    std::vector<double> g[2], y[2];
    for (int m = 0; m < 2; ++m) {
      Workspace ws(a);
      ws.conv = m == 0 ? ConvImpl::direct : ConvImpl::gemm;
      const double* f = forward(a, p.data(), x.data(), ws);
      y[m].assign(f, f + 3);
      g[m].assign(a.params(), 0.0);
      backward(a, p.data(), dout.data(), ws, g[m].data(), 1.0);
    }
    for (int i = 0; i < 3; ++i) CHECK(y[1][i] == doctest::Approx(y[0][i]).epsilon(1e-12));
    double worst = 0, norm = 0;
    for (size_t i = 0; i < a.params(); ++i) {
      worst = std::max(worst, std::abs(g[1][i] - g[0][i]));
      norm = std::max(norm, std::abs(g[0][i]));
    }
    CHECK(norm > 0);
    CHECK(worst <= 1e-12 * norm);
    // the batched passes with per-sample squared norms (the records), both ways
    std::vector<double> X(4 * a.input.size()), dY(4 * 3);
    for (size_t i = 0; i < X.size(); ++i) X[i] = std::cos(0.37 * double(i));
    for (size_t i = 0; i < dY.size(); ++i) dY[i] = 0.1 * double(i % 5) - 0.2;
    std::vector<double> gb[2], sq[2];
    for (int m = 0; m < 2; ++m) {
      BatchWorkspace bws(a, 4);
      bws.one.conv = m == 0 ? ConvImpl::direct : ConvImpl::gemm;
      forward_batch(a, p.data(), X.data(), 4, bws);
      gb[m].assign(a.params(), 0.0);
      sq[m].assign(a.layers.size(), 0.0);
      backward_batch(a, p.data(), dY.data(), 4, bws, gb[m].data(), 1.0, sq[m].data());
    }
    for (size_t i = 0; i < a.params(); ++i) CHECK(gb[1][i] == doctest::Approx(gb[0][i]).epsilon(1e-11));
    for (size_t l = 0; l < a.layers.size(); ++l) CHECK(sq[1][l] == doctest::Approx(sq[0][l]).epsilon(1e-11));
  }
}

TEST_SUITE_END();
