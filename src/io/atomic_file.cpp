#include "soret/io/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>

#include "soret/common/error.hpp"
#include "soret/common/mpi.hpp"

namespace soret::io {

namespace {

// ---- Registry of live temporaries: fixed storage, so that a signal handler can read it. ----
constexpr int kSlots = 64;
constexpr std::size_t kPathMax = 4096;
struct Slot {
  std::atomic<int> state{0};  // 0 free, 2 being written, 1 live
  char path[kPathMax];
};
Slot g_slots[kSlots];

int register_temp(const std::string& path) {
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 2)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(1, std::memory_order_release);
      return i;
    }
  }
  return -1;  // more than kSlots live temporaries: still removed by the destructor
}

void unregister_temp(int slot) {
  if (slot >= 0) g_slots[slot].state.store(0, std::memory_order_release);
}

void on_exit_cleanup() { remove_temporaries_signal_safe(); }

std::terminate_handler g_prev_terminate = nullptr;
[[noreturn]] void on_terminate() {
  remove_temporaries_signal_safe();
  if (g_prev_terminate) g_prev_terminate();
  std::abort();
}

void on_signal(int sig) {
  remove_temporaries_signal_safe();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

std::once_flag g_exit_hooks;
void install_exit_hooks() {
  std::call_once(g_exit_hooks, [] {
    std::atexit(on_exit_cleanup);
    g_prev_terminate = std::set_terminate(on_terminate);
  });
}

std::string dir_of(const std::string& path) {
  const auto p = path.find_last_of('/');
  if (p == std::string::npos) return ".";
  if (p == 0) return "/";
  return path.substr(0, p);
}
std::string base_of(const std::string& path) {
  const auto p = path.find_last_of('/');
  return p == std::string::npos ? path : path.substr(p + 1);
}

std::string random_suffix() {
  unsigned char b[8];
  std::size_t got = 0;
  while (got < sizeof b) {
    const ssize_t r = ::getrandom(b + got, sizeof b - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      // No getrandom: address and time bits (still exclusive-created, only less unpredictable).
      const auto v = reinterpret_cast<std::uintptr_t>(&b) ^ std::uintptr_t(::getpid()) ^ std::uintptr_t(::time(nullptr));
      std::memcpy(b, &v, sizeof b < sizeof v ? sizeof b : sizeof v);
      break;
    }
    got += std::size_t(r);
  }
  static const char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::string errstr(int e) { return std::strerror(e); }

void fsync_dir(const std::string& dir) {
  const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return;
  // Some file systems refuse fsync on a directory (EINVAL); the rename itself has happened.
  const int r = ::fsync(d);
  const int e = errno;
  ::close(d);
  if (r != 0 && e != EINVAL && e != EROFS) throw IoError("cannot sync directory '" + dir + "': " + errstr(e));
}

/// Opens a fresh temporary in `dir`, exclusively. Returns the fd, or -1 with errno set.
int create_exclusive(const std::string& dir, const std::string& base, std::string& tmp) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    tmp = (dir == "/" ? "/" : dir + "/") + "." + base + ".tmp-" + random_suffix();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

void check_path_shape(const std::string& path, const std::string& option) {
  if (path.empty()) throw InputError(option, "--" + option + ": an empty name is not a file name");
  if (path.back() == '/' || base_of(path) == "." || base_of(path) == "..")
    throw InputError(option, "--" + option + ": '" + path + "' names a directory, not a file");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw InputError(option, "--" + option + ": '" + path + "' is an existing directory, not a file");
}

}  // namespace

AtomicOutput::AtomicOutput(std::string path, std::string option) : path_(std::move(path)), option_(std::move(option)) {
  check_path_shape(path_, option_);
  if (!mpi::root()) {  // MPI ranks: rank 0 writes every file; the others' outputs are discarded
    discard_ = true;
    return;
  }
  install_exit_hooks();
  dir_ = dir_of(path_);
  // Block the cleanup signals while the temporary exists but is not yet registered.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  fd_ = create_exclusive(dir_, base_of(path_), tmp_);
  const int e = errno;
  if (fd_ >= 0) slot_ = register_temp(tmp_);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (fd_ < 0)
    throw InputError(option_, "--" + option_ + ": cannot create a file in '" + dir_ + "' for '" + path_ + "': " + errstr(e));
}

AtomicOutput::~AtomicOutput() { abandon(); }

void AtomicOutput::abandon() noexcept {
  if (committed_) return;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!tmp_.empty()) {
    ::unlink(tmp_.c_str());
    unregister_temp(slot_);
    slot_ = -1;
    tmp_.clear();
  }
}

