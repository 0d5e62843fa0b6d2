#pragma once
// Atomic output files: every file soret writes (HDF5 outputs, check reports, summaries,
// checkpoints) goes through this module.
//
//   io::check_output_file("out.h5", "out");       // before the run: refuse a bad place (exit 2)
//   io::AtomicOutput f("out.h5", "out");          // temporary created exclusively next to out.h5
//   f.write(bytes, n);                            // every write checked (ENOSPC, EFBIG, EIO -> IoError)
//   f.commit();                                   // fsync, close, rename onto out.h5, fsync the directory
//
// Guarantees:
// - The temporary is created in the target's directory with O_CREAT|O_EXCL|O_NOFOLLOW and an
//   unpredictable name (".NAME.tmp-XXXXXXXX", random suffix from getrandom), so a file or a
//   symbolic link planted under any name is never followed, truncated or overwritten.
// - Until commit() returns, the file under the final name is untouched (the previous output, if
//   any, survives every failure, a full disk included); after it, it is complete and durable.
// - A temporary that is never committed is removed: by the destructor (errors, exceptions), at
//   exit() and std::terminate, and on SIGINT/SIGTERM/SIGHUP once install_signal_cleanup() ran
//   (the handler unlinks pre-stored paths with unlink(2), async-signal-safe, then re-raises the
//   signal with its default action). SIGKILL leaves the temporary, never a file under the final
//   name that is incomplete.
// - Under MPI ranks (common/mpi.hpp) rank 0 writes every file: on the other ranks an
//   AtomicOutput creates nothing and its writes and commit do nothing, so code that runs alike on
//   every rank (soret net) writes each file once.
//
// For writers that use a library to produce the file (HDF5): h5::AtomicFile (io/hdf5.hpp) builds
// the file in memory (HDF5 core driver) and hands the bytes to an AtomicOutput at commit(), so the
// library never writes to disk itself and never sees a write error. A checkpoint writer can do the
// same: h5::AtomicFile ck(path, "checkpoint"); ... write datasets ...; ck.commit(); — the previous
// checkpoint stays until commit() has renamed the new one into place.
//
// Signal handlers of other modules (e.g. a checkpoint-on-SIGTERM handler that lets the run finish
// its block) may replace the ones installed here; they must then call
// remove_temporaries_signal_safe() before the process dies of a signal, or let the
// normal exit path (destructors, exit()) remove them.
#include <cstddef>
#include <stdexcept>
#include <cstdint>
#include <string>

namespace soret::io {

/// A failed write, fsync or rename of an output file (disk full, I/O error). Exit status 1.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AtomicOutput {
 public:
  /// Creates the temporary next to `path`. Throws InputError(option, ...) naming the option when
  /// `path` is empty, a directory, or in a place where no file can be created.
  explicit AtomicOutput(std::string path, std::string option = "out");
  ~AtomicOutput();  ///< removes the temporary unless committed
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  /// Appends n bytes; retries short writes and EINTR; throws IoError on any failure.
  void write(const void* data, std::size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  /// fsync, close, rename onto the final name, fsync the directory. Throws IoError; on failure
  /// the temporary is removed and the previous file under the final name is untouched.
  void commit() { prepare(); publish(); }
  /// The two halves of commit(), for a set of files that should replace their predecessors
  /// together (a report and its tables): prepare() every one (fsync, close; this is where a full
  /// disk shows), then publish() every one (rename, directory fsync).
  void prepare();
  void publish();
  /// Removes the temporary now (idempotent).
  void abandon() noexcept;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }
  int fd() const { return fd_; }

 private:
  std::string path_, option_, tmp_, dir_;
  int fd_ = -1;
  int slot_ = -1;  ///< registry slot of the temporary
  std::uint64_t offset_ = 0;  ///< bytes written so far
  bool committed_ = false, prepared_ = false;
  bool discard_ = false;  ///< a rank other than 0 (MPI): nothing is written
};

/// Writes `contents` to `path` atomically (AtomicOutput + commit).
void write_file_atomic(const std::string& path, const std::string& contents, const std::string& option = "out");

/// Before a run: throws InputError(option, ...) unless a file can be created at `path`: not empty,
/// not ending in '/', not an existing directory, its directory exists and accepts a new file
/// (probed by creating and removing a temporary, which also works for root).
void check_output_file(const std::string& path, const std::string& option = "out");
/// Before a run that writes into directory `dir` (created if missing, with parents): throws
/// InputError(option, ...) if it exists and is not a directory, cannot be created, or does not
/// accept new files.
void check_output_dir(const std::string& dir, const std::string& option);

/// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove every live temporary and then
/// die of the same signal (default action). Idempotent; called by main().
void install_signal_cleanup();
/// Unlinks every live temporary; async-signal-safe (for use inside other signal handlers).
void remove_temporaries_signal_safe() noexcept;
/// Number of live (registered, uncommitted) temporaries; for tests.
int live_temporaries() noexcept;

}  // namespace soret::io
