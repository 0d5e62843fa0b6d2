#include "soret/io/hdf5.hpp"

#include "soret/common/mpi.hpp"

#include <hdf5_hl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "soret/common/error.hpp"
#include "soret/io/atomic_file.hpp"

namespace soret::h5 {

namespace {
void check(herr_t e, const std::string& what) {
  if (e < 0) throw std::runtime_error("HDF5: " + what);
}
hid_t checked(hid_t id, const std::string& what) {
  if (id < 0) throw std::runtime_error("HDF5: " + what);
  return id;
}
struct Silence {  // HDF5 prints its error stack by default; we report errors ourselves
  Silence() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
const Silence silence;

template <typename T>
void write_impl(hid_t loc, const std::string& name, const T* data, const std::vector<hsize_t>& dims, hid_t type,
                const std::string& unit, bool compress = true) {
  hsize_t n = 1;
  for (auto d : dims) n *= d;
  Handle space(checked(H5Screate_simple(int(dims.size()), dims.data(), nullptr), "dataspace " + name), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (compress && n >= 4096 && !dims.empty()) {
    std::vector<hsize_t> chunk(dims);
    // Chunks of about 64k elements, along the last dimensions.
    hsize_t total = 1;
    for (size_t i = chunk.size(); i-- > 0;) {
      chunk[i] = std::max<hsize_t>(1, std::min<hsize_t>(dims[i], 65536 / std::max<hsize_t>(total, 1)));
      total *= chunk[i];
    }
    check(H5Pset_chunk(dcpl, int(chunk.size()), chunk.data()), "chunk " + name);
    check(H5Pset_shuffle(dcpl), "shuffle " + name);
    check(H5Pset_deflate(dcpl, 1), "deflate " + name);  // level 1: most of level 4's gain at a third of its time
  }
  Handle ds(checked(H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), "create " + name),
            H5Dclose);
  if (n > 0) check(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + name);
  if (!unit.empty()) attr(ds, "unit", unit);
}

template <typename T>
std::vector<T> read_impl(hid_t loc, const std::string& name, hid_t type, std::vector<hsize_t>* dims) {
  Handle ds(checked(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "open " + name), H5Dclose);
  Handle space(H5Dget_space(ds), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> d(std::max(rank, 0));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  // The element count comes from the file: a corrupt shape must not become a huge allocation
  // (found by fuzz_readers). Checked against what the dataset stores: all of it when unfiltered,
  // at most ~1000x expansion when compressed (deflate's limit is 1032:1).
  hsize_t n = 1;
  bool overflow = false;
  for (auto x : d) {
    if (x != 0 && n > (hsize_t(1) << 62) / x) overflow = true;
    n *= x;
  }
  if (rank < 0 || overflow) throw std::runtime_error("HDF5: " + name + " has an impossible shape");
  if (n > 0) {
    Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
    const int filters = dcpl.id() >= 0 ? H5Pget_nfilters(dcpl) : 0;
    Handle ft(H5Dget_type(ds), H5Tclose);
    const double elem = double(std::max<size_t>(H5Tget_size(ft), 1));
    const double stored = double(H5Dget_storage_size(ds));
    const double limit = filters > 0 ? stored * 1100.0 + 1048576.0 : stored;
    if (double(n) * elem > limit)
      throw std::runtime_error("HDF5: " + name + " claims " + std::to_string(n) + " elements but stores " +
                               std::to_string(std::uint64_t(stored)) + " bytes (truncated or corrupt)");
  }
  std::vector<T> out(n);
  if (n > 0) check(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + name);
  if (dims) *dims = d;
  return out;
}
}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    close();
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = -1;
  }
  return *this;
}

void Handle::close() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = -1;
}

Handle create_file(const std::string& path) {
  return Handle(checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create " + path), H5Fclose);
}
Handle open_file_read(const std::string& path) {
  return Handle(checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + path), H5Fclose);
}
Handle create_group(hid_t loc, const std::string& name) {
  return Handle(checked(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group " + name), H5Gclose);
}
Handle open_group(hid_t loc, const std::string& name) {
  return Handle(checked(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), "open group " + name), H5Gclose);
}
bool exists(hid_t loc, const std::string& path) {
  // Check each component so that a missing parent is not an error.
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    const size_t next = path.find('/', pos + 1);
    cur = path.substr(0, next);
    if (!cur.empty() && cur != "/" && H5Lexists(loc, cur.c_str(), H5P_DEFAULT) <= 0) return false;
    pos = next;
  }
  return true;
}

