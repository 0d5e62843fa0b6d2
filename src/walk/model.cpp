#include "soret/walk/model.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "soret/common/error.hpp"

namespace soret {

std::vector<int> WalkModel::group_of() const {
  std::vector<int> g(dim, -1);
  for (size_t k = 0; k < groups.size(); ++k)
    for (int a : groups[k]) g[a] = static_cast<int>(k);
  return g;
}

bool WalkModel::any_boundary(Boundary b) const {
  return std::any_of(axes.begin(), axes.end(), [b](const AxisSpec& a) { return a.boundary == b; });
}

void WalkModel::validate() const {
  if (dim < 1) throw InputError("dim", "--dim must be >= 1 (got " + std::to_string(dim) + ")");
  if (!(eta > 0.0) || !std::isfinite(eta)) throw InputError("eta", "--eta must be a finite number > 0");
  if (static_cast<int>(g.size()) != dim)
    throw InputError("g", "--g must be given once per axis (or once for all): got " + std::to_string(g.size()) +
                              " for --dim " + std::to_string(dim));
  if (!drift.empty() && static_cast<int>(drift.size()) != dim)
    throw InputError("drift", "--drift must be given once per axis (or once for all)");
  if (static_cast<int>(axes.size()) != dim)
    throw InputError("domain", "--domain/--boundary must be given once per axis (or once for all)");
  for (const auto& a : axes) {
    if (!(std::isfinite(a.lo) && std::isfinite(a.hi) && std::isfinite(a.hi - a.lo)) || !(a.lo < a.hi))
      throw InputError("domain", "--domain needs finite LO < HI with a finite length HI - LO");
  }
  if (!(alpha >= 0.0 && alpha <= 1.0)) throw InputError("convention", "--convention must lie in [0, 1]");
  std::vector<int> seen(dim, 0);
  for (const auto& grp : groups)
    for (int a : grp) {
      if (a < 0 || a >= dim) throw InputError("sign-groups", "--sign-groups: axis " + std::to_string(a) + " out of range");
      ++seen[a];
    }
  for (int a = 0; a < dim; ++a)
    if (seen[a] != 1) throw InputError("sign-groups", "--sign-groups: axis " + std::to_string(a) + " must be in exactly one group");
}

WalkModel walk_1d(const std::string& g, double eta, Boundary b, double lo, double hi) {
  WalkModel m;
  m.dim = 1;
  m.eta = eta;
  m.g = {g};
  m.groups = {{0}};
  m.axes = {AxisSpec{lo, hi, b}};
  return m;
}

std::string to_string(Noise n) {
  switch (n) {
    case Noise::rademacher: return "rademacher";
    case Noise::gaussian: return "gaussian";
    default: return "uniform";
  }
}

std::string to_string(Boundary b) {
  switch (b) {
    case Boundary::periodic: return "periodic";
    case Boundary::reflecting: return "reflecting";
    case Boundary::absorbing: return "absorbing";
    default: return "free";
  }
}

Noise parse_noise(const std::string& s) {
  if (s == "rademacher") return Noise::rademacher;
  if (s == "gaussian") return Noise::gaussian;
  if (s == "uniform") return Noise::uniform;
  throw InputError("noise", "--noise must be rademacher, gaussian or uniform (got '" + s + "')");
}

Boundary parse_boundary(const std::string& s) {
  if (s == "periodic") return Boundary::periodic;
  if (s == "reflecting") return Boundary::reflecting;
  if (s == "absorbing") return Boundary::absorbing;
  if (s == "free") return Boundary::free;
  throw InputError("boundary", "--boundary must be periodic, reflecting, absorbing or free (got '" + s + "')");
}


AxisSpec parse_domain(const std::string& s) {
  const auto parts = split(s, ':');
  if (parts.size() != 2) throw InputError("domain", "--domain must be LO:HI (got '" + s + "')");
  AxisSpec a;
  a.lo = parse_double(parts[0], "domain");
  a.hi = parse_double(parts[1], "domain");
  if (!(a.lo < a.hi)) throw InputError("domain", "--domain needs LO < HI (got '" + s + "')");
  if (!std::isfinite(a.lo) || !std::isfinite(a.hi) || !std::isfinite(a.hi - a.lo))
    throw InputError("domain", "--domain needs finite LO, HI and HI - LO (got '" + s + "')");
  return a;
}

std::vector<std::vector<int>> parse_sign_groups(const std::string& s, int dim) {
  std::vector<std::vector<int>> groups;
  if (s.empty()) {
    for (int a = 0; a < dim; ++a) groups.push_back({a});
    return groups;
  }
  for (const auto& grp : split(s, ';')) {
    std::vector<int> g;
    for (const auto& tok : split(grp, ',')) {
      if (tok.empty()) throw InputError("sign-groups", "--sign-groups: empty axis in '" + s + "'");
      g.push_back(static_cast<int>(parse_int(tok, "sign-groups")));
    }
    if (g.empty()) throw InputError("sign-groups", "--sign-groups: empty group in '" + s + "'");
    groups.push_back(g);
  }
  // Axes not named form groups of their own.
  std::vector<int> seen(dim, 0);
  for (const auto& g : groups)
    for (int a : g)
      if (a >= 0 && a < dim) ++seen[a];
  for (int a = 0; a < dim; ++a)
    if (!seen[a]) groups.push_back({a});
  return groups;
}

std::string format_sign_groups(const std::vector<std::vector<int>>& groups) {
  std::string out;
  for (size_t k = 0; k < groups.size(); ++k) {
    if (k) out += ';';
    for (size_t j = 0; j < groups[k].size(); ++j) out += (j ? "," : "") + std::to_string(groups[k][j]);
  }
  return out;
}

}  // namespace soret
