#pragma once
// Initial conditions of a walker ensemble (--init):
//   uniform              uniform in the domain (every axis)
//   point:X[,Y,...]      all walkers at one point (one value, or one per axis)
//   gaussian:MU,SIGMA    independent N(MU, SIGMA^2) on every axis
//   density:EXPR         density proportional to EXPR on the domain, sampled exactly by rejection
//                        (uniform proposals; the envelope is 1.25 x the maximum found on a fine grid,
//                        and sampling fails loudly if any proposal exceeds it)
//   file:PATH            the final positions stored in an earlier soret output file
// After sampling the boundary acts once on every position (periodic wraps, reflecting folds,
// absorbing removes walkers outside [lo, hi)). Walker w draws from stream walk_init, counter
// (w, k), so the result does not depend on threads.
#include <cstdint>
#include <string>
#include <vector>

#include "soret/walk/model.hpp"

namespace soret {

struct InitSpec {
  enum class Kind { uniform, point, gaussian, density, file } kind = Kind::uniform;
  std::vector<double> point;
  double mu = 0.0, sigma = 1.0;
  std::string expr, path;
  std::string text;  ///< as given

  static InitSpec parse(const std::string& s, int dim);  // option "init"
};

/// Final positions and live flags read from an earlier output file (walkers x dim).
struct StoredEnsemble {
  int dim = 0;
  std::uint64_t walkers = 0;
  std::uint64_t t = 0;         ///< absolute step of the stored positions (/final/t; 0 if absent)
  bool has_seed = false;       ///< /parameters/seed was stored
  std::uint64_t seed = 0;
  std::vector<double> pos;
  std::vector<std::uint8_t> alive;
};

/// Throws InputError("init", ...) unless a stored ensemble fits the run: dimension, positions
/// walkers x dim, one alive flag (0 or 1) per walker, live walkers at finite positions inside the
/// domain (any finite position on a free axis).
void validate_stored_ensemble(const StoredEnsemble& s, const WalkModel& m);

/// Fills x[axis][w] and alive[w] for w < n: the walkers of global ids first .. first + n - 1.
/// For Kind::file, `stored` supplies the positions (stored walker first + w).
void sample_initial(const WalkModel& m, const InitSpec& spec, std::uint64_t seed, std::uint64_t n,
                    std::vector<std::vector<double>>& x, std::vector<std::uint8_t>& alive,
                    const StoredEnsemble* stored, int threads, std::uint64_t first = 0);

}  // namespace soret