void write(hid_t loc, const std::string& name, const std::vector<double>& v, const std::vector<hsize_t>& dims,
           const std::string& unit, bool compress) {
  write_impl(loc, name, v.data(), dims, H5T_NATIVE_DOUBLE, unit, compress);
}
void write_columns(hid_t loc, const std::string& name, const std::vector<std::vector<double>>& cols, hsize_t n,
                   const std::string& unit) {
  const hsize_t d = cols.size();
  if (d == 1 && cols[0].size() == n) {  // one column: the array as it is
    write_impl(loc, name, cols[0].data(), {n, 1}, H5T_NATIVE_DOUBLE, unit, false);
    return;
  }
  const hsize_t dims[2] = {n, d};
  Handle space(checked(H5Screate_simple(2, dims, nullptr), "dataspace " + name), H5Sclose);
  Handle ds(checked(H5Dcreate2(loc, name.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    "create " + name),
            H5Dclose);
  // Rows in slabs: each slab gathered from the columns into a small buffer, then one contiguous write.
  constexpr hsize_t kRows = 8192;
  std::vector<double> buf(std::size_t(kRows * d));
  for (hsize_t r0 = 0; r0 < n; r0 += kRows) {
    const hsize_t m = std::min(kRows, n - r0);
    for (hsize_t w = 0; w < m; ++w)
      for (hsize_t a = 0; a < d; ++a) buf[w * d + a] = cols[a][r0 + w];
    const hsize_t start[2] = {r0, 0}, count[2] = {m, d};
    Handle fs(H5Dget_space(ds), H5Sclose);
    check(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr), "select " + name);
    Handle ms(checked(H5Screate_simple(2, count, nullptr), "memspace " + name), H5Sclose);
    check(H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, buf.data()), "write " + name);
  }
  if (!unit.empty()) attr(ds, "unit", unit);
}

void write(hid_t loc, const std::string& name, const std::vector<std::uint64_t>& v, const std::vector<hsize_t>& dims,
           const std::string& unit) {
  write_impl(loc, name, v.data(), dims, H5T_NATIVE_UINT64, unit);
}
void write(hid_t loc, const std::string& name, const std::vector<std::int64_t>& v, const std::vector<hsize_t>& dims,
           const std::string& unit) {
  write_impl(loc, name, v.data(), dims, H5T_NATIVE_INT64, unit);
}
void write(hid_t loc, const std::string& name, const std::vector<std::uint8_t>& v, const std::vector<hsize_t>& dims,
           const std::string& unit) {
  write_impl(loc, name, v.data(), dims, H5T_NATIVE_UINT8, unit);
}

void describe(hid_t loc, const std::string& name, const std::string& unit, const std::string& description) {
  Handle d(checked(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "open " + name), H5Dclose);
  if (H5Aexists(d, "unit") <= 0) attr(d, "unit", unit.empty() ? std::string("1") : unit);
  if (H5Aexists(d, "description") > 0) H5Adelete(d, "description");
  attr(d, "description", description);
}

void index_scale(hid_t loc, const std::string& name, std::uint64_t n, const std::string& description) {
  std::vector<std::int64_t> ids(n);
  for (std::uint64_t i = 0; i < n; ++i) ids[i] = std::int64_t(i);
  write(loc, name, ids, {hsize_t(n)}, "1");
  describe(loc, name, "1", description);
  make_scale(loc, name, name);
}

void make_scale(hid_t loc, const std::string& name, const std::string& label) {
  Handle d(checked(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "open " + name), H5Dclose);
  check(H5DSset_scale(d, label.c_str()), "dimension scale " + name);
}

