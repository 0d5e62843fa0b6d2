// Library choice by measurement (issue 7): the products of the generic backend's ensembles with
// soret's own kernels, OpenBLAS, Eigen and oneDNN, on the shapes the deep-net benchmark uses.
// A benchmark, not a test. float64 unless a row says f32 (Debian 12's oneDNN 2.6 has no f64
// data type: its rows are f32, for reference only, not eligible for the float64 trainer).
//
//  FC-6 (fc:100,100,100,100,100, M = 100): per network, the five 100 x 100 Dense layers'
//    forward Y = X W^T, input gradient dX = dY W and weight gradient gW += dY^T X for n = |B|
//    samples; 64 networks, each with its own weights.
//  CNN-6 (conv:10 x 6, 5x5, stride 1, 28x28 input): per network, the six convolutions'
//    forward, weight gradient and input gradient (not for the first layer) for n samples;
//    16 networks.
// Backends: "soret" = the trainer's code (src/net/dense_kernels.cpp: hand loops, OpenBLAS
// dgemm, libxsmm JIT kernels with the transposes they need, the trainer's feature-major backward
// (|B| > 1) and its one-sample kernels with the step fused into the input gradient (|B| = 1);
// src/net/conv_kernels.cpp register-blocked direct convolutions); "openblas gemv/ger"
// (n = 1); "eigen" (Eigen 3.4 maps, single-threaded); im2col + dgemm (OpenBLAS) or + Eigen for
// the convolutions; "onednn f32" per network; and the ensemble batched into one call
// ("batched": oneDNN 3-D matmul over the networks; grouped convolution, groups = networks).
// Per-network calls run in an OpenMP loop over the networks (each thread its networks, as the
// trainer does); batched calls get the threads themselves.
//
// Timing: every configuration is measured in R interleaved rounds (each at least 0.15 s), the
// median reported, as network-passes per second (one pass = all layers' three products for the
// n samples of one network) and as a ratio to the trainer's current choice in the same run.
//
// Usage: bench_net_libs [rounds=3]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <cblas.h>

#include <Eigen/Core>
#include <oneapi/dnnl/dnnl.hpp>

#include "net/conv_kernels.hpp"
#include "net/dense_kernels.hpp"

using namespace soret::net;

namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapM = Eigen::Map<RowMat>;
using CMapM = Eigen::Map<const RowMat>;
using MapV = Eigen::Map<Eigen::VectorXd>;
using CMapV = Eigen::Map<const Eigen::VectorXd>;

std::vector<double> randv(size_t n, unsigned seed, double scale = 0.1) {
  std::vector<double> v(n + kernels::kConvSlack);
  std::srand(seed);
  for (size_t i = 0; i < n; ++i) v[i] = scale * (2.0 * std::rand() / RAND_MAX - 1.0);
  return v;
}

struct Case {
  Case(std::string n, std::function<void(int threads)> r, double p) : name(std::move(n)), run(std::move(r)), passes(p) {}
  std::string name;
  std::function<void(int threads)> run;  ///< one pass over the ensemble
  double passes = 0;                     ///< network-passes per call
  std::vector<double> rates;             ///< per round (indexed by thread count slot)
};

double time_case(Case& c, int threads) {
  if (std::getenv("BENCH_TRACE")) std::fprintf(stderr, "case %s, %d threads\n", c.name.c_str(), threads);
  c.run(threads);  // warm-up
  int reps = 1;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) c.run(threads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s >= 0.15) return c.passes * reps / s;
    reps *= 2;
  }
}

template <class F>
void per_network(int E, int threads, F&& f) {
#pragma omp parallel num_threads(threads)
  {
    // as the trainer: a team of one thread is not an active parallel region, so OpenBLAS and
    // oneDNN would start their own threads inside it; their thread count here is set to 1
    if (omp_get_num_threads() == 1) omp_set_num_threads(1);
#pragma omp for schedule(static)
    for (int e = 0; e < E; ++e) f(e);
  }
}

// ---------- FC ----------

