#pragma once
// MPI ranks (optional: built with -DSORET_MPI=ON; without it every call is the one-process case).
//
// soret's ranks split the walkers (or networks, or replicas) into contiguous ranges of global
// ids; every random number is keyed on global ids and absolute steps, and every accumulator is an
// integer sum, so the reduced result equals a single process's bit for bit. Rank 0 reads input
// files and writes every output file; the others write nothing.
#include <cstdint>
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
/// Largest v over the ranks, on every rank (agreement: stop, error).
std::int64_t max_all(std::int64_t v);
/// Every rank's values, concatenated in rank order, on every rank (small arrays).
std::vector<std::uint64_t> allgather(const std::vector<std::uint64_t>& v);
/// The ranks' arrays concatenated in rank order on rank 0 (empty elsewhere).
std::vector<double> gather(const std::vector<double>& v);
std::vector<std::uint8_t> gather(const std::vector<std::uint8_t>& v);
/// Rank `from`'s string (array) on every rank.
void broadcast(std::string& s, int from);
void broadcast(std::vector<std::uint64_t>& v, int from);
void broadcast(std::vector<double>& v, int from);

/// The contiguous range [first, first + count) of `n` items (in groups of `group`, so that a
/// group never straddles two ranks) owned by rank r of `ranks`.
struct Range {
  std::uint64_t first = 0, count = 0;
};
Range split(std::uint64_t n, std::uint64_t group, int r, int ranks);

}  // namespace soret::mpi
