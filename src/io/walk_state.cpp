#include "soret/io/walk_state.hpp"

#include <cmath>

#include "soret/common/error.hpp"
#include "soret/io/hdf5.hpp"

namespace soret::io {

namespace {
constexpr std::size_t kCounters = 10;

std::string dataset_name(const std::string& key) {
  std::string s = key;
  for (auto& c : s)
    if (c == '/') c = '.';
  return s;
}
std::string key_name(const std::string& ds) {
  std::string s = ds;
  for (auto& c : s)
    if (c == '.') c = '/';
  return s;
}
herr_t list_names(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}
}  // namespace

void write_walk_state(const std::string& path, const WalkState& s, const std::string& options, const std::string& context,
                      const std::string& option) {
  h5::AtomicFile f(path, option);
  {
    auto g = h5::create_group(f.id(), "state");
    h5::write(g, "counters",
              std::vector<std::uint64_t>{s.t, s.t_begin, s.t_end, s.seed, s.walkers, std::uint64_t(s.dim), s.absorbed_initial,
                                         std::uint64_t(s.has_avg), s.density_avg.first, s.density_avg.second},
              {kCounters});
    std::vector<double> pos;
    pos.reserve(std::size_t(s.dim) * s.walkers);
    for (const auto& a : s.x) pos.insert(pos.end(), a.begin(), a.end());
    h5::write(g, "position", pos, {hsize_t(s.dim), hsize_t(s.walkers)}, "q", false);
    h5::write(g, "alive", s.alive, {hsize_t(s.walkers)});
    h5::write(g, "absorbed_lo", s.absorbed_lo, {hsize_t(s.absorbed_lo.size())});
    h5::write(g, "absorbed_hi", s.absorbed_hi, {hsize_t(s.absorbed_hi.size())});
    const hsize_t nm = s.moments_t.size();
    h5::write(g, "moments_t", s.moments_t, {nm});
    h5::write(g, "moments_alive", s.moments_alive, {nm});
    h5::write(g, "mean", s.mean, {nm, hsize_t(s.dim)});
    h5::write(g, "var", s.var, {nm, hsize_t(s.dim)});
    h5::write(g, "density_times", s.density_times, {hsize_t(s.density_times.size())});
    std::vector<std::uint64_t> seg;
    for (const auto& w : s.segments) { seg.push_back(w.first); seg.push_back(w.second); }
    h5::write(g, "segments", seg, {hsize_t(s.segments.size()), 2});
    h5::write(g, "seconds", std::vector<double>{s.seconds}, {1});
  }
  {
    auto g = h5::create_group(f.id(), "observers");
    for (const auto& [k, v] : s.observers) h5::write(g, dataset_name(k), v, {hsize_t(v.size())});
  }
  write_checkpoint_header(f.id(), CheckpointHeader{"walk", "", options, context, s.t});
  f.commit();
}

WalkState read_walk_state(const std::string& path, CheckpointHeader* header, const std::string& option) {
  h5::Handle f;
  const CheckpointHeader h = open_checkpoint(path, "walk", f, option);
  if (header) *header = h;
  const std::string where = "--" + option + ": '" + path + "'";
  auto bad = [&](const std::string& what) { throw InputError(option, where + ": " + what); };
  WalkState s;
  try {
    for (const char* n : {"state/counters", "state/position", "state/alive", "state/absorbed_lo", "state/absorbed_hi",
                          "state/moments_t", "state/moments_alive", "state/mean", "state/var", "state/density_times",
                          "state/segments", "state/seconds", "observers"})
      if (!h5::exists(f, n)) bad(std::string("has no /") + n);
    const auto c = h5::read_u64(f, "state/counters");
    if (c.size() != kCounters) bad("/state/counters has " + std::to_string(c.size()) + " entries");
    s.t = c[0]; s.t_begin = c[1]; s.t_end = c[2]; s.seed = c[3]; s.walkers = c[4];
    s.absorbed_initial = c[6]; s.has_avg = c[7] != 0; s.density_avg = {c[8], c[9]};
    if (c[5] < 1 || c[5] > 64) bad("dimension " + std::to_string(c[5]) + " is not in [1, 64]");
    s.dim = int(c[5]);
    if (s.t != h.t || s.t < s.t_begin || s.t > s.t_end) bad("inconsistent steps t, t_begin, t_end");
    std::vector<hsize_t> d;
    const auto pos = h5::read_doubles(f, "state/position", &d);
    if (d.size() != 2 || d[0] != hsize_t(s.dim) || d[1] != s.walkers) bad("/state/position is not dim x walkers");
    s.x.resize(s.dim);
    for (int a = 0; a < s.dim; ++a) s.x[a].assign(pos.begin() + std::size_t(a) * s.walkers, pos.begin() + std::size_t(a + 1) * s.walkers);
    s.alive = h5::read_u8(f, "state/alive");
    if (s.alive.size() != s.walkers) bad("/state/alive has not one flag per walker");
    for (std::uint64_t w = 0; w < s.walkers; ++w) {
      if (s.alive[w] > 1) bad("/state/alive holds a value other than 0 and 1");
      if (s.alive[w])
        for (int a = 0; a < s.dim; ++a)
          if (!std::isfinite(s.x[a][w])) bad("a live walker has a non-finite position");
    }
    s.absorbed_lo = h5::read_u64(f, "state/absorbed_lo");
    s.absorbed_hi = h5::read_u64(f, "state/absorbed_hi");
    if (s.absorbed_lo.size() != std::size_t(s.dim) || s.absorbed_hi.size() != std::size_t(s.dim)) bad("absorbed counts are not per axis");
    s.moments_t = h5::read_u64(f, "state/moments_t");
    s.moments_alive = h5::read_u64(f, "state/moments_alive");
    s.mean = h5::read_doubles(f, "state/mean");
    s.var = h5::read_doubles(f, "state/var");
    const std::size_t nm = s.moments_t.size();
    if (s.moments_alive.size() != nm || s.mean.size() != nm * s.dim || s.var.size() != nm * s.dim) bad("moment records of unequal lengths");
    s.density_times = h5::read_u64(f, "state/density_times");
    const auto seg = h5::read_u64(f, "state/segments", &d);
    if (seg.size() % 2) bad("/state/segments is not n x 2");
    for (std::size_t i = 0; i + 1 < seg.size(); i += 2) s.segments.emplace_back(seg[i], seg[i + 1]);
    const auto sec = h5::read_doubles(f, "state/seconds");
    s.seconds = sec.empty() ? 0.0 : sec[0];
    auto g = h5::open_group(f, "observers");
    std::vector<std::string> names;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, nullptr, list_names, &names);
    for (const auto& n : names) s.observers[key_name(n)] = h5::read_i64(g, n);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    bad(std::string("cannot be read: ") + e.what());
  }
  return s;
}

}  // namespace soret::io
