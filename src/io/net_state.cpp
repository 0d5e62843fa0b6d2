#include "soret/io/net_state.hpp"

#include <cmath>
#include <cstdio>

#include "soret/common/error.hpp"
#include "soret/io/hdf5.hpp"

namespace soret::io {

namespace {

std::string run_group(std::size_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "%03zu", i);
  return b;
}

std::vector<std::uint8_t> bytes(const std::string& s) { return std::vector<std::uint8_t>(s.begin(), s.end()); }
std::string text(const std::vector<std::uint8_t>& v) { return std::string(v.begin(), v.end()); }

std::vector<std::string> split_on(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) { out.push_back(cur); cur.clear(); }
    else cur += c;
  }
  out.push_back(cur);
  return out;
}

constexpr char kField = '\x1f', kLabel = '\x1e', kLine = '\n';

}  // namespace

void write_net_state(const std::string& path, const net::NetState& s, const std::string& options, const std::string& context,
                     const std::string& option) {
  const bool generic = s.backend == "generic";
  h5::AtomicFile f(path, option);
  {
    auto g = h5::create_group(f.id(), "state");
    h5::write(g, "counters", std::vector<std::uint64_t>{generic ? 1u : 0u, std::uint64_t(s.size())}, {2});
  }
  auto runs = h5::create_group(f.id(), "runs");
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto g = h5::create_group(runs, run_group(i));
    const net::RunSpec& spec = generic ? s.deep[i].spec : s.runs[i].spec;
    const std::uint64_t t_reached = generic ? s.deep[i].t_reached : s.runs[i].t_reached;
    const auto& t = generic ? s.deep[i].t : s.runs[i].t;
    const auto& div = generic ? s.deep[i].diverged_at : s.runs[i].diverged_at;
    const bool complete = generic ? s.deep[i].complete : s.runs[i].complete;
    const hsize_t E = div.size(), R = t.size();
    h5::write(g, "counters", std::vector<std::uint64_t>{t_reached, R, E, std::uint64_t(complete)}, {4});
    h5::write(g, "spec", std::vector<double>{spec.eta}, {1});
    h5::write(g, "spec_int", std::vector<std::int64_t>{spec.batch, std::int64_t(spec.mode), spec.full_batch}, {3});
    h5::write(g, "name", bytes(spec.name), {spec.name.size()});
    h5::write(g, "seconds", std::vector<double>{generic ? s.deep[i].seconds : s.runs[i].seconds,
                                                generic ? s.deep[i].record_seconds : 0.0}, {2});
    h5::write(g, "t", t, {R});
    h5::write(g, "diverged_at", div, {E});
    auto cg = h5::create_group(g, "columns");
    if (generic) {
      const net::DeepRun& r = s.deep[i];
      std::string info;
      int k = 0;
      for (const auto& c : r.rec.columns()) {
        std::string labels;
        for (std::size_t j = 0; j < c.labels.size(); ++j) labels += (j ? std::string(1, kLabel) : "") + c.labels[j];
        info += c.name + kField + c.unit + kField + c.description + kField + labels + kLine;
        h5::write(cg, run_group(std::size_t(k++)), c.v, {R, E, hsize_t(c.width())});
      }
      h5::write(g, "column_info", bytes(info), {info.size()});
      h5::write(g, "final_params", r.final_params, {E, E ? hsize_t(r.final_params.size() / E) : 0});
    } else {
      net::RunResult r = s.runs[i];  // (columns() hands out pointers into the copy)
      for (const auto& [name, v] : r.columns())
        if (!v->empty()) h5::write(cg, name, *v, {R, E});
      auto w2 = [&](const char* name, const std::vector<double>& v) {
        h5::write(g, name, v, {E, E ? hsize_t(v.size() / E) : 0});
      };
      w2("final_W", r.final_W);
      w2("final_b", r.final_b);
      w2("final_V", r.final_V);
      w2("final_params", r.final_params);
      h5::write(g, "density_t", r.density_t, {r.density_t.size()});
      h5::write(g, "density", r.density, {r.density.size()});
      for (const auto& [name, v] : {std::pair{"cross_v_plus", &r.cross_v_plus}, std::pair{"cross_v_minus", &r.cross_v_minus},
                                    std::pair{"cross_b_plus", &r.cross_b_plus}, std::pair{"cross_b_minus", &r.cross_b_minus}})
        h5::write(g, name, *v, {v->size()});
    }
  }
  write_checkpoint_header(f.id(), CheckpointHeader{"net", "", options, context, s.t()});
  f.commit();
}