void AtomicOutput::write(const void* data, std::size_t n) {
  if (discard_) return;
  if (fd_ < 0) throw IoError("write to '" + path_ + "' after it was closed");
  const char* p = static_cast<const char*>(data);
  // A large write from a page-aligned buffer at a page-aligned offset bypasses the page cache
  // (O_DIRECT) where the file system allows it: the data go to the disk once, instead of being
  // copied into the cache and written back at fsync (measured on a VM guest: 17 MB in 0.04 s
  // against 0.18 s). Anything else, or a refusal (EINVAL), takes the buffered loop below.
  constexpr std::size_t kAlign = 4096, kDirectMin = std::size_t(1) << 22;
  if (n >= kDirectMin && offset_ % kAlign == 0 && reinterpret_cast<std::uintptr_t>(p) % kAlign == 0) {
    const std::size_t m = n / kAlign * kAlign;
    const int fl = ::fcntl(fd_, F_GETFL);
    if (fl >= 0 && ::fcntl(fd_, F_SETFL, fl | O_DIRECT) == 0) {
      std::size_t done = 0;
      int err = 0;
      while (done < m && done % kAlign == 0) {
        const ssize_t w = ::write(fd_, p + done, m - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EINVAL) break;  // not for this file system: the rest buffered
        if (w <= 0) {
          err = w < 0 ? errno : ENOSPC;
          break;
        }
        done += std::size_t(w);
      }
      ::fcntl(fd_, F_SETFL, fl);
      if (err) {
        abandon();
        throw IoError("cannot write '" + path_ + "': " + errstr(err) + " (nothing written under that name)");
      }
      p += done;
      n -= done;
      offset_ += done;
    }
  }
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      abandon();
      throw IoError("cannot write '" + path_ + "': " + errstr(e) + " (nothing written under that name)");
    }
    if (w == 0) {
      abandon();
      throw IoError("cannot write '" + path_ + "': no progress (nothing written under that name)");
    }
    p += w;
    n -= std::size_t(w);
    offset_ += std::uint64_t(w);
  }
}

void AtomicOutput::prepare() {
  if (committed_ || prepared_ || discard_) return;
  if (fd_ < 0) throw IoError("commit of '" + path_ + "' after it was abandoned");
  if (::fsync(fd_) != 0) {
    const int e = errno;
    abandon();
    throw IoError("cannot write '" + path_ + "': " + errstr(e) + " (at fsync; nothing written under that name)");
  }
  const int c = ::close(fd_);
  fd_ = -1;
  if (c != 0) {
    const int e = errno;
    abandon();
    throw IoError("cannot write '" + path_ + "': " + errstr(e) + " (at close; nothing written under that name)");
  }
  prepared_ = true;
}

void AtomicOutput::publish() {
  if (committed_ || discard_) return;
  prepare();
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    abandon();
    throw IoError("cannot rename the temporary onto '" + path_ + "': " + errstr(e));
  }
  committed_ = true;
  unregister_temp(slot_);
  slot_ = -1;
  fsync_dir(dir_);
}

void write_file_atomic(const std::string& path, const std::string& contents, const std::string& option) {
  AtomicOutput f(path, option);
  f.write(contents);
  f.commit();
}

void check_output_file(const std::string& path, const std::string& option) {
  AtomicOutput probe(path, option);  // throws InputError naming the option; removed at scope end
}

void check_output_dir(const std::string& dir, const std::string& option) {
  if (dir.empty()) throw InputError(option, "--" + option + ": an empty name is not a directory name");
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      throw InputError(option, "--" + option + ": '" + dir + "' exists and is not a directory");
  } else {
    // Create it with its parents.
    std::string cur;
    std::size_t pos = 0;
    while (pos != std::string::npos) {
      pos = dir.find('/', pos + 1);
      cur = dir.substr(0, pos);
      if (cur.empty()) continue;
      if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
        throw InputError(option, "--" + option + ": cannot create directory '" + dir + "': " + errstr(errno));
    }
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw InputError(option, "--" + option + ": cannot create directory '" + dir + "'");
  }
  AtomicOutput probe(dir + "/.probe", option);
}

void install_signal_cleanup() {
  install_exit_hooks();
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction cur;
    if (::sigaction(sig, nullptr, &cur) != 0) continue;
    if (cur.sa_handler == SIG_IGN) continue;  // e.g. nohup: keep ignoring
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
}

void remove_temporaries_signal_safe() noexcept {
  for (auto& s : g_slots)
    if (s.state.load(std::memory_order_acquire) == 1) ::unlink(s.path);
}

int live_temporaries() noexcept {
  int n = 0;
  for (auto& s : g_slots) n += s.state.load(std::memory_order_acquire) == 1;
  return n;
}

}  // namespace soret::io
