#include "soret/common/mpi.hpp"

#include <algorithm>
#include <stdexcept>

#include "soret/common/error.hpp"

#ifdef SORET_HAVE_MPI
#include <mpi.h>
#endif

namespace soret::mpi {

Range split(std::uint64_t n, std::uint64_t group, int r, int ranks) {
  const std::uint64_t groups = (n + group - 1) / group;
  const std::uint64_t g0 = groups * std::uint64_t(r) / std::uint64_t(ranks);
  const std::uint64_t g1 = groups * std::uint64_t(r + 1) / std::uint64_t(ranks);
  const std::uint64_t first = std::min(n, g0 * group), last = std::min(n, g1 * group);
  return {first, last - first};
}

namespace {
bool g_run_started = false, g_error_agreed = false;
}  // namespace

void mark_run_started() { g_run_started = true; }
bool run_started() { return g_run_started; }
bool error_agreed() { return g_error_agreed; }

void agreed(const std::function<void()>& f, bool everywhere) {
  std::exception_ptr ep;
  if (everywhere || root()) {
    try {
      f();
    } catch (...) {
      ep = std::current_exception();
    }
  }
  agree(ep);
}

namespace {
/// Rank r's items of a split by items: [first, first + count).
template <class T>
std::vector<T> pack_items(const std::vector<T>& v, std::size_t rows, std::size_t n, std::size_t width, Range r) {
  std::vector<T> out;
  out.reserve(rows * r.count * width);
  for (std::size_t row = 0; row < rows; ++row) {
    const auto* p = v.data() + (row * n + r.first) * width;
    out.insert(out.end(), p, p + r.count * width);
  }
  return out;
}
}  // namespace

#ifdef SORET_HAVE_MPI

namespace {
bool g_init = false;
void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}
template <class T>
MPI_Datatype type();
template <>
MPI_Datatype type<std::int64_t>() { return MPI_INT64_T; }
template <>
MPI_Datatype type<std::uint64_t>() { return MPI_UINT64_T; }
template <>
MPI_Datatype type<double>() { return MPI_DOUBLE; }
template <>
MPI_Datatype type<std::uint8_t>() { return MPI_UINT8_T; }

template <class T>
void reduce_impl(std::vector<T>& v) {
  if (size() == 1) return;
  // In pieces of at most 2^28 elements (MPI counts are int).
  constexpr std::size_t kPiece = std::size_t(1) << 28;
  for (std::size_t i = 0; i < v.size(); i += kPiece) {
    const int n = int(std::min(kPiece, v.size() - i));
    if (rank() == 0) check(MPI_Reduce(MPI_IN_PLACE, v.data() + i, n, type<T>(), MPI_SUM, 0, MPI_COMM_WORLD), "reduce");
    else check(MPI_Reduce(v.data() + i, nullptr, n, type<T>(), MPI_SUM, 0, MPI_COMM_WORLD), "reduce");
  }
}

template <class T>
std::vector<T> gather_impl(const std::vector<T>& v) {
  if (size() == 1) return v;
  const int n = int(v.size());
  if (v.size() > std::size_t(1) << 30) throw std::runtime_error("MPI: gather of more than 2^30 elements per rank");
  std::vector<int> counts(rank() == 0 ? size() : 0), displs(counts.size());
  check(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "gather counts");
  std::vector<T> out;
  if (rank() == 0) {
    long long total = 0;
    for (int r = 0; r < size(); ++r) { displs[r] = int(total); total += counts[r]; }
    if (total > (1ll << 31) - 1) throw std::runtime_error("MPI: gather of more than 2^31 elements");
    out.resize(std::size_t(total));
  }
  check(MPI_Gatherv(v.data(), n, type<T>(), out.data(), counts.data(), displs.data(), type<T>(), 0, MPI_COMM_WORLD),
        "gatherv");
  return out;
}
template <class T>
std::vector<T> allgatherv_impl(const std::vector<T>& v) {
  if (v.size() > std::size_t(1) << 30) throw std::runtime_error("MPI: allgather of more than 2^30 elements per rank");
  const int n = int(v.size());
  std::vector<int> counts(size()), displs(size());
  check(MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "allgather counts");
  long long total = 0;
  for (int r = 0; r < size(); ++r) { displs[r] = int(total); total += counts[r]; }
  if (total > (1ll << 31) - 1) throw std::runtime_error("MPI: allgather of more than 2^31 elements");
  std::vector<T> out(static_cast<std::size_t>(total));
  check(MPI_Allgatherv(v.data(), n, type<T>(), out.data(), counts.data(), displs.data(), type<T>(), MPI_COMM_WORLD),
        "allgatherv");
  return out;
}

template <class T>
void share_impl(std::vector<T>& v, std::size_t rows, std::size_t n, std::size_t width) {
  if (size() == 1) return;
  const auto all = allgatherv_impl(pack_items(v, rows, n, width, split(n, 1, rank(), size())));
  std::size_t k = 0;
  for (int r = 0; r < size(); ++r) {
    const Range rr = split(n, 1, r, size());
    for (std::size_t row = 0; row < rows; ++row) {
      std::copy_n(all.data() + k, rr.count * width, v.data() + (row * n + rr.first) * width);
      k += rr.count * width;
    }
  }
}

template <class T>
void allreduce_impl(std::vector<T>& v) {
  if (size() == 1) return;
  constexpr std::size_t kPiece = std::size_t(1) << 28;
  for (std::size_t i = 0; i < v.size(); i += kPiece)
    check(MPI_Allreduce(MPI_IN_PLACE, v.data() + i, int(std::min(kPiece, v.size() - i)), type<T>(), MPI_SUM, MPI_COMM_WORLD),
          "allreduce");
}
}  // namespace