void attach_scale(hid_t loc, const std::string& name, int dim, const std::string& scale) {
  Handle d(checked(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "open " + name), H5Dclose);
  Handle s(checked(H5Dopen2(loc, scale.c_str(), H5P_DEFAULT), "open " + scale), H5Dclose);
  check(H5DSattach_scale(d, s, unsigned(dim)), "attach scale " + scale + " to " + name);
}

void attr(hid_t loc, const std::string& name, const std::string& v) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, std::max<size_t>(1, v.size()));
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  H5Tset_cset(type, H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(checked(H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "attr " + name), H5Aclose);
  const std::string s = v.empty() ? std::string(1, '\0') : v;
  check(H5Awrite(a, type, s.data()), "attr " + name);
}
void attr(hid_t loc, const std::string& name, double v) { attr(loc, name, std::vector<double>{v}); }
void attr(hid_t loc, const std::string& name, std::int64_t v) { attr(loc, name, std::vector<std::int64_t>{v}); }
void attr(hid_t loc, const std::string& name, const std::vector<double>& v) {
  const hsize_t n = v.size();
  Handle space(n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle a(checked(H5Acreate2(loc, name.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT), "attr " + name), H5Aclose);
  check(H5Awrite(a, H5T_NATIVE_DOUBLE, v.data()), "attr " + name);
}
void attr(hid_t loc, const std::string& name, const std::vector<std::int64_t>& v) {
  const hsize_t n = v.size();
  Handle space(n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle a(checked(H5Acreate2(loc, name.c_str(), H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT), "attr " + name), H5Aclose);
  check(H5Awrite(a, H5T_NATIVE_INT64, v.data()), "attr " + name);
}

std::vector<double> read_doubles(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_impl<double>(loc, name, H5T_NATIVE_DOUBLE, dims);
}
std::vector<std::uint64_t> read_u64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_impl<std::uint64_t>(loc, name, H5T_NATIVE_UINT64, dims);
}
std::vector<std::int64_t> read_i64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_impl<std::int64_t>(loc, name, H5T_NATIVE_INT64, dims);
}
std::vector<std::uint8_t> read_u8(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_impl<std::uint8_t>(loc, name, H5T_NATIVE_UINT8, dims);
}

std::string read_attr_string(hid_t loc, const std::string& name) {
  Handle a(checked(H5Aopen(loc, name.c_str(), H5P_DEFAULT), "attr " + name), H5Aclose);
  Handle type(H5Aget_type(a), H5Tclose);
  const size_t n = H5Tget_size(type);
  std::string s(n, '\0');
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem, n);
  H5Tset_strpad(mem, H5T_STR_NULLPAD);
  H5Tset_cset(mem, H5Tget_cset(type));  // (UTF-8 attributes: no charset conversion)
  check(H5Aread(a, mem, s.data()), "read attr " + name);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}
std::int64_t read_attr_int64(hid_t loc, const std::string& name) {
  Handle a(checked(H5Aopen(loc, name.c_str(), H5P_DEFAULT), "attr " + name), H5Aclose);
  std::int64_t v = 0;
  check(H5Aread(a, H5T_NATIVE_INT64, &v), "read attr " + name);
  return v;
}

bool attr_exists(hid_t loc, const std::string& name) { return H5Aexists(loc, name.c_str()) > 0; }

double read_attr_double(hid_t loc, const std::string& name) {
  Handle a(checked(H5Aopen(loc, name.c_str(), H5P_DEFAULT), "attr " + name), H5Aclose);
  double v = 0;
  check(H5Aread(a, H5T_NATIVE_DOUBLE, &v), "read attr " + name);
  return v;
}

/// The memory of an AtomicFile's in-memory HDF5 file. The core driver grows its buffer through
/// these callbacks (H5Pset_file_image_callbacks): page-aligned anonymous mappings, grown with
/// mremap (no copy), so that prepare() writes the image from where HDF5 built it, page-aligned
/// (io::AtomicOutput's direct path), instead of copying it out with H5Fget_file_image first.
struct AtomicFile::Image {
  void* mem = nullptr;
  std::size_t mapped = 0;  // bytes mapped (pages)
  std::size_t size = 0;    // bytes HDF5 asked for (the core driver's end of file)

