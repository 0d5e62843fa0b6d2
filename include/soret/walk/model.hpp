#pragma once
// The model: what a walker is and how its update rule is specified.
//
//   q_i <- q_i - eta * g_i(q~) * zeta_{G(i)} + a_i(q)            (Eq. 4 in the reduced form of Eq. 8)
//
// g_i >= 0 is the step-size profile of axis i (eta g_i is the standard deviation of the step),
// zeta is a unit-variance symmetric noise shared by the coordinates of one sign group G (the
// paper's subset U), q~ = q + alpha (q' - q) is where g is evaluated (alpha = 0: Ito, the
// paper's update; 1/2: Stratonovich; 1: anti-Ito; by one predictor-corrector stage), and a_i is an
// optional deterministic drift per step, evaluated at the start point. Units: q is in the units
// of the domain; eta and g are dimensionless factors whose product is a length per step.
#include <string>
#include <vector>

#include "soret/common/parse.hpp"

namespace soret {

enum class Noise { rademacher, gaussian, uniform };
enum class Boundary { periodic, reflecting, absorbing, free };

struct AxisSpec {
  double lo = 0.0, hi = 1.0;  ///< domain [lo, hi); for `free` the histogram range only
  Boundary boundary = Boundary::periodic;
};

struct WalkModel {
  int dim = 1;
  double eta = 0.01;
  std::vector<std::string> g;       ///< one muParser expression per axis
  std::vector<std::string> drift;   ///< empty, or one expression per axis (displacement per step)
  Noise noise = Noise::rademacher;
  std::vector<std::vector<int>> groups;  ///< sign groups; every axis in exactly one
  double alpha = 0.0;
  std::vector<AxisSpec> axes;

  /// Group index of each axis.
  std::vector<int> group_of() const;
  bool has_drift() const { return !drift.empty(); }
  bool any_boundary(Boundary b) const;
  /// Throws InputError naming the option on any inconsistency.
  void validate() const;
};

/// A one-dimensional walk with profile g on [lo, hi) (Rademacher noise, Ito, no drift).
WalkModel walk_1d(const std::string& g, double eta, Boundary b, double lo = 0.0, double hi = 1.0);

std::string to_string(Noise n);
std::string to_string(Boundary b);
Noise parse_noise(const std::string& s);            // option "noise"
Boundary parse_boundary(const std::string& s);      // option "boundary"
/// "LO:HI" -> (lo, hi); option "domain".
AxisSpec parse_domain(const std::string& s);
/// "0,1;2" -> {{0,1},{2}}; "" -> each axis alone. Option "sign-groups".
std::vector<std::vector<int>> parse_sign_groups(const std::string& s, int dim);
std::string format_sign_groups(const std::vector<std::vector<int>>& groups);

}  // namespace soret