struct FC {
  static constexpr int L = 5, M = 100;
  int E, n;
  std::vector<double> W, gW, X, Y, dY, dX;          // per network: L weights; activations per layer
  std::vector<float> Wf, gWf, Xf, Yf, dYf, dXf;
  FC(int E_, int n_) : E(E_), n(n_) {
    W = randv(size_t(E) * L * M * M, 1);
    gW.assign(W.size(), 0.0);
    X = randv(size_t(E) * L * n * M, 2);
    dY = randv(size_t(E) * L * n * M, 3);
    Y.assign(X.size(), 0.0);
    dX.assign(X.size(), 0.0);
    Wf.assign(W.begin(), W.end());
    gWf.assign(W.size(), 0.f);
    Xf.assign(X.begin(), X.end());
    dYf.assign(dY.begin(), dY.end());
    Yf.assign(X.size(), 0.f);
    dXf.assign(X.size(), 0.f);
  }
  size_t wo(int e, int l) const { return (size_t(e) * L + l) * M * M; }
  size_t ao(int e, int l) const { return (size_t(e) * L + l) * size_t(n) * M; }
};

std::vector<Case> fc_cases(FC& f) {
  std::vector<Case> cs;
  const int E = f.E, n = f.n, M = FC::M, L = FC::L;
  auto soret_impl = [&f, E, n, M, L](kernels::DenseImpl impl) {
    return [&f, E, n, M, L, impl](int th) {
      per_network(E, th, [&](int e) {
        for (int l = 0; l < L; ++l) {
          kernels::dense_fwd(impl, n, M, M, &f.X[f.ao(e, l)], &f.W[f.wo(e, l)], nullptr, &f.Y[f.ao(e, l)]);
          kernels::dense_grad_x(impl, n, M, M, &f.dY[f.ao(e, l)], &f.W[f.wo(e, l)], &f.dX[f.ao(e, l)]);
          kernels::dense_grad_w(impl, n, M, M, -1e-9, &f.dY[f.ao(e, l)], &f.X[f.ao(e, l)], &f.gW[f.wo(e, l)]);
        }
      });
    };
  };
  cs.push_back({"hand loops (soret)", soret_impl(kernels::DenseImpl::loops), double(E)});
  cs.push_back({"OpenBLAS dgemm (soret)", soret_impl(kernels::DenseImpl::openblas), double(E)});
  cs.push_back({"libxsmm (soret)", soret_impl(kernels::DenseImpl::xsmm), double(E)});
  if (n > 1)  // the trainer's passes: forward keeping Yf, the backward on feature-major dY
    cs.push_back({"libxsmm, feature-major backward (soret, used)", [&f, E, n, M, L](int th) {
                    per_network(E, th, [&](int e) {
                      std::vector<double> Yf(size_t(n) * M);
                      for (int l = 0; l < L; ++l) {
                        kernels::dense_fwd(kernels::DenseImpl::xsmm, n, M, M, &f.X[f.ao(e, l)], &f.W[f.wo(e, l)], nullptr,
                                           &f.Y[f.ao(e, l)], Yf.data());
                        kernels::dense_grad_x_fm(n, M, M, &f.dY[f.ao(e, l)], &f.W[f.wo(e, l)], &f.dX[f.ao(e, l)]);
                        kernels::dense_grad_w_fm(n, M, M, -1e-9, &f.dY[f.ao(e, l)], &f.X[f.ao(e, l)], &f.gW[f.wo(e, l)], nullptr);
                      }
                    });
                  }, double(E)});
  else  // the trainer's |B| = 1 step: forward, then input gradient fused with the in-place update
    cs.push_back({"one-sample kernels, fused step (soret, used)", [&f, E, M, L](int th) {
                    per_network(E, th, [&](int e) {
                      for (int l = 0; l < L; ++l) {
                        kernels::dense_fwd1(M, M, &f.W[f.wo(e, l)], &f.X[f.ao(e, l)], nullptr, &f.Y[f.ao(e, l)]);
                        kernels::dense_bwd1_inplace(M, M, &f.gW[f.wo(e, l)], nullptr, &f.X[f.ao(e, l)], &f.dY[f.ao(e, l)],
                                                    &f.dX[f.ao(e, l)], -1e-9);
                      }
                    });
                  }, double(E)});
  if (n == 1)
    cs.push_back({"OpenBLAS dgemv/dger", [&f, E, M, L](int th) {
                    per_network(E, th, [&](int e) {
                      for (int l = 0; l < L; ++l) {
                        const double* W = &f.W[f.wo(e, l)];
                        cblas_dgemv(CblasRowMajor, CblasNoTrans, M, M, 1.0, W, M, &f.X[f.ao(e, l)], 1, 0.0, &f.Y[f.ao(e, l)], 1);
                        cblas_dgemv(CblasRowMajor, CblasTrans, M, M, 1.0, W, M, &f.dY[f.ao(e, l)], 1, 0.0, &f.dX[f.ao(e, l)], 1);
                        cblas_dger(CblasRowMajor, M, M, -1e-9, &f.dY[f.ao(e, l)], 1, &f.X[f.ao(e, l)], 1, &f.gW[f.wo(e, l)], M);
                      }
                    });
                  }, double(E)});
  cs.push_back({"Eigen 3.4", [&f, E, n, M, L](int th) {
                  per_network(E, th, [&](int e) {
                    for (int l = 0; l < L; ++l) {
                      CMapM W(&f.W[f.wo(e, l)], M, M);
                      MapM gW(&f.gW[f.wo(e, l)], M, M);
                      if (n == 1) {
                        CMapV x(&f.X[f.ao(e, l)], M), dy(&f.dY[f.ao(e, l)], M);
                        MapV y(&f.Y[f.ao(e, l)], M), dx(&f.dX[f.ao(e, l)], M);
                        y.noalias() = W * x;
                        dx.noalias() = W.transpose() * dy;
                        gW.noalias() += -1e-9 * dy * x.transpose();
                      } else {
                        CMapM X(&f.X[f.ao(e, l)], n, M), dY(&f.dY[f.ao(e, l)], n, M);
                        MapM Y(&f.Y[f.ao(e, l)], n, M), dX(&f.dX[f.ao(e, l)], n, M);
                        Y.noalias() = X * W.transpose();
                        dX.noalias() = dY * W;
                        gW.noalias() += -1e-9 * dY.transpose() * X;
                      }
                    }
                  });
                }, double(E)});
  // oneDNN (f32): per-network matmul primitives, and one batched matmul over the networks.
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  static engine eng(engine::kind::cpu, 0);
  auto mk = [&](memory::dims a, memory::dims b, memory::dims c, tag ta, tag tb, bool acc) {
    primitive_attr at;
    at.set_scratchpad_mode(scratchpad_mode::user);
    if (acc) {
      post_ops po;
      po.append_sum(1.0f);
      at.set_post_ops(po);
    }
    matmul::primitive_desc pd(matmul::desc(memory::desc(a, dt::f32, ta), memory::desc(b, dt::f32, tb),
                                           memory::desc(c, dt::f32, a.size() == 2 ? tag::ab : tag::abc)),
                              at, eng);
    return std::make_pair(std::make_shared<matmul>(pd), pd.scratchpad_desc());
  };
  // forward: X (n x M) . W^T (M x M, W row-major = "ba" of W^T); grad_x: dY . W; grad_w: dY^T (M x n) . X
  // one set of primitives per thread (a primitive's library-managed scratchpad is not safe for
  // concurrent execution)
  std::vector<std::pair<std::shared_ptr<matmul>, memory::desc>> fws, gxs, gws;
  for (int t = 0; t < 2; ++t) {
    fws.push_back(mk({n, M}, {M, M}, {n, M}, tag::ab, tag::ba, false));
    gxs.push_back(mk({n, M}, {M, M}, {n, M}, tag::ab, tag::ab, false));
    gws.push_back(mk({M, n}, {n, M}, {M, M}, tag::ba, tag::ab, true));
  }
  cs.push_back({"oneDNN matmul f32", [&f, E, n, M, L, fws, gxs, gws](int th) {
                  per_network(E, th, [&](int e) {
                    const auto& fw = fws[omp_get_thread_num()];
                    const auto& gx = gxs[omp_get_thread_num()];
                    const auto& gw = gws[omp_get_thread_num()];
                    stream s(eng);
                    thread_local std::vector<char> pad;
                    for (const auto* q : {&fw, &gx, &gw})
                      if (pad.size() < q->second.get_size()) pad.resize(q->second.get_size());
                    memory sfw(fw.second, eng, pad.data()), sgx(gx.second, eng, pad.data()), sgw(gw.second, eng, pad.data());
                    for (int l = 0; l < L; ++l) {
                      auto m = [&](memory::dims d, tag t, float* p) { return memory(memory::desc(d, dt::f32, t), eng, p); };
                      float* W = &f.Wf[f.wo(e, l)];
                      fw.first->execute(s, {{DNNL_ARG_SRC, m({n, M}, tag::ab, &f.Xf[f.ao(e, l)])}, {DNNL_ARG_WEIGHTS, m({M, M}, tag::ba, W)},
                                      {DNNL_ARG_DST, m({n, M}, tag::ab, &f.Yf[f.ao(e, l)])}, {DNNL_ARG_SCRATCHPAD, sfw}});
                      gx.first->execute(s, {{DNNL_ARG_SRC, m({n, M}, tag::ab, &f.dYf[f.ao(e, l)])}, {DNNL_ARG_WEIGHTS, m({M, M}, tag::ab, W)},
                                      {DNNL_ARG_DST, m({n, M}, tag::ab, &f.dXf[f.ao(e, l)])}, {DNNL_ARG_SCRATCHPAD, sgx}});
                      gw.first->execute(s, {{DNNL_ARG_SRC, m({M, n}, tag::ba, &f.dYf[f.ao(e, l)])}, {DNNL_ARG_WEIGHTS, m({n, M}, tag::ab, &f.Xf[f.ao(e, l)])},
                                      {DNNL_ARG_DST, m({M, M}, tag::ab, &f.gWf[f.wo(e, l)])}, {DNNL_ARG_SCRATCHPAD, sgw}});
                    }
                  });
                }, double(E)});
  // batched over the ensemble: layer l of all networks as one 3-D matmul (networks x ...);
  // the per-layer blocks are laid out network-major with stride L*block: strided memory descs.
  auto mkb = [&](memory::dims dims, memory::dims strides) { return memory::desc(dims, dt::f32, strides); };
  const memory::dim sW = memory::dim(L) * M * M, sA = memory::dim(L) * n * M;
  auto bfw = std::make_shared<matmul>(matmul::primitive_desc(
      matmul::desc(mkb({E, n, M}, {sA, M, 1}), mkb({E, M, M}, {sW, 1, M}), mkb({E, n, M}, {sA, M, 1})), eng));
  auto bgx = std::make_shared<matmul>(matmul::primitive_desc(
      matmul::desc(mkb({E, n, M}, {sA, M, 1}), mkb({E, M, M}, {sW, M, 1}), mkb({E, n, M}, {sA, M, 1})), eng));
  primitive_attr acc;
  {
    post_ops po;
    po.append_sum(1.0f);
    acc.set_post_ops(po);
  }
  auto bgw = std::make_shared<matmul>(matmul::primitive_desc(
      matmul::desc(mkb({E, M, n}, {sA, 1, M}), mkb({E, n, M}, {sA, M, 1}), mkb({E, M, M}, {sW, M, 1})), acc, eng));
  cs.push_back({"oneDNN matmul f32, batched", [&f, E, n, M, L, bfw, bgx, bgw, sW, sA, mkb](int th) {
                  omp_set_num_threads(th);
                  stream s(eng);
                  for (int l = 0; l < L; ++l) {
                    auto m = [&](memory::dims d, memory::dims st, float* p) { return memory(mkb(d, st), eng, p); };
                    float* W = &f.Wf[f.wo(0, l)];
                    bfw->execute(s, {{DNNL_ARG_SRC, m({E, n, M}, {sA, M, 1}, &f.Xf[f.ao(0, l)])},
                                     {DNNL_ARG_WEIGHTS, m({E, M, M}, {sW, 1, M}, W)},
                                     {DNNL_ARG_DST, m({E, n, M}, {sA, M, 1}, &f.Yf[f.ao(0, l)])}});
                    bgx->execute(s, {{DNNL_ARG_SRC, m({E, n, M}, {sA, M, 1}, &f.dYf[f.ao(0, l)])},
                                     {DNNL_ARG_WEIGHTS, m({E, M, M}, {sW, M, 1}, W)},
                                     {DNNL_ARG_DST, m({E, n, M}, {sA, M, 1}, &f.dXf[f.ao(0, l)])}});
                    bgw->execute(s, {{DNNL_ARG_SRC, m({E, M, n}, {sA, 1, M}, &f.dYf[f.ao(0, l)])},
                                     {DNNL_ARG_WEIGHTS, m({E, n, M}, {sA, M, 1}, &f.Xf[f.ao(0, l)])},
                                     {DNNL_ARG_DST, m({E, M, M}, {sW, M, 1}, &f.gWf[f.wo(0, l)])}});
                  }
                  s.wait();
                }, double(E)});
  return cs;
}

