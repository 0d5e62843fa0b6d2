#include "soret/io/net_output.hpp"

#include <algorithm>
#include <utility>
#include <variant>

#include "soret/io/hdf5.hpp"
#include "soret/version.hpp"

namespace soret {

void write_columns(hid_t g, const net::Recorder& rec) {
  const hsize_t R = rec.records(), E = rec.networks();
  for (const auto& c : rec.columns()) {
    if (c.labels.empty()) h5::write(g, c.name, c.v, {R, E}, c.unit);
    else h5::write(g, c.name, c.v, {R, E, hsize_t(c.labels.size())}, c.unit);
  }
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ";") + x;
  return s;
}

}  // namespace

void write_deep_sweep(const std::string& path, const net::DeepSweep& s, const net::DeepSweepOutput& o,
                      const std::vector<Parameter>& params, const std::function<void(hid_t)>& extra) {
  h5::AtomicFile file(path);
  write_h5md_header(file.id(), "net");
  {
    auto g = h5::create_group(file.id(), "parameters");
    for (const auto& p : params) std::visit([&](const auto& v) { h5::attr(g, p.name, v); }, p.value);
    h5::attr(g, "program_version", std::string(soret::version));
    h5::attr(g, "architecture", s.arch->text);
    h5::attr(g, "dataset", s.train->describe());
    h5::attr(g, "eval_dataset", s.eval->describe());
    h5::attr(g, "dataset_checksums", s.train->checksums() + (s.eval != s.train && !s.eval->checksums().empty()
                                                                  ? ";" + s.eval->checksums() : ""));
  }
  const auto& a = *s.arch;
  {
    auto g = h5::create_group(file.id(), "architecture");
    std::vector<std::string> names, kinds;
    std::vector<std::int64_t> off, size;
    for (const auto& b : a.blocks) {
      names.push_back(b.name);
      off.push_back(std::int64_t(b.offset));
      size.push_back(std::int64_t(b.size));
    }
    h5::attr(g, "description", a.text);
    h5::attr(g, "blocks", join(names));
    h5::write(g, "block_offset", off, {off.size()}, "1");
    h5::write(g, "block_size", size, {size.size()}, "1");
    h5::describe(g, "block_offset", "1", "offset of each named block in a network's parameter buffer");
    h5::describe(g, "block_size", "1", "number of parameters of each named block");
    h5::attr(g, "params", std::int64_t(a.params()));
  }
  std::vector<std::string> lnames, hnames;
  for (int l : a.param_layers()) lnames.push_back(a.layers[l].name);
  for (int l : a.relu_layers()) hnames.push_back(a.layers[l - 1].name);
  auto runs = h5::create_group(file.id(), "runs");
  for (const auto& r : o.runs) {
    auto g = h5::create_group(runs, r.spec.name);
    const hsize_t E = r.diverged_at.size();
    h5::attr(g, "eta", r.spec.eta);
    h5::attr(g, "batch", std::int64_t(r.spec.batch));
    h5::attr(g, "mode", std::string("sgd"));
    h5::attr(g, "seconds", r.seconds);
    h5::attr(g, "record_seconds", r.record_seconds);
    h5::attr(g, "layers", join(lnames));
    h5::attr(g, "hidden_layers", join(hnames));
    h5::write(g, "step", r.t, {r.t.size()}, "steps");
    write_columns(g, r.rec);
    h5::write(g, "diverged_at", std::vector<std::int64_t>(r.diverged_at), {E}, "steps");
    h5::write(g, "final_params", r.final_params, {E, hsize_t(a.params())}, "1");
    // Self-description: every dataset's unit and description; records, networks and layers as
    // HDF5 dimension scales (index datasets; the layer names in their `names` attribute).
    h5::describe(g, "step", "steps", "record steps (the first at step 0, before any update)");
    h5::make_scale(g, "step", "step");
    h5::index_scale(g, "network", E, "network index (the same initial network in every run of the sweep)");
    for (const auto& [name, labels] : {std::pair{"layer", &lnames}, std::pair{"hidden_layer", &hnames}}) {
      if (labels->empty()) continue;
      std::vector<std::int64_t> li(labels->size());
      for (size_t i = 0; i < li.size(); ++i) li[i] = std::int64_t(i);
      h5::write(g, name, li, {li.size()}, "1");
      h5::describe(g, name, "1", std::string(name) == "layer" ? "parameter layer index (names: attribute names)"
                                                              : "hidden (ReLU) layer index (names: attribute names)");
      {
        auto d = h5::Handle(H5Dopen2(g.id(), name, H5P_DEFAULT), H5Dclose);
        h5::attr(d.id(), "names", join(*labels));
      }
      h5::make_scale(g, name, name);
    }
    for (const auto& c : r.rec.columns()) {
      h5::describe(g, c.name, c.unit, c.description);
      h5::attach_scale(g, c.name, 0, "step");
      h5::attach_scale(g, c.name, 1, "network");
      if (!c.labels.empty()) h5::attach_scale(g, c.name, 2, c.labels == lnames ? "layer" : "hidden_layer");
    }
    h5::describe(g, "diverged_at", "steps", "step of divergence (non-finite loss or |parameter| > 1e6) or -1");
    h5::attach_scale(g, "diverged_at", 0, "network");
    h5::describe(g, "final_params", "1", "final parameter buffers (layout: /architecture); NaN for diverged networks");
    h5::attach_scale(g, "final_params", 0, "network");
  }
  auto sc = h5::create_group(file.id(), "scaling");
  h5::attr(sc, "description", std::string("collapse: tau = t * eta^k or t / B^k; metric = spread between ensemble-mean "
                                          "curves at equal tau in units of their SE^2; best k with a bootstrap 95% "
                                          "interval over networks; at_edge = 1: no collapse in the range searched"));
  auto cg = h5::create_group(sc, "collapse");
  for (const auto& c : o.collapses) {
    std::string name = c.quantity + "_vs_" + c.variable;
    for (auto& ch : name)
      if (ch == ':') ch = '.';
    auto g = h5::create_group(cg, name);
    h5::write(g, "k", c.k, {c.k.size()}, "1");
    h5::write(g, "metric", c.metric, {c.metric.size()}, "1");
    h5::describe(g, "k", "1", "exponent grid: tau = t eta^k (vs eta) or t / |B|^k (vs batch)");
    h5::describe(g, "metric", "1", "spread between the ensemble-mean curves at equal tau, in units of their SE^2");
    h5::make_scale(g, "k", "k");
    h5::attach_scale(g, "metric", 0, "k");
    h5::attr(g, "best", c.best);
    h5::attr(g, "ci_lo", c.ci_lo);
    h5::attr(g, "ci_hi", c.ci_hi);
    h5::attr(g, "at_edge", std::int64_t(c.at_edge));
    h5::attr(g, "bootstrap", std::int64_t(c.bootstrap));
    h5::attr(g, "variable", c.variable);
  }
  // Early-time rates of the gradient variance and their power laws.
  auto dotted = [](std::string n) {
    for (auto& ch : n)
      if (ch == ':') ch = '.';
    return n;
  };
  auto eg = h5::create_group(sc, "early");
  h5::attr(eg, "t_end", std::int64_t(s.early_window()));
  std::vector<std::string> qnames;
  for (const auto& r : o.rates)
    if (std::find(qnames.begin(), qnames.end(), r.quantity) == qnames.end()) qnames.push_back(r.quantity);
  for (const auto& q : qnames) {
    std::vector<double> eta, rate, se;
    std::vector<std::int64_t> batch;
    std::vector<std::string> names;
    for (const auto& r : o.rates)
      if (r.quantity == q) {
        eta.push_back(r.eta);
        batch.push_back(r.batch);
        rate.push_back(r.rate);
        se.push_back(r.se);
        names.push_back(r.run);
      }
    auto g = h5::create_group(eg, dotted(q));
    h5::write(g, "eta", eta, {eta.size()});
    h5::write(g, "batch", batch, {batch.size()});
    h5::write(g, "rate", rate, {rate.size()}, "per step");
    h5::write(g, "se", se, {se.size()}, "per step");
    h5::describe(g, "eta", "1", "learning rate of each run (one entry per run, the runs listed in the attribute 'runs')");
    h5::describe(g, "batch", "1", "mini-batch size |B| of each run");
    h5::describe(g, "rate", "per step", "early-time rate: mean over networks of the slope at t = 0 of a least-squares "
                                        "quadratic in t over t <= /scaling/early.t_end");
    h5::describe(g, "se", "per step", "standard error of the rate over networks");
    h5::attr(g, "runs", join(names));
  }
  auto pg = h5::create_group(sc, "power");
  for (const auto& p : o.fits) {
    auto g = h5::create_group(pg, dotted(p.quantity) + "_vs_" + p.variable);
    h5::attr(g, "slope", p.slope);
    h5::attr(g, "se", p.se);
    h5::attr(g, "ci95_lo", p.slope - 1.96 * p.se);
    h5::attr(g, "ci95_hi", p.slope + 1.96 * p.se);
    h5::attr(g, "points", std::int64_t(p.points));
    h5::attr(g, "unresolved", std::int64_t(p.unresolved()));
  }
  if (extra) extra(file.id());
  file.commit();
}

}  // namespace soret
