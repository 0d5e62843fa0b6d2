#pragma once
// Exceptions inside OpenMP regions: an exception that leaves a parallel region (or a worksharing
// loop) calls std::terminate. OmpGuard catches them per thread inside the region, keeps the
// first, lets the remaining iterations be skipped, and rethrows it once after the region:
//
//   OmpGuard guard;
//   #pragma omp parallel for
//   for (i = 0; i < n; ++i) guard.run([&] { body(i); });
//   guard.rethrow();  // the first exception, on the calling thread
//
// std::bad_alloc inside a region is reported as an InputError-free runtime_error naming the
// allocation failure, so that main() prints one line.
#include <atomic>
#include <exception>
#include <mutex>
#include <new>
#include <stdexcept>

namespace soret {

class OmpGuard {
 public:
  template <class F>
  void run(F&& f) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;  // skip the rest after a failure
    try {
      f();
    } catch (const std::bad_alloc&) {
      capture(std::make_exception_ptr(std::runtime_error("out of memory inside a parallel region (a run too large for "
                                                         "this machine; see --max-memory)")));
    } catch (...) {
      capture(std::current_exception());
    }
  }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  void rethrow() {
    if (first_) std::rethrow_exception(first_);
  }
  /// The first exception (null if none), e.g. for mpi::agree.
  std::exception_ptr error() const { return first_; }

 private:
  void capture(std::exception_ptr e) noexcept {
    std::lock_guard<std::mutex> lock(m_);
    if (!first_) first_ = e;
    failed_.store(true, std::memory_order_relaxed);
  }
  std::mutex m_;
  std::exception_ptr first_;
  std::atomic<bool> failed_{false};
};

}  // namespace soret
