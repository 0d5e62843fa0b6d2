#include "soret/io/checkpoint.hpp"

#include <hdf5.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "soret/common/error.hpp"
#include "soret/version.hpp"

namespace soret::io {

namespace {

/// FNV-1a over 64-bit words (bytes for the tail), then a final avalanche: fast enough for
/// gigabyte states (a word per multiply), and any changed byte changes the hash.
class Hash {
 public:
  void add(const void* p, std::size_t n) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, b + i, 8);
      h_ = (h_ ^ w) * 0x100000001b3ull;
      h_ ^= h_ >> 29;
    }
    for (; i < n; ++i) h_ = (h_ ^ b[i]) * 0x100000001b3ull;
    add_len(n);
  }
  void add(const std::string& s) { add(s.data(), s.size()); }
  void add_u64(std::uint64_t v) { add(&v, sizeof v); }
  std::uint64_t value() const {
    std::uint64_t x = h_;
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
  }

 private:
  void add_len(std::uint64_t n) { h_ = (h_ ^ n) * 0x100000001b3ull; }
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};

void hash_dataset(hid_t file, const std::string& path, Hash& h) {
  h5::Handle ds(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.id() < 0) throw std::runtime_error("cannot open dataset " + path);
  h5::Handle space(H5Dget_space(ds), H5Sclose);
  h5::Handle ftype(H5Dget_type(ds), H5Tclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) throw std::runtime_error("bad dataspace of " + path);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  h.add(path);
  std::uint64_t n = 1;
  for (auto d : dims) { h.add_u64(d); n *= d; }
  const H5T_class_t cls = H5Tget_class(ftype);
  h.add_u64(std::uint64_t(cls));
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) return;  // checkpoints store numbers only
  h5::Handle mtype(H5Tget_native_type(ftype, H5T_DIR_ASCEND), H5Tclose);
  const std::size_t size = H5Tget_size(mtype);
  h.add_u64(size);
  if (n == 0) return;
  std::vector<unsigned char> buf(n * size);
  if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    throw std::runtime_error("cannot read dataset " + path);
  h.add(buf.data(), buf.size());
}

herr_t collect(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

}  // namespace

std::uint64_t checkpoint_checksum(hid_t file, const CheckpointHeader& hd) {
  std::vector<std::string> names;
  if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, collect, &names) < 0)
    throw std::runtime_error("cannot list the objects");
  std::sort(names.begin(), names.end());
  Hash h;
  h.add(hd.kind);
  h.add(hd.version);
  h.add(hd.options);
  h.add(hd.context);
  h.add_u64(hd.t);
  h.add_u64(std::uint64_t(kCheckpointFormat));
  for (const auto& n : names) {
    H5O_info_t info;
    if (H5Oget_info_by_name2(file, n.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
      throw std::runtime_error("cannot inspect " + n);
    if (info.type == H5O_TYPE_DATASET) hash_dataset(file, n, h);
    else h.add(n);
  }
  return h.value();
}

namespace {
std::string hex(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}
}  // namespace

void write_checkpoint_header(hid_t file, const CheckpointHeader& h) {
  h5::attr(file, "soret_checkpoint", h.kind);
  h5::attr(file, "format", kCheckpointFormat);
  h5::attr(file, "version", h.version.empty() ? std::string(soret::version) : h.version);
  h5::attr(file, "options", h.options);
  h5::attr(file, "context", h.context);
  h5::attr(file, "t", std::int64_t(h.t));
  CheckpointHeader c = h;
  if (c.version.empty()) c.version = soret::version;
  h5::attr(file, "checksum", hex(checkpoint_checksum(file, c)));
}

CheckpointHeader open_checkpoint(const std::string& path, const std::string& kind, h5::Handle& file,
                                 const std::string& option) {
  const std::string where = "--" + option + ": '" + path + "'";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw InputError(option, where + " does not exist");
  if (!S_ISREG(st.st_mode)) throw InputError(option, where + " is not a regular file");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw InputError(option, where + " is not an HDF5 file (truncated or corrupt?)");
  CheckpointHeader h;
  std::string sum;
  try {
    file = h5::open_file_read(path);
    if (!h5::attr_exists(file, "soret_checkpoint"))
      throw InputError(option, where + " is not a soret checkpoint (an output file? continue one with --init file:)");
    h.kind = h5::read_attr_string(file, "soret_checkpoint");
    if (h.kind != kind)
      throw InputError(option, where + " is a checkpoint of 'soret " + h.kind + "', not of 'soret " + kind + "'");
    for (const char* a : {"format", "version", "options", "context", "t", "checksum"})
      if (!h5::attr_exists(file, a)) throw InputError(option, where + " lacks the header attribute '" + a + "'");
    const std::int64_t fmt = h5::read_attr_int64(file, "format");
    if (fmt != kCheckpointFormat)
      throw InputError(option, where + " has checkpoint format " + std::to_string(fmt) + "; this soret reads format " +
                                   std::to_string(kCheckpointFormat));
    h.version = h5::read_attr_string(file, "version");
    h.options = h5::read_attr_string(file, "options");
    h.context = h5::read_attr_string(file, "context");
    const std::int64_t t = h5::read_attr_int64(file, "t");
    if (t < 0) throw InputError(option, where + " has a negative step t");
    h.t = std::uint64_t(t);
    sum = h5::read_attr_string(file, "checksum");
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(option, where + " cannot be read: " + e.what());
  }
  std::uint64_t actual = 0;
  try {
    actual = checkpoint_checksum(file, h);
  } catch (const std::exception& e) {
    throw InputError(option, where + " cannot be read: " + e.what());
  }
  if (hex(actual) != sum)
    throw InputError(option, where + " fails its checksum (stored " + sum + ", computed " + hex(actual) +
                                 "): corrupted or edited");
  return h;
}

namespace {
std::string with_suffix(const std::string& out, const std::string& suffix) {
  const auto slash = out.find_last_of('/');
  const auto dot = out.find_last_of('.');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash) && out.substr(dot) == ".h5")
    return out.substr(0, dot) + suffix + ".h5";
  return out + suffix + ".h5";
}
}  // namespace

std::string default_checkpoint_path(const std::string& out) { return with_suffix(out, ".checkpoint"); }
std::string partial_output_path(const std::string& out) { return with_suffix(out, ".partial"); }

}  // namespace soret::io