net::NetState read_net_state(const std::string& path, CheckpointHeader* header, const std::string& option) {
  h5::Handle f;
  const CheckpointHeader h = open_checkpoint(path, "net", f, option);
  if (header) *header = h;
  const std::string where = "--" + option + ": '" + path + "'";
  auto bad = [&](const std::string& what) { throw InputError(option, where + ": " + what); };
  net::NetState s;
  try {
    for (const char* n : {"state/counters", "runs"})
      if (!h5::exists(f, n)) bad(std::string("has no /") + n);
    const auto c = h5::read_u64(f, "state/counters");
    if (c.size() != 2 || c[0] > 1) bad("/state/counters is not [backend, runs]");
    if (c[1] > 100000) bad("/state/counters: " + std::to_string(c[1]) + " runs");
    s.backend = c[0] == 1 ? "generic" : "twolayer";
    const bool generic = c[0] == 1;
    auto runs = h5::open_group(f, "runs");
    for (std::size_t i = 0; i < c[1]; ++i) {
      const std::string gname = run_group(i), at = "run " + gname + ": ";
      if (!h5::exists(runs, gname)) bad("has no /runs/" + gname);
      auto g = h5::open_group(runs, gname);
      for (const char* n : {"counters", "spec", "spec_int", "name", "seconds", "t", "diverged_at", "columns", "final_params"})
        if (!h5::exists(g, n)) bad(at + "has no " + n);
      const auto rc = h5::read_u64(g, "counters");
      if (rc.size() != 4 || rc[3] > 1) bad(at + "counters are not [t, records, networks, complete]");
      const std::uint64_t t_reached = rc[0], R = rc[1], E = rc[2];
      if (E < 1 || E > 100000000) bad(at + "has " + std::to_string(E) + " networks");
      net::RunSpec spec;
      const auto sf = h5::read_doubles(g, "spec");
      const auto si = h5::read_i64(g, "spec_int");
      if (sf.size() != 1 || !(sf[0] > 0) || !std::isfinite(sf[0])) bad(at + "eta is not finite and > 0");
      if (si.size() != 3 || si[0] < 1 || si[1] < 0 || si[1] > 2 || si[2] < 1) bad(at + "batch, mode or full batch out of range");
      spec.eta = sf[0];
      spec.batch = int(si[0]);
      spec.mode = net::Mode(si[1]);
      spec.full_batch = int(si[2]);
      spec.name = text(h5::read_u8(g, "name"));
      const auto sec = h5::read_doubles(g, "seconds");
      if (sec.size() != 2) bad(at + "seconds is not [seconds, record_seconds]");
      const auto t = h5::read_u64(g, "t");
      if (t.size() != R) bad(at + "has not one record step per record");
      for (std::size_t r = 0; r < R; ++r)
        if ((r > 0 && t[r] <= t[r - 1]) || t[r] > t_reached) bad(at + "record steps are not increasing up to t");
      const auto div = h5::read_i64(g, "diverged_at");
      if (div.size() != E) bad(at + "diverged_at has not one entry per network");
      for (auto d : div)
        if (d < -1 || d > std::int64_t(t_reached)) bad(at + "a divergence step is outside [0, t]");
      auto cg = h5::open_group(g, "columns");
      std::vector<hsize_t> d;
      if (generic) {
        net::DeepRun r;
        r.spec = spec;
        r.t_reached = t_reached;
        r.complete = rc[3] != 0;
        r.seconds = sec[0];
        r.record_seconds = sec[1];
        r.t = t;
        r.diverged_at = div;
        r.rec = net::Recorder(R, E);
        if (!h5::exists(g, "column_info")) bad(at + "has no column_info");
        auto lines = split_on(text(h5::read_u8(g, "column_info")), kLine);
        if (lines.empty() || !lines.back().empty()) bad(at + "column_info is not one line per column");
        lines.pop_back();
        for (std::size_t k = 0; k < lines.size(); ++k) {
          const auto fl = split_on(lines[k], kField);
          if (fl.size() != 4) bad(at + "column_info line " + std::to_string(k) + " is not name, unit, description, labels");
          std::vector<std::string> labels;
          if (!fl[3].empty()) labels = split_on(fl[3], kLabel);
          const int ci = r.rec.add(fl[0], labels, fl[1], fl[2]);
          auto v = h5::read_doubles(cg, run_group(k), &d);
          const std::size_t w = labels.empty() ? 1 : labels.size();
          if (d.size() != 3 || d[0] != R || d[1] != E || d[2] != w) bad(at + "column " + fl[0] + " is not records x networks x width");
          r.rec.set_values(ci, std::move(v));
        }
        r.final_params = h5::read_doubles(g, "final_params", &d);
        if (d.size() != 2 || d[0] != E) bad(at + "final_params is not networks x params");
        const std::size_t P = d[1];
        for (std::size_t e = 0; e < E; ++e)
          if (div[e] < 0)
            for (std::size_t q = 0; q < P; ++q)
              if (!std::isfinite(r.final_params[e * P + q])) bad(at + "a network that has not diverged has a non-finite parameter");
        s.deep.push_back(std::move(r));
      } else {
        net::RunResult r;
        r.spec = spec;
        r.t_reached = t_reached;
        r.complete = rc[3] != 0;
        r.seconds = sec[0];
        r.t = t;
        r.diverged_at = div;
        for (const auto& [name, v] : r.columns()) {
          if (!h5::exists(cg, name)) continue;
          *v = h5::read_doubles(cg, name, &d);
          if (d.size() != 2 || d[0] != R || d[1] != E) bad(at + "column " + name + " is not records x networks");
        }
        if (r.v_norm.size() != R * E) bad(at + "has no column v_norm");
        for (const auto& [name, v] : {std::pair{"final_W", &r.final_W}, std::pair{"final_b", &r.final_b},
                                      std::pair{"final_V", &r.final_V}, std::pair{"final_params", &r.final_params}}) {
          if (!h5::exists(g, name)) bad(at + "has no " + name);
          *v = h5::read_doubles(g, name, &d);
          if (d.size() != 2 || d[0] != E) bad(at + std::string(name) + " is not networks x values");
        }
        if (r.final_b.size() != r.final_V.size() || r.final_W.size() % std::max<std::size_t>(1, r.final_V.size()) != 0)
          bad(at + "final_W, final_b and final_V do not fit one architecture");
        for (std::size_t e = 0; e < E; ++e)
          if (div[e] < 0)
            for (const auto* v : {&r.final_W, &r.final_b, &r.final_V})
              for (std::size_t q = e * (v->size() / E); q < (e + 1) * (v->size() / E); ++q)
                if (!std::isfinite((*v)[q])) bad(at + "a network that has not diverged has a non-finite parameter");
        for (const char* n : {"density_t", "density", "cross_v_plus", "cross_v_minus", "cross_b_plus", "cross_b_minus"})
          if (!h5::exists(g, n)) bad(at + "has no " + n);
        r.density_t = h5::read_u64(g, "density_t");
        r.density = h5::read_u64(g, "density");
        r.cross_v_plus = h5::read_u64(g, "cross_v_plus");
        r.cross_v_minus = h5::read_u64(g, "cross_v_minus");
        r.cross_b_plus = h5::read_u64(g, "cross_b_plus");
        r.cross_b_minus = h5::read_u64(g, "cross_b_minus");
        if (!r.density_t.empty() && r.density.size() % r.density_t.size() != 0) bad(at + "density is not snapshots x cells");
        if (r.cross_v_plus.size() != r.cross_v_minus.size() || r.cross_b_plus.size() != r.cross_b_minus.size() ||
            (R == 0 ? !r.cross_v_plus.empty() : r.cross_v_plus.size() % R != 0 || r.cross_b_plus.size() % R != 0))
          bad(at + "crossings are not records x faces");
        s.runs.push_back(std::move(r));
      }
    }
    if (s.t() != h.t) bad("the header's step differs from the state's");
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    bad(std::string("cannot be read: ") + e.what());
  }
  return s;
}

}  // namespace soret::io

namespace soret::net {

std::uint64_t NetState::t() const {
  if (backend == "generic") return deep.empty() ? 0 : deep.back().t_reached;
  return runs.empty() ? 0 : runs.back().t_reached;
}

}  // namespace soret::net
