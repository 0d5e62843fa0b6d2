#pragma once
// MPI ranks (optional: built with -DSORET_MPI=ON; without it every call is the one-process case).
//
// soret's ranks split the walkers (or networks, or replicas) into contiguous ranges of global
// ids; every random number is keyed on global ids and absolute steps, and every accumulator is an
// integer sum, so the reduced result equals a single process's bit for bit. Rank 0 reads input
// files and writes every output file; the others write nothing.
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace soret::mpi {

/// Was soret built with MPI?
bool built_with_mpi();
/// Initialises MPI when built with it (a program started without mpirun is one rank).
void init(int* argc, char*** argv);
/// Finalises MPI (idempotent).
void finalize();
int rank();
int size();
inline bool distributed() { return size() > 1; }
inline bool root() { return rank() == 0; }

/// Sums v over the ranks into rank 0's v (other ranks' v unchanged). Every rank passes the same length.
void reduce_sum(std::vector<std::int64_t>& v);
void reduce_sum(std::vector<std::uint64_t>& v);
/// Largest v over the ranks, on every rank (agreement: stop, error; wall times).
std::int64_t max_all(std::int64_t v);
double max_all(double v);
/// Sums v over the ranks into every rank's v. Every rank passes the same length.
void allreduce_sum(std::vector<std::int64_t>& v);
void allreduce_sum(std::vector<std::uint64_t>& v);
/// Sum of v over the ranks, on every rank (timings; the order of the sum is fixed: rank order).
double sum_all(double v);
/// Every rank's values, concatenated in rank order, on every rank (small arrays).
std::vector<std::uint64_t> allgather(const std::vector<std::uint64_t>& v);
/// Per-item tables split by items: v holds rows x n x width values (row-major) of which this rank
/// owns the items split(n, 1, rank, size) (its other entries are ignored); afterwards every rank
/// holds every rank's items. Exact (a copy).
void share_items(std::vector<double>& v, std::size_t rows, std::size_t n, std::size_t width);
void share_items(std::vector<std::int64_t>& v, std::size_t rows, std::size_t n, std::size_t width);
/// The ranks' arrays concatenated in rank order on rank 0 (empty elsewhere).
std::vector<double> gather(const std::vector<double>& v);
std::vector<std::uint8_t> gather(const std::vector<std::uint8_t>& v);
/// Rank `from`'s string (array) on every rank.
void broadcast(std::string& s, int from);
void broadcast(std::vector<std::uint64_t>& v, int from);
void broadcast(std::vector<double>& v, int from);

/// An error that every rank throws alike (agree()): main() prints it once, on rank 0.
class SharedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Agreement on failure: every rank passes its own exception (or none). If any rank failed, every
/// rank throws the error of the lowest failing rank: an InputError as an InputError naming the
/// same option (exit 2), a NumericalError as one (exit 3), anything else as a SharedError (exit 1).
/// A collective call: every rank must reach it. One process: rethrows ep.
void agree(std::exception_ptr ep);
/// Runs f on rank 0 only (a check of an output place, which only rank 0 writes), or on every
/// rank with everywhere = true (reading an input file), and agrees on the outcome: a failure on
/// one rank is thrown on every rank instead of leaving the others waiting.
void agreed(const std::function<void()>& f, bool everywhere = false);
/// Marks the start of a distributed run (the walk engine, the trainers, the check replicas): from
/// then on an error that did not come out of agree() may be this rank's alone, and main() ends
/// every rank (abort) instead of leaving the others waiting. Errors before it (options,
/// validation) are met by every rank alike.
void mark_run_started();
bool run_started();
/// Did the error being handled come out of agree() (thrown alike on every rank)?
bool error_agreed();

/// Ends every rank's process at once with this exit status (an error met by one rank outside an
/// agreement point); returns normally in a one-process run.
void abort(int status);

/// The contiguous range [first, first + count) of `n` items (in groups of `group`, so that a
/// group never straddles two ranks) owned by rank r of `ranks`.
struct Range {
  std::uint64_t first = 0, count = 0;
};
Range split(std::uint64_t n, std::uint64_t group, int r, int ranks);

}  // namespace soret::mpi
