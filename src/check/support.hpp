#pragma once
// Shared machinery of the check scenarios: replicas, rows, fits.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "soret/check/check.hpp"
#include "soret/walk/integrator.hpp"

namespace soret::check {

/// Mean and standard error over replicas of a vector measurement.
struct Replicas {
  std::vector<std::vector<double>> samples;
  void add(std::vector<double> v) { samples.push_back(std::move(v)); }
  std::vector<double> mean() const;
  std::vector<double> se() const;
};

/// Seed of replica r of scenario s (a counter-based function of the base seed).
std::uint64_t replica_seed(std::uint64_t base, int scenario, int r);

/// One run of the engine (no progress line). Under MPI ranks with split_walkers the walkers are
/// split over the ranks and every rank receives the reduced result (a collective call); without,
/// this rank runs them all.
WalkResults run_walk(const WalkModel& m, const ObserverPlan& p, const std::string& init, std::uint64_t walkers,
                     std::uint64_t steps, std::uint64_t seed, int threads, bool split_walkers = true);

WalkModel model_1d(const std::string& g, double eta, Boundary b, double lo = 0.0, double hi = 1.0);
ObserverPlan plan_axis(int axis, const Lattice& l);

/// Appends a gating row (simulator vs controlled theory): pass when |z| < 5.
void gate(std::vector<Row>& rows, const std::string& scn, const std::string& qty, const std::string& eq, double meas,
          double se, const std::string& pred_name, double pred, const std::string& note = "");
/// Appends a paper row: confirmed when |z| < 5, refuted otherwise.
void paper(std::vector<Row>& rows, const std::string& scn, const std::string& qty, const std::string& eq, double meas,
           double se, const std::string& pred_name, double pred, const std::string& note = "");
/// Appends a row comparing a measured profile with a predicted one by Hotelling's T^2 test on K
/// projections (the K/2 lowest Fourier modes of the standardised deviation over the profile's
/// index), with the K x K covariance estimated from the replicas. Unlike a diagonal chi-square it
/// is valid when the points of a profile are correlated (multi-face jumps; slow modes of a
/// time-averaged density). Under the prediction (R-K)/(K(R-1)) T^2 ~ F(K, R-K); the row's z is the
/// normal quantile of the upper tail probability (z > 5: p < 3e-7).
void profile_row(std::vector<Row>& rows, bool gating, const std::string& scn, const std::string& qty,
                 const std::string& eq, const Replicas& meas, const std::vector<double>& pred,
                 const std::string& pred_name, const std::vector<int>& use, const std::string& note = "", int K = 6);

/// Weighted least-squares line y = a + b x; returns (b, se_b).
std::pair<double, double> fit_slope(const std::vector<double>& x, const std::vector<double>& y,
                                    const std::vector<double>& sy);

/// Minimises chi2(nu) of p_meas against the normalised bin law shape(nu) by golden section on
/// [lo, hi]; returns (nu, se) with se from chi2(nu +- se) = chi2_min + 1 (parabolic estimate).
std::pair<double, double> fit_exponent(const std::function<std::vector<double>(double)>& shape,
                                       const std::vector<double>& p, const std::vector<double>& se,
                                       const std::vector<int>& use, double lo, double hi);

}  // namespace soret::check