// ---------- CNN ----------

struct CNN {
  static constexpr int L = 6, C = 10, K = 5, H0 = 28;
  int E, n;
  struct Lay {
    int ci, h, ho;
    size_t w_off, x_off, y_off;  // per network: weights; per network activations (n samples)
  };
  std::vector<Lay> lay;
  size_t wsz = 0, asz = 0;
  std::vector<double> W, gW, A, dA, B;  // A: inputs of each layer; dA: gradients (outputs); B: input gradients
  std::vector<float> Wf, gWf, Af, dAf, Bf, biasf, gbf;
  CNN(int E_, int n_) : E(E_), n(n_) {
    int ci = 1, h = H0;
    for (int l = 0; l < L; ++l) {
      const int ho = h - K + 1;
      lay.push_back({ci, h, ho, wsz, asz, 0});
      wsz += size_t(C) * ci * K * K;
      asz += size_t(n) * ci * h * h;
      lay.back().y_off = 0;
      ci = C;
      h = ho;
    }
    size_t yo = 0;
    for (auto& l : lay) { l.y_off = yo; yo += size_t(n) * C * l.ho * l.ho; }
    W = randv(size_t(E) * wsz, 4);
    gW.assign(W.size(), 0.0);
    A = randv(size_t(E) * asz, 5, 1.0);
    dA = randv(size_t(E) * yo, 6);
    B.assign(size_t(E) * asz + kernels::kConvSlack, 0.0);
    Wf.assign(W.begin(), W.end());
    gWf.assign(W.size(), 0.f);
    Af.assign(A.begin(), A.end());
    dAf.assign(dA.begin(), dA.end());
    Bf.assign(B.size(), 0.f);
    biasf.assign(size_t(L) * C * E, 0.f);
    gbf.assign(size_t(L) * C * E, 0.f);
    ysz = yo;
  }
  size_t ysz = 0;
};