bool built_with_mpi() { return true; }

void init(int* argc, char*** argv) {
  int done = 0;
  MPI_Initialized(&done);
  if (!done) check(MPI_Init(argc, argv), "init");
  g_init = true;
}

void finalize() {
  if (!g_init) return;
  int done = 0;
  MPI_Finalized(&done);
  if (!done) MPI_Finalize();
  g_init = false;
}

int rank() {
  if (!g_init) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int size() {
  if (!g_init) return 1;
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

void reduce_sum(std::vector<std::int64_t>& v) { reduce_impl(v); }
void reduce_sum(std::vector<std::uint64_t>& v) { reduce_impl(v); }

std::int64_t max_all(std::int64_t v) {
  if (size() == 1) return v;
  std::int64_t out = v;
  check(MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "allreduce");
  return out;
}

void allreduce_sum(std::vector<std::int64_t>& v) { allreduce_impl(v); }
void allreduce_sum(std::vector<std::uint64_t>& v) { allreduce_impl(v); }

double max_all(double v) {
  if (size() == 1) return v;
  double out = v;
  check(MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "allreduce");
  return out;
}

double sum_all(double v) {
  if (size() == 1) return v;
  std::vector<double> all(static_cast<std::size_t>(size()));
  check(MPI_Allgather(&v, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, MPI_COMM_WORLD), "allgather");
  double s = 0;
  for (double x : all) s += x;
  return s;
}

void share_items(std::vector<double>& v, std::size_t rows, std::size_t n, std::size_t width) { share_impl(v, rows, n, width); }
void share_items(std::vector<std::int64_t>& v, std::size_t rows, std::size_t n, std::size_t width) { share_impl(v, rows, n, width); }

void agree(std::exception_ptr ep) {
  if (size() == 1) {
    if (ep) std::rethrow_exception(ep);
    return;
  }
  const auto failed = allgather({ep ? 1u : 0u});
  for (int r = 0; r < size(); ++r) {
    if (!failed[std::size_t(r)]) continue;
    // The lowest failing rank's error, on every rank: kind, option, text.
    std::string msg;
    if (r == rank()) {
      try {
        std::rethrow_exception(ep);
      } catch (const InputError& e) {
        msg = "2" + e.option() + "\n" + e.what();
      } catch (const NumericalError& e) {
        msg = std::string("3\n") + e.what();
      } catch (const std::exception& e) {
        msg = std::string("1\n") + e.what();
      } catch (...) {
        msg = "1\nunknown error";
      }
    }
    broadcast(msg, r);
    g_error_agreed = true;
    const auto nl = msg.find('\n');
    const std::string head = msg.substr(1, nl - 1), text = msg.substr(nl + 1);
    if (msg[0] == '2') throw InputError(head, text);
    if (msg[0] == '3') throw NumericalError(text);
    throw SharedError(text);
  }
}

void abort(int status) {
  if (size() > 1) MPI_Abort(MPI_COMM_WORLD, status);
}

std::vector<std::uint64_t> allgather(const std::vector<std::uint64_t>& v) {
  if (size() == 1) return v;
  std::vector<std::uint64_t> out(v.size() * std::size_t(size()));
  check(MPI_Allgather(v.data(), int(v.size()), MPI_UINT64_T, out.data(), int(v.size()), MPI_UINT64_T, MPI_COMM_WORLD),
        "allgather");
  return out;
}

std::vector<double> gather(const std::vector<double>& v) { return gather_impl(v); }
std::vector<std::uint8_t> gather(const std::vector<std::uint8_t>& v) { return gather_impl(v); }

void broadcast(std::string& s, int from) {
  if (size() == 1) return;
  std::uint64_t n = s.size();
  check(MPI_Bcast(&n, 1, MPI_UINT64_T, from, MPI_COMM_WORLD), "bcast");
  s.resize(n);
  check(MPI_Bcast(s.data(), int(n), MPI_CHAR, from, MPI_COMM_WORLD), "bcast");
}

namespace {
template <class T>
void broadcast_vec(std::vector<T>& v, int from) {
  if (size() == 1) return;
  std::uint64_t n = v.size();
  check(MPI_Bcast(&n, 1, MPI_UINT64_T, from, MPI_COMM_WORLD), "bcast");
  v.resize(n);
  constexpr std::uint64_t kPiece = std::uint64_t(1) << 28;
  for (std::uint64_t i = 0; i < n; i += kPiece)
    check(MPI_Bcast(v.data() + i, int(std::min(kPiece, n - i)), type<T>(), from, MPI_COMM_WORLD), "bcast");
}
}  // namespace

void broadcast(std::vector<std::uint64_t>& v, int from) { broadcast_vec(v, from); }
void broadcast(std::vector<double>& v, int from) { broadcast_vec(v, from); }

#else  // one process

bool built_with_mpi() { return false; }
void init(int*, char***) {}
void finalize() {}
int rank() { return 0; }
int size() { return 1; }
void reduce_sum(std::vector<std::int64_t>&) {}
void reduce_sum(std::vector<std::uint64_t>&) {}
std::int64_t max_all(std::int64_t v) { return v; }
void allreduce_sum(std::vector<std::int64_t>&) {}
void allreduce_sum(std::vector<std::uint64_t>&) {}
double sum_all(double v) { return v; }
double max_all(double v) { return v; }
void share_items(std::vector<double>&, std::size_t, std::size_t, std::size_t) {}
void share_items(std::vector<std::int64_t>&, std::size_t, std::size_t, std::size_t) {}
void agree(std::exception_ptr ep) {
  if (ep) std::rethrow_exception(ep);
}
void abort(int) {}
std::vector<std::uint64_t> allgather(const std::vector<std::uint64_t>& v) { return v; }
std::vector<double> gather(const std::vector<double>& v) { return v; }
std::vector<std::uint8_t> gather(const std::vector<std::uint8_t>& v) { return v; }
void broadcast(std::string&, int) {}
void broadcast(std::vector<std::uint64_t>&, int) {}
void broadcast(std::vector<double>&, int) {}

#endif

}  // namespace soret::mpi
