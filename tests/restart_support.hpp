#pragma once
// Shared by the restart tests (walk and net): run the soret binary in a separate process, and
// compare two HDF5 files dataset by dataset, byte for byte.
#include <hdf5.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "soret/io/hdf5.hpp"

extern char** environ;

namespace soret::test {

struct Proc {
  int status = -1;  ///< exit status, or 128 + signal
  std::string err;  ///< stderr
};

/// A fresh, empty directory for one test: TMP/soret-PREFIX-PID-TAG.
inline std::filesystem::path fresh_test_dir(const std::string& prefix, const std::string& tag) {
  const auto d = std::filesystem::temp_directory_path() / ("soret-" + prefix + "-" + std::to_string(::getpid()) + "-" + tag);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

/// h5_differences' list on one line (for CHECK_MESSAGE).
inline std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "; ";
  return s;
}

/// Runs `PREFIX soret ARGS` (shell words; PREFIX e.g. "mpirun -np 2") to completion; stdout
/// dropped, stderr captured.
inline Proc soret_run_prefixed(const std::string& prefix, const std::string& args, const std::filesystem::path& dir) {
  const auto errf = dir / "stderr.txt";
  const std::string cmd = "cd '" + dir.string() + "' && " + prefix + " " + std::string(SORET_BINARY) + " " + args +
                          " >/dev/null 2>'" + errf.string() + "'";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(errf);
  std::stringstream ss;
  ss << in.rdbuf();
  Proc p;
  p.err = ss.str();
  p.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : (WIFSIGNALED(rc) ? 128 + WTERMSIG(rc) : -1);
  return p;
}

/// Runs `soret ARGS` (a shell word list) to completion; stdout dropped, stderr captured.
inline Proc soret_run(const std::string& args, const std::filesystem::path& dir) { return soret_run_prefixed("", args, dir); }

/// Starts `soret ARGS...` in `dir` without waiting (stdout and stderr to dir/child.log).
inline pid_t soret_spawn(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  const std::string cmd = "cd '" + dir.string() + "' && exec " + std::string(SORET_BINARY);
  std::string full = cmd;
  for (const auto& a : args) full += " '" + a + "'";
  full += " >'" + (dir / "child.log").string() + "' 2>&1";
  std::vector<char*> argv{const_cast<char*>("/bin/sh"), const_cast<char*>("-c"), full.data(), nullptr};
  pid_t pid = -1;
  if (::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

/// Waits for a spawned process; exit status, or 128 + signal.
inline int soret_wait(pid_t pid) {
  int st = 0;
  if (::waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : (WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1);
}

/// Polls until `path` exists (true) or the process ended / `seconds` passed (false).
inline bool wait_for_file(const std::filesystem::path& path, pid_t pid, double seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
    if (std::filesystem::exists(path)) return true;
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) return std::filesystem::exists(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

namespace detail {
inline herr_t collect_names(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}
inline std::vector<std::string> all_objects(hid_t f) {
  std::vector<std::string> v;
  H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, collect_names, &v);
  std::sort(v.begin(), v.end());
  return v;
}
inline std::vector<unsigned char> raw(hid_t f, const std::string& name, std::string& shape) {
  h5::Handle ds(H5Dopen2(f, name.c_str(), H5P_DEFAULT), H5Dclose);
  h5::Handle sp(H5Dget_space(ds), H5Sclose);
  h5::Handle ft(H5Dget_type(ds), H5Tclose);
  const int rank = H5Sget_simple_extent_ndims(sp);
  std::vector<hsize_t> d(std::max(rank, 0));
  H5Sget_simple_extent_dims(sp, d.data(), nullptr);
  hsize_t n = 1;
  shape.clear();
  for (auto x : d) { n *= x; shape += std::to_string(x) + "x"; }
  h5::Handle mt(H5Tget_native_type(ft, H5T_DIR_ASCEND), H5Tclose);
  shape += "/" + std::to_string(H5Tget_class(ft)) + "/" + std::to_string(H5Tget_size(mt));
  std::vector<unsigned char> b(n * H5Tget_size(mt));
  if (!b.empty() && H5Tget_class(ft) != H5T_STRING) H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data());
  return b;
}
inline herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}
/// Path of the object an object reference points to.
inline std::string ref_name(hid_t loc, const hobj_ref_t* r) {
  char buf[1024] = {0};
  if (H5Rget_name(loc, H5R_OBJECT, r, buf, sizeof buf) < 0) return "<bad reference>";
  return buf;
}
/// Text of an attribute holding variable-length sequences of object references (DIMENSION_LIST)
/// or compounds with object references (REFERENCE_LIST): lengths, referenced paths, other bytes.
inline std::string ref_text(hid_t a, hid_t t, hid_t sp, std::size_t n) {
  std::string out;
  if (H5Tget_class(t) == H5T_VLEN) {
    h5::Handle super(H5Tget_super(t), H5Tclose);
    if (H5Tget_class(super) != H5T_REFERENCE) return "<vlen of another type>";
    h5::Handle mt(H5Tvlen_create(H5T_STD_REF_OBJ), H5Tclose);
    std::vector<hvl_t> v(n);
    if (n && H5Aread(a, mt, v.data()) < 0) return "<unreadable>";
    for (const auto& e : v) {
      out += "[" + std::to_string(e.len) + ":";
      for (std::size_t k = 0; k < e.len; ++k) out += " " + ref_name(a, static_cast<const hobj_ref_t*>(e.p) + k);
      out += "]";
    }
    if (n) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v.data());
    return out;
  }
  if (H5Tget_class(t) == H5T_COMPOUND) {
    h5::Handle mt(H5Tget_native_type(t, H5T_DIR_ASCEND), H5Tclose);
    const std::size_t size = H5Tget_size(mt);
    const int members = H5Tget_nmembers(mt);
    std::vector<unsigned char> b(n * size);
    if (n && H5Aread(a, mt, b.data()) < 0) return "<unreadable>";
    for (std::size_t i = 0; i < n; ++i)
      for (int m = 0; m < members; ++m) {
        h5::Handle mtype(H5Tget_member_type(mt, unsigned(m)), H5Tclose);
        const unsigned char* p = &b[i * size + H5Tget_member_offset(mt, unsigned(m))];
        if (H5Tget_class(mtype) == H5T_REFERENCE) out += " " + ref_name(a, reinterpret_cast<const hobj_ref_t*>(p));
        else out += " " + std::string(reinterpret_cast<const char*>(p), H5Tget_size(mtype));
      }
    return out;
  }
  return "<reference type>";
}
inline std::vector<std::pair<std::string, std::vector<unsigned char>>> attrs(hid_t obj) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &names);
  std::vector<std::pair<std::string, std::vector<unsigned char>>> out;
  for (const auto& n : names) {
    h5::Handle a(H5Aopen(obj, n.c_str(), H5P_DEFAULT), H5Aclose);
    h5::Handle t(H5Aget_type(a), H5Tclose);
    h5::Handle sp(H5Aget_space(a), H5Sclose);
    const hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    if (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tdetect_class(t, H5T_REFERENCE) > 0) {
      // Variable-length data and object references (dimension scales' DIMENSION_LIST and
      // REFERENCE_LIST) read as memory pointers and file addresses: compared by what they refer to.
      const std::string s = ref_text(a, t, sp, std::size_t(std::max<hssize_t>(cnt, 0)));
      out.emplace_back(n, std::vector<unsigned char>(s.begin(), s.end()));
      continue;
    }
    std::vector<unsigned char> b(std::size_t(std::max<hssize_t>(cnt, 0)) * H5Tget_size(t));
    if (!b.empty()) H5Aread(a, t, b.data());
    out.emplace_back(n, std::move(b));
  }
  return out;
}
}  // namespace detail