void im2col(const double* x, int ci, int h, int K, int ho, double* cols) {
  for (int c = 0; c < ci; ++c)
    for (int ky = 0; ky < K; ++ky)
      for (int kx = 0; kx < K; ++kx) {
        double* r = cols + ((size_t(c) * K + ky) * K + kx) * ho * ho;
        for (int oy = 0; oy < ho; ++oy) std::copy_n(x + (size_t(c) * h + oy + ky) * h + kx, ho, r + size_t(oy) * ho);
      }
}

void col2im(const double* cols, int ci, int h, int K, int ho, double* x) {
  std::fill_n(x, size_t(ci) * h * h, 0.0);
  for (int c = 0; c < ci; ++c)
    for (int ky = 0; ky < K; ++ky)
      for (int kx = 0; kx < K; ++kx) {
        const double* r = cols + ((size_t(c) * K + ky) * K + kx) * ho * ho;
        for (int oy = 0; oy < ho; ++oy) {
          double* xr = x + (size_t(c) * h + oy + ky) * h + kx;
          for (int ox = 0; ox < ho; ++ox) xr[ox] += r[size_t(oy) * ho + ox];
        }
      }
}

std::vector<Case> cnn_cases(CNN& c) {
  std::vector<Case> cs;
  const int E = c.E, n = c.n, C = CNN::C, K = CNN::K;
  cs.push_back({"direct kernels (soret)", [&c, E, n, C, K](int th) {
                  per_network(E, th, [&](int e) {
                    thread_local std::vector<double> work(200000, 0.0), y(20000, 0.0);
                    for (size_t li = 0; li < c.lay.size(); ++li) {
                      const auto& l = c.lay[li];
                      const double* w = &c.W[e * c.wsz + l.w_off];
                      for (int k = 0; k < n; ++k) {
                        const double* x = &c.A[e * c.asz + l.x_off + size_t(k) * l.ci * l.h * l.h];
                        const double* dy = &c.dA[e * c.ysz + l.y_off + size_t(k) * C * l.ho * l.ho];
                        kernels::conv_valid(x, l.ci, l.h, l.h, w, nullptr, C, K, y.data());
                        if (li > 0)
                          kernels::conv_grad_x(dy, C, l.ho, l.ho, w, l.ci, K, &c.B[e * c.asz + l.x_off + size_t(k) * l.ci * l.h * l.h],
                                               work.data());
                        kernels::conv_grad_w(x, l.ci, l.h, l.h, dy, C, K, -1e-9, &c.gW[e * c.wsz + l.w_off], work.data());
                      }
                    }
                  });
                }, double(E)});
  auto im2col_gemm = [&c, E, n, C, K](bool eigen) {
    return [&c, E, n, C, K, eigen](int th) {
      per_network(E, th, [&](int e) {
        thread_local std::vector<double> cols(300000), dcols(300000), y(20000);
        for (size_t li = 0; li < c.lay.size(); ++li) {
          const auto& l = c.lay[li];
          const int kk = l.ci * K * K, q = l.ho * l.ho;
          const double* w = &c.W[e * c.wsz + l.w_off];
          double* gw = &c.gW[e * c.wsz + l.w_off];
          for (int k = 0; k < n; ++k) {
            const double* x = &c.A[e * c.asz + l.x_off + size_t(k) * l.ci * l.h * l.h];
            const double* dy = &c.dA[e * c.ysz + l.y_off + size_t(k) * C * q];
            im2col(x, l.ci, l.h, K, l.ho, cols.data());
            if (eigen) {
              CMapM Wm(w, C, kk), X(cols.data(), kk, q), dY(dy, C, q);
              MapM(y.data(), C, q).noalias() = Wm * X;
              MapM(gw, C, kk).noalias() += -1e-9 * dY * X.transpose();
              if (li > 0) MapM(dcols.data(), kk, q).noalias() = Wm.transpose() * dY;
            } else {
              cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, q, kk, 1.0, w, kk, cols.data(), q, 0.0, y.data(), q);
              cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, C, kk, q, -1e-9, dy, q, cols.data(), q, 1.0, gw, kk);
              if (li > 0)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, q, C, 1.0, w, kk, dy, q, 0.0, dcols.data(), q);
            }
            if (li > 0) col2im(dcols.data(), l.ci, l.h, K, l.ho, &c.B[e * c.asz + l.x_off + size_t(k) * l.ci * l.h * l.h]);
          }
        }
      });
    };
  };
  cs.push_back({"im2col + OpenBLAS dgemm", im2col_gemm(false), double(E)});
  cs.push_back({"im2col + Eigen 3.4", im2col_gemm(true), double(E)});
  // oneDNN (f32): per network (minibatch n), and the ensemble as one grouped convolution.
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  static engine eng(engine::kind::cpu, 0);
  struct Prims {
    std::shared_ptr<primitive> fw, bd, bw;
    memory::desc sfw, sbd, sbw;  // scratchpads (user-managed: the library's is shared by all primitives)
  };
  auto make = [&](int G, const CNN::Lay& l) {
    // G groups (networks) of C_in = l.ci -> C; activations n x (G ci) x h x h.
    memory::dims src{n, G * l.ci, l.h, l.h}, dst{n, G * C, l.ho, l.ho}, bia{G * C};
    memory::dims wei = G == 1 ? memory::dims{C, l.ci, K, K} : memory::dims{G, C, l.ci, K, K};
    const tag wt = G == 1 ? tag::oihw : tag::goihw;
    memory::desc s(src, dt::f32, tag::nchw), d(dst, dt::f32, tag::nchw), w(wei, dt::f32, wt), b(bia, dt::f32, tag::x);
    convolution_forward::desc fd(prop_kind::forward_training, algorithm::convolution_direct, s, w, b, d, {1, 1}, {0, 0}, {0, 0});
    primitive_attr at;
    at.set_scratchpad_mode(scratchpad_mode::user);
    convolution_forward::primitive_desc fpd(fd, at, eng);
    convolution_backward_data::primitive_desc bdp(
        convolution_backward_data::desc(algorithm::convolution_direct, s, w, d, {1, 1}, {0, 0}, {0, 0}), at, eng, fpd);
    convolution_backward_weights::primitive_desc bwp(
        convolution_backward_weights::desc(algorithm::convolution_direct, s, w, b, d, {1, 1}, {0, 0}, {0, 0}), at, eng, fpd);
    Prims p;
    p.fw = std::make_shared<convolution_forward>(fpd);
    p.bd = std::make_shared<convolution_backward_data>(bdp);
    p.bw = std::make_shared<convolution_backward_weights>(bwp);
    p.sfw = fpd.scratchpad_desc();
    p.sbd = bdp.scratchpad_desc();
    p.sbw = bwp.scratchpad_desc();
    return p;
  };
  std::vector<Prims> per[2], grp;  // per-network primitives: one set per thread
  for (const auto& l : c.lay) {
    per[0].push_back(make(1, l));
    per[1].push_back(make(1, l));
    grp.push_back(make(E, l));
  }
  auto exec = [&c, n, C, K](const Prims& p, const CNN::Lay& l, int G, bool first, float* W, float* gW, float* x, float* dy,
                            float* dx, float* b, float* gb) {
    memory::dims src{n, G * l.ci, l.h, l.h}, dst{n, G * C, l.ho, l.ho}, bia{G * C};
    memory::dims wei = G == 1 ? memory::dims{C, l.ci, K, K} : memory::dims{G, C, l.ci, K, K};
    const tag wt = G == 1 ? tag::oihw : tag::goihw;
    stream s(eng);
    memory ms(memory::desc(src, dt::f32, tag::nchw), eng, x), md(memory::desc(dst, dt::f32, tag::nchw), eng, dy),
        mw(memory::desc(wei, dt::f32, wt), eng, W), mgw(memory::desc(wei, dt::f32, wt), eng, gW),
        mb(memory::desc(bia, dt::f32, tag::x), eng, b), mgb(memory::desc(bia, dt::f32, tag::x), eng, gb),
        mdx(memory::desc(src, dt::f32, tag::nchw), eng, dx);
    thread_local std::vector<float> ybuf;
    ybuf.resize(size_t(n) * G * C * l.ho * l.ho);
    memory my(memory::desc(dst, dt::f32, tag::nchw), eng, ybuf.data());
    thread_local std::vector<char> pad;
    auto scratch = [&](const memory::desc& d) {
      if (pad.size() < d.get_size()) pad.resize(d.get_size());
      return memory(d, eng, pad.data());
    };
    p.fw->execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, my},
                      {DNNL_ARG_SCRATCHPAD, scratch(p.sfw)}});
    if (!first)
      p.bd->execute(s, {{DNNL_ARG_DIFF_DST, md}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DIFF_SRC, mdx},
                        {DNNL_ARG_SCRATCHPAD, scratch(p.sbd)}});
    p.bw->execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_DIFF_DST, md}, {DNNL_ARG_DIFF_WEIGHTS, mgw}, {DNNL_ARG_DIFF_BIAS, mgb},
                      {DNNL_ARG_SCRATCHPAD, scratch(p.sbw)}});
    s.wait();
  };
  cs.push_back({"oneDNN conv f32", [&c, E, per, exec](int th) {
                  per_network(E, th, [&](int e) {
                    for (size_t li = 0; li < c.lay.size(); ++li) {
                      const auto& l = c.lay[li];
                      exec(per[omp_get_thread_num()][li], l, 1, li == 0, &c.Wf[e * c.wsz + l.w_off], &c.gWf[e * c.wsz + l.w_off],
                           &c.Af[e * c.asz + l.x_off], &c.dAf[e * c.ysz + l.y_off], &c.Bf[e * c.asz + l.x_off],
                           &c.biasf[(e * CNN::L + li) * CNN::C], &c.gbf[(e * CNN::L + li) * CNN::C]);
                    }
                  });
                }, double(E)});
  // grouped: the buffers are reinterpreted as n x (E ci) x h x h etc. (same sizes; the values do
  // not matter for the timing)
  cs.push_back({"oneDNN conv f32, grouped = batched", [&c, E, grp, exec](int th) {
                  omp_set_num_threads(th);
                  for (size_t li = 0; li < c.lay.size(); ++li) {
                    const auto& l = c.lay[li];
                    exec(grp[li], l, E, li == 0, &c.Wf[l.w_off * E], &c.gWf[l.w_off * E], &c.Af[l.x_off * E],
                         &c.dAf[l.y_off * E], &c.Bf[l.x_off * E], &c.biasf[li * CNN::C * E], &c.gbf[li * CNN::C * E]);
                  }
                }, double(E)});
  return cs;
}

