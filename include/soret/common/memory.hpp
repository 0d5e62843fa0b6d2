#pragma once
// Large arrays backed by transparent huge pages where the kernel offers them (madvise mode):
// first touch of a 16 MB position array then costs 8 page faults instead of 4096, which on a
// virtual machine is a measurable part of a run's set-up.
#include <sys/mman.h>

#include <cstdint>
#include <vector>

namespace soret {

/// v.assign(n, value), asking for huge pages for the new storage before it is first touched.
template <class T>
void assign_huge(std::vector<T>& v, std::size_t n, const T& value = T()) {
  v.clear();
  v.shrink_to_fit();
  v.reserve(n);
  constexpr std::uintptr_t kHuge = std::uintptr_t(1) << 21;
  const auto begin = reinterpret_cast<std::uintptr_t>(v.data());
  const auto end = begin + n * sizeof(T);
  const std::uintptr_t a = (begin + kHuge - 1) & ~(kHuge - 1), b = end & ~(kHuge - 1);
#ifdef MADV_HUGEPAGE
  if (b > a) madvise(reinterpret_cast<void*>(a), b - a, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
  v.assign(n, value);
}

}  // namespace soret
