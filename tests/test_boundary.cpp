#include <doctest/doctest.h>

#include <vector>

#include "soret/walk/boundary.hpp"

using namespace soret;

TEST_SUITE_BEGIN("quick");

TEST_CASE("lattice cells: half-open bins - the end point hi belongs to the last bin") {
  Lattice l(0.0, 1.0, 8);
  CHECK(l.cell(0.0) == 0);
  CHECK(l.cell(0.124) == 0);
  CHECK(l.cell(0.125) == 1);
  CHECK(l.cell(1.0) == 7);
  CHECK(l.cell(1.0625) == 8);
  CHECK(l.cell(-0.0625) == -1);
  CHECK(l.edge(8) == 1.0);
}

TEST_CASE("boundary position maps") {
  CHECK(fold_position(Boundary::periodic, 0, 1, 1.25) == 0.25);
  CHECK(fold_position(Boundary::periodic, 0, 1, -0.25) == 0.75);
  CHECK(fold_position(Boundary::periodic, 0, 1, 1.0) == 0.0);
  CHECK(fold_position(Boundary::reflecting, 0, 1, 1.25) == 0.75);
  CHECK(fold_position(Boundary::reflecting, 0, 1, -0.25) == 0.25);
  CHECK(fold_position(Boundary::reflecting, 0, 1, 2.25) == 0.25);  // two reflections
  CHECK(fold_position(Boundary::reflecting, 0, 1, 1.0) == 1.0);
  CHECK(fold_position(Boundary::free, 0, 1, 7.0) == 7.0);
}

namespace {
struct Counts {
  std::vector<std::int64_t> plus, minus;
};
Counts crossings(Boundary b, int B, std::int64_t c0, std::int64_t c1) {
  std::vector<std::int64_t> dp(B + 2, 0), dm(B + 2, 0);
  count_crossings(b, B, c0, c1, dp.data(), dm.data());
  Counts c{std::vector<std::int64_t>(B + 1), std::vector<std::int64_t>(B + 1)};
  std::int64_t p = 0, m = 0;
  for (int k = 0; k <= B; ++k) { p += dp[k]; m += dm[k]; c.plus[k] = p; c.minus[k] = m; }
  return c;
}
}  // namespace

TEST_CASE("face crossings on hand-built steps") {
  const int B = 8;
  // Inside the domain, three faces to the right.
  auto c = crossings(Boundary::free, B, 2, 5);
  CHECK(c.plus == std::vector<std::int64_t>{0, 0, 0, 1, 1, 1, 0, 0, 0});
  CHECK(c.minus == std::vector<std::int64_t>(9, 0));
  // Two faces to the left.
  c = crossings(Boundary::periodic, B, 4, 2);
  CHECK(c.minus == std::vector<std::int64_t>{0, 0, 0, 1, 1, 0, 0, 0, 0});
  // Periodic wrap from cell 7 to cell 9 (= cell 1): faces 8 (= 0) and 9 (= 1).
  c = crossings(Boundary::periodic, B, 7, 9);
  CHECK(c.plus == std::vector<std::int64_t>{1, 1, 0, 0, 0, 0, 0, 0, 0});
  // Periodic wrap to the left from cell 0 to cell -2 (= 6): faces 0 and -1 (= 7).
  c = crossings(Boundary::periodic, B, 0, -2);
  CHECK(c.minus == std::vector<std::int64_t>{1, 0, 0, 0, 0, 0, 0, 1, 0});
  // Reflection at hi: cell 6 -> unfolded 9 = mirror of 6: face 7 crossed out and back, the wall never.
  c = crossings(Boundary::reflecting, B, 6, 9);
  CHECK(c.plus == std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 0, 1, 0});
  CHECK(c.minus == std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 0, 1, 0});
  // Reflection at lo: cell 1 -> unfolded -3 (= cell 2 after the mirror): faces 1 (left), then 1, 2 (right).
  c = crossings(Boundary::reflecting, B, 1, -3);
  CHECK(c.minus == std::vector<std::int64_t>{0, 1, 0, 0, 0, 0, 0, 0, 0});
  CHECK(c.plus == std::vector<std::int64_t>{0, 1, 1, 0, 0, 0, 0, 0, 0});
  CHECK(folded_cell(Boundary::reflecting, -3, B) == 2);
  // Absorbing/free: leaving through face 8 counts it; virtual faces beyond are dropped.
  c = crossings(Boundary::absorbing, B, 6, 11);
  CHECK(c.plus == std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 0, 1, 1});
}