  static std::size_t pages(std::size_t n) { return (std::max<std::size_t>(n, 1) + 4095) / 4096 * 4096; }
  void* resize(void* ptr, std::size_t n) {
    if (ptr != mem) return nullptr;  // not ours: HDF5 reports the failed allocation
    const std::size_t m = pages(n);
    void* p = mem ? ::mremap(mem, mapped, m, MREMAP_MAYMOVE)
                  : ::mmap(nullptr, m, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    // (No huge-page advice: after a long run its faults compacted memory; the output of a 2M-walker
    // run took 0.07-0.08 s with it, 0.05 s without, interleaved.)
    if (p == MAP_FAILED) return nullptr;
    mem = p;
    mapped = m;
    size = n;
    return p;
  }
  void release() {
    if (mem) ::munmap(mem, mapped);
    mem = nullptr;
    mapped = size = 0;
  }
  ~Image() { release(); }

  static void* cb_malloc(size_t n, H5FD_file_image_op_t, void* ud) {
    auto* im = static_cast<Image*>(ud);
    return im->mem ? nullptr : im->resize(nullptr, n);
  }
  static void* cb_memcpy(void* dst, const void* src, size_t n, H5FD_file_image_op_t, void*) {
    return std::memcpy(dst, src, n);
  }
  static void* cb_realloc(void* ptr, size_t n, H5FD_file_image_op_t, void* ud) {
    return static_cast<Image*>(ud)->resize(ptr, n);
  }
  static herr_t cb_free(void* ptr, H5FD_file_image_op_t, void* ud) {
    auto* im = static_cast<Image*>(ud);
    if (ptr && ptr == im->mem) im->release();
    return 0;
  }
  static void* cb_udata_copy(void* ud) { return ud; }  // one Image per file, shared by the property lists
  static herr_t cb_udata_free(void*) { return 0; }
};

AtomicFile::AtomicFile(std::string path, std::string option)
    : out_(std::make_unique<io::AtomicOutput>(std::move(path), std::move(option))), image_(std::make_unique<Image>()) {
  // The file is built in memory (core driver, no backing store): HDF5 never writes to disk, so a
  // full disk cannot leave HDF5 with a half-written file to flush at exit; commit() writes the
  // image through AtomicOutput, which checks every write.
  Handle fapl(checked(H5Pcreate(H5P_FILE_ACCESS), "file access list"), H5Pclose);
  check(H5Pset_fapl_core(fapl, 1 << 20, 0), "core driver");
  H5FD_file_image_callbacks_t cb{&Image::cb_malloc,     &Image::cb_memcpy,     &Image::cb_realloc, &Image::cb_free,
                                 &Image::cb_udata_copy, &Image::cb_udata_free, image_.get()};
  check(H5Pset_file_image_callbacks(fapl, &cb), "file image callbacks");
  // (A discarded output, on an MPI rank other than 0, has no temporary: a name that is never a file.)
  const std::string name = out_->temp_path().empty() ? out_->path() + ".discarded-on-rank-" + std::to_string(mpi::rank())
                                                     : out_->temp_path();
  const hid_t id = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (id < 0) throw std::runtime_error("HDF5: cannot create an in-memory file for '" + out_->path() + "'");
  file_ = Handle(id, H5Fclose);
}

AtomicFile::~AtomicFile() = default;

void AtomicFile::commit() {
  prepare();
  publish();
}

void AtomicFile::publish() {
  prepare();
  out_->publish();
}

void AtomicFile::prepare() {
  if (file_.id() < 0) return;  // done already
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flush " + out_->path());
  // The image is the file's first `n` bytes (its end of allocation): what the core driver holds,
  // and zeros beyond what it holds (as H5Fget_file_image would read them).
  const ssize_t n = H5Fget_file_image(file_, nullptr, 0);
  if (n < 0 || !image_->mem) throw std::runtime_error("HDF5: file image of " + out_->path());
  const std::size_t held = std::min(std::size_t(n), image_->size);
  out_->write(image_->mem, held);
  if (std::size_t(n) > held) out_->write(std::string(std::size_t(n) - held, '\0'));
  file_.close();
  out_->prepare();
}

}  // namespace soret::h5
