#pragma once
// Boundary conditions of one axis: what happens to a position that leaves [lo, hi), and how a
// face index on the unfolded line maps to a face of the domain (for exact flux counting).
//
//   periodic   : x -> x - L floor((x-lo)/L); face k -> k mod B (face B is face 0)
//   reflecting : the overshoot is mirrored (x < lo -> 2 lo - x, x > hi -> 2 hi - x, repeated);
//                virtual face k -> face m = k mod 2B if m <= B, else face 2B - m with the direction
//                reversed; the walls (faces 0 and B) are never crossed
//   absorbing  : a walker leaving [lo, hi) is removed (counted at the side it left)
//   free       : nothing happens; the histogram grid only covers [lo, hi)
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "soret/walk/grid.hpp"
#include "soret/walk/model.hpp"

namespace soret {

/// Position map used for evaluation points (the predictor of alpha > 0): periodic wraps,
/// reflecting folds, absorbing and free leave x alone.
inline double fold_position(Boundary b, double lo, double hi, double x) {
  const double L = hi - lo;
  if (b == Boundary::periodic) {
    double y = x - L * std::floor((x - lo) / L);
    return (y >= hi) ? lo : y;
  }
  if (b == Boundary::reflecting) {
    double m = std::fmod(x - lo, 2 * L);
    if (m < 0) m += 2 * L;
    if (m > L) m = 2 * L - m;
    return lo + m;
  }
  return x;
}

/// Where a face index of the unfolded line lands: face in [0, B] and direction sign (+1 same,
/// -1 reversed), or face = -1 when the crossing is not a crossing of a real face.
struct FaceImage {
  std::int64_t face;
  int sign;
};

inline FaceImage map_face(Boundary b, std::int64_t k, int B) {
  switch (b) {
    case Boundary::periodic: return {pos_mod(k, B), 1};
    case Boundary::reflecting: {
      const std::int64_t m = pos_mod(k, 2 * std::int64_t(B));
      if (m == 0 || m == B) return {-1, 0};
      return m < B ? FaceImage{m, 1} : FaceImage{2 * B - m, -1};
    }
    default: return (k >= 0 && k <= B) ? FaceImage{k, 1} : FaceImage{-1, 0};
  }
}

namespace detail {
/// D[first..last] += n as a difference array (an empty range adds nothing).
inline void range_add(std::int64_t* D, std::int64_t first, std::int64_t last, std::int64_t n) {
  if (first > last) return;
  D[first] += n;
  D[last + 1] -= n;
}
}  // namespace detail

/// Counts, `n` times, the faces crossed by a move from cell c0 to the unfolded cell c1 into
/// difference arrays (faces + 1 entries each; crossings of face k = sum_{j<=k} D[j]): every face
/// of the unfolded path is mapped through the boundary (periodic wrap, mirror with reversed
/// direction, or dropped). O(1) whatever the length of the jump: whole periods of the unfolded
/// line add a constant to every face, the remainder is at most three ranges.
inline void count_crossings(Boundary b, int B, std::int64_t c0, std::int64_t c1, std::int64_t* d_plus,
                            std::int64_t* d_minus, std::int64_t n = 1) {
  if (c1 == c0) return;
  const bool right = c1 > c0;
  std::int64_t first = right ? c0 + 1 : c1 + 1, last = right ? c1 : c0;  // unfolded faces crossed
  std::int64_t* same = right ? d_plus : d_minus;     // direction kept
  std::int64_t* flipped = right ? d_minus : d_plus;  // direction reversed (mirror images)
  using detail::range_add;
  switch (b) {
    case Boundary::free:
    case Boundary::absorbing:
      // Only faces 0..B exist.
      range_add(same, std::max<std::int64_t>(first, 0), std::min<std::int64_t>(last, B), n);
      return;
    case Boundary::periodic: {
      // Face k is face k mod B (face B is face 0 and is filled in from it by the caller).
      const std::int64_t len = last - first + 1;
      std::int64_t full = 0, rem = len, s = first;
      if (len >= B) { full = len / B; rem = len % B; }  // (no division for the common short move)
      if (full) range_add(same, 0, B - 1, n * full);
      if (s < 0 && s >= -B) s += B;
      else if (s >= B && s < 2 * std::int64_t(B)) s -= B;
      else if (s < 0 || s >= B) s = pos_mod(first, B);
      if (s + rem <= B) {
        range_add(same, s, s + rem - 1, n);
      } else {
        range_add(same, s, B - 1, n);
        range_add(same, 0, s + rem - 1 - B, n);
      }
      return;
    }
    case Boundary::reflecting: {
      // Unfolded face k, m = k mod 2B: m in (0, B) is face m, same direction; m in (B, 2B) is
      // face 2B - m, reversed; m = 0 and m = B are the walls (never crossed).
      const std::int64_t P = 2 * std::int64_t(B), len = last - first + 1, full = len / P, rem = len % P;
      if (full) { range_add(same, 1, B - 1, n * full); range_add(flipped, 1, B - 1, n * full); }
      auto piece = [&](std::int64_t a, std::int64_t e) {  // 0 <= a <= e < 2B
        range_add(same, std::max<std::int64_t>(a, 1), std::min<std::int64_t>(e, B - 1), n);
        const std::int64_t a2 = std::max<std::int64_t>(a, B + 1), e2 = e;
        if (a2 <= e2) range_add(flipped, P - e2, P - a2, n);
      };
      if (rem == 0) return;
      const std::int64_t s = pos_mod(first, P);
      if (s + rem <= P) {
        piece(s, s + rem - 1);
      } else {
        piece(s, P - 1);
        piece(0, s + rem - 1 - P);
      }
      return;
    }
  }
}

/// The cell a walker ends in after the boundary acts on an unfolded cell c (periodic/reflecting).
inline std::int64_t folded_cell(Boundary b, std::int64_t c, int B) {
  if (b == Boundary::periodic) return pos_mod(c, B);
  const std::int64_t m = pos_mod(c, 2 * std::int64_t(B));
  return m < B ? m : 2 * B - 1 - m;
}

/// Moves x by ulps until lat.cell(x) == target (repairs rounding at bin edges after a fold, so
/// that the density and the face-crossing counts agree exactly).
inline double nudge_into_cell(const Lattice& lat, double x, std::int64_t target) {
  for (int it = 0; it < 64 && lat.cell(x) < target; ++it) x = std::nextafter(x, INFINITY);
  for (int it = 0; it < 64 && lat.cell(x) > target; ++it) x = std::nextafter(x, -INFINITY);
  if (x < lat.lo) x = lat.lo;
  if (x > lat.hi) x = lat.hi;
  return x;
}

}  // namespace soret