void report(const char* title, std::vector<Case>& cs, int rounds) {
  // rates[slot] per thread count, rounds interleaved across cases and thread counts
  std::vector<std::vector<std::vector<double>>> r(cs.size(), std::vector<std::vector<double>>(2));
  for (int round = 0; round < rounds; ++round)
    for (int ti = 0; ti < 2; ++ti)
      for (size_t i = 0; i < cs.size(); ++i) r[i][ti].push_back(time_case(cs[i], ti + 1));
  auto med = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("%s (network-passes/s, median of %d interleaved rounds; ratio to the first row)\n", title, rounds);
  std::printf("  %-36s %12s %7s %12s %7s\n", "backend", "1 thread", "ratio", "2 threads", "ratio");
  const double b1 = med(r[0][0]), b2 = med(r[0][1]);
  for (size_t i = 0; i < cs.size(); ++i) {
    const double a1 = med(r[i][0]), a2 = med(r[i][1]);
    std::printf("  %-36s %12.0f %7.2f %12.0f %7.2f\n", cs[i].name.c_str(), a1, a1 / b1, a2, a2 / b2);
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  Eigen::setNbThreads(1);
  std::printf("bench_net_libs: %d hardware threads; OpenBLAS %s; Eigen %d.%d.%d; oneDNN %d.%d.%d (no f64: its rows are f32)\n",
              omp_get_num_procs(), openblas_get_config(), EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION,
              dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch);
  const char* only = std::getenv("BENCH_ONLY");  // fc | cnn
  for (int n : {1, 16}) {
    if (only && std::string(only) != "fc") break;
    FC f(64, n);
    auto cs = fc_cases(f);
    char t[128];
    std::snprintf(t, sizeof t, "FC-6 Dense products, 5 x (100 x 100), |B| = %d, 64 networks", n);
    report(t, cs, rounds);
  }
  for (int n : {1, 16}) {
    if (only && std::string(only) != "cnn") break;
    CNN c(16, n);
    auto cs = cnn_cases(c);
    char t[128];
    std::snprintf(t, sizeof t, "CNN-6 convolutions, 6 x (10 ch, 5x5) on 28x28, |B| = %d, 16 networks", n);
    report(t, cs, rounds);
  }
  return 0;
}