/// Differences between two HDF5 files: every dataset (shape, type, bytes) and every attribute,
/// except the attributes listed in `ignore` as "path@name" (e.g. "/run@seconds") or "@name" (any
/// object). Empty: identical.
inline std::vector<std::string> h5_differences(const std::string& a, const std::string& b,
                                               const std::set<std::string>& ignore = {}) {
  std::vector<std::string> out;
  h5::Handle fa = h5::open_file_read(a), fb = h5::open_file_read(b);
  const auto na = detail::all_objects(fa), nb = detail::all_objects(fb);
  if (na != nb) out.push_back("different objects");
  auto cmp_attrs = [&](hid_t oa, hid_t ob, const std::string& path) {
    auto aa = detail::attrs(oa), ab = detail::attrs(ob);
    auto keep = [&](auto& v) {
      v.erase(std::remove_if(v.begin(), v.end(), [&](const auto& p) {
                return ignore.count(path + "@" + p.first) || ignore.count("@" + p.first);
              }),
              v.end());
    };
    keep(aa);
    keep(ab);
    if (aa != ab) {
      std::string which;
      for (const auto& p : aa) {
        auto it = std::find_if(ab.begin(), ab.end(), [&](const auto& q) { return q.first == p.first; });
        if (it == ab.end() || it->second != p.second) which += " " + p.first;
      }
      out.push_back("attributes of " + path + ":" + which);
    }
  };
  cmp_attrs(fa, fb, "/");
  for (const auto& n : na) {
    if (std::find(nb.begin(), nb.end(), n) == nb.end()) continue;
    H5O_info_t info;
    H5Oget_info_by_name2(fa, n.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
    h5::Handle oa(H5Oopen(fa, n.c_str(), H5P_DEFAULT), H5Oclose), ob(H5Oopen(fb, n.c_str(), H5P_DEFAULT), H5Oclose);
    cmp_attrs(oa, ob, "/" + n);
    if (info.type != H5O_TYPE_DATASET) continue;
    std::string sa, sb;
    const auto ra = detail::raw(fa, n, sa), rb = detail::raw(fb, n, sb);
    if (sa != sb || ra != rb) out.push_back("dataset /" + n);
  }
  return out;
}

}  // namespace soret::test