TEST_CASE("nudge repairs a fold that rounding put in the neighbouring bin") {
  Lattice l(0.0, 1.0, 10);
  const double just_below = std::nextafter(0.3, 0.0);
  const auto target = l.cell(0.3);
  const double x = nudge_into_cell(l, just_below, target);
  CHECK(l.cell(x) == target);
}

namespace {
/// The definition: walk the unfolded path one face at a time and map each face (O(|c1 - c0|)).
Counts crossings_by_definition(Boundary b, int B, std::int64_t c0, std::int64_t c1) {
  Counts c{std::vector<std::int64_t>(B + 1, 0), std::vector<std::int64_t>(B + 1, 0)};
  if (c1 == c0) return c;
  const int dir = c1 > c0 ? 1 : -1;
  const std::int64_t first = dir > 0 ? c0 + 1 : c1 + 1, last = dir > 0 ? c1 : c0;
  for (std::int64_t k = first; k <= last; ++k) {
    const FaceImage im = map_face(b, k, B);
    if (im.face < 0) continue;
    auto& v = (dir * im.sign > 0) ? c.plus : c.minus;
    if (b == Boundary::periodic && im.face == B) continue;  // face B is face 0 (map_face gives 0)
    ++v[im.face];
  }
  return c;
}
}  // namespace

TEST_CASE("O(1) crossing counts equal the face-by-face definition for every boundary and any jump") {
  std::uint64_t s = 12345;
  auto next = [&]() { s = s * 6364136223846793005ull + 1442695040888963407ull; return s >> 33; };
  int compared = 0;
  for (Boundary b : {Boundary::periodic, Boundary::reflecting, Boundary::free, Boundary::absorbing})
    for (int B : {1, 2, 3, 8, 17}) {
      for (int rep = 0; rep < 400; ++rep) {
        const std::int64_t span = rep < 200 ? 3 * B : 40 * B;  // short and very long jumps
        std::int64_t c0 = std::int64_t(next() % B);
        if (b == Boundary::free && rep % 3 == 0) c0 = std::int64_t(next() % (3 * B)) - B;  // free walkers may start outside
        const std::int64_t c1 = c0 + std::int64_t(next() % (2 * span + 1)) - span;
        const auto fast = crossings(b, B, c0, c1), ref = crossings_by_definition(b, B, c0, c1);
        // The O(1) form leaves face B of a periodic axis to the caller (it is face 0).
        auto fp = fast.plus, fm = fast.minus;
        if (b == Boundary::periodic) { fp[B] = 0; fm[B] = 0; }
        INFO("boundary " << int(b) << " B=" << B << " c0=" << c0 << " c1=" << c1);
        REQUIRE(fp == ref.plus);
        REQUIRE(fm == ref.minus);
        ++compared;
      }
    }
  CHECK(compared == 4 * 5 * 400);
}

TEST_CASE("a multiplicity n counts the same move n times") {
  std::vector<std::int64_t> a(12, 0), am(12, 0), b(12, 0), bm(12, 0);
  count_crossings(Boundary::reflecting, 10, 3, 27, a.data(), am.data(), 5);
  for (int i = 0; i < 5; ++i) count_crossings(Boundary::reflecting, 10, 3, 27, b.data(), bm.data());
  CHECK(a == b);
  CHECK(am == bm);
}

TEST_SUITE_END();
