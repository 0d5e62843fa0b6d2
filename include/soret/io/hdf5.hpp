#pragma once
// A thin RAII layer over the HDF5 C API: files, groups, datasets (chunked and deflate-compressed
// when large) and attributes. Errors become std::runtime_error.
#include <hdf5.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace soret::io {
class AtomicOutput;
}

namespace soret::h5 {

class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { close(); }
  void close();
  hid_t id() const { return id_; }
  operator hid_t() const { return id_; }

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

Handle create_file(const std::string& path);   ///< truncates
Handle open_file_read(const std::string& path);
Handle create_group(hid_t loc, const std::string& name);
Handle open_group(hid_t loc, const std::string& name);
bool exists(hid_t loc, const std::string& path);

/// Writes an n-dimensional dataset; compresses (chunked, shuffle + deflate 1) when it has >= 4096 elements,
/// unless `compress` is false (data that does not compress, such as random positions).
void write(hid_t loc, const std::string& name, const std::vector<double>& v, const std::vector<hsize_t>& dims,
           const std::string& unit = "", bool compress = true);
void write(hid_t loc, const std::string& name, const std::vector<std::uint64_t>& v, const std::vector<hsize_t>& dims,
           const std::string& unit = "");
void write(hid_t loc, const std::string& name, const std::vector<std::int64_t>& v, const std::vector<hsize_t>& dims,
           const std::string& unit = "");
void write(hid_t loc, const std::string& name, const std::vector<std::uint8_t>& v, const std::vector<hsize_t>& dims,
           const std::string& unit = "");

/// Writes an n x cols.size() float64 dataset (contiguous, uncompressed) whose column c is cols[c].
void write_columns(hid_t loc, const std::string& name, const std::vector<std::vector<double>>& cols, hsize_t n,
                   const std::string& unit = "");

void attr(hid_t loc, const std::string& name, const std::string& v);
void attr(hid_t loc, const std::string& name, double v);
void attr(hid_t loc, const std::string& name, std::int64_t v);
void attr(hid_t loc, const std::string& name, const std::vector<double>& v);
void attr(hid_t loc, const std::string& name, const std::vector<std::int64_t>& v);

/// Sets the `description` attribute of dataset `name` under loc, and its `unit` attribute when the
/// write did not ("1" for a dimensionless quantity), so that every dataset says what it holds.
void describe(hid_t loc, const std::string& name, const std::string& unit, const std::string& description);
/// Writes the index axis 0 .. n-1 as dataset `name` (int64, unit "1", `description`) and makes it a
/// dimension scale labelled `name`.
void index_scale(hid_t loc, const std::string& name, std::uint64_t n, const std::string& description);
/// Makes dataset `name` under loc an HDF5 dimension scale (H5DS) labelled `label`.
void make_scale(hid_t loc, const std::string& name, const std::string& label);
/// Attaches the dimension scale at path `scale` (relative to loc) to dimension `dim` of dataset `name`.
void attach_scale(hid_t loc, const std::string& name, int dim, const std::string& scale);

std::vector<double> read_doubles(hid_t loc, const std::string& name, std::vector<hsize_t>* dims = nullptr);
std::vector<std::uint64_t> read_u64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims = nullptr);
std::vector<std::int64_t> read_i64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims = nullptr);
std::vector<std::uint8_t> read_u8(hid_t loc, const std::string& name, std::vector<hsize_t>* dims = nullptr);
std::string read_attr_string(hid_t loc, const std::string& name);
double read_attr_double(hid_t loc, const std::string& name);
std::int64_t read_attr_int64(hid_t loc, const std::string& name);
bool attr_exists(hid_t loc, const std::string& name);

/// An HDF5 output file written atomically: built in memory (HDF5 core driver), then written
/// through io::AtomicOutput at commit() (exclusive temporary next to PATH, every write checked,
/// fsync, rename, directory fsync; see io/atomic_file.hpp). If never committed, nothing appears
/// under PATH and the previous file there is untouched. Peak memory: about the file size (the
/// image is written from the memory HDF5 built it in).
class AtomicFile {
 public:
  /// Throws InputError(option, ...) if no file can be created at PATH (checked at once).
  explicit AtomicFile(std::string path, std::string option = "out");
  ~AtomicFile();
  hid_t id() const { return file_.id(); }
  void commit();   ///< prepare() + publish(); throws io::IoError on a failed write (disk full ...)
  void prepare();  ///< closes the HDF5 file and writes it to the temporary (io::AtomicOutput::prepare)
  void publish();  ///< renames it into place (io::AtomicOutput::publish)

 private:
  struct Image;  // the in-memory file's pages (hdf5.cpp)
  std::unique_ptr<io::AtomicOutput> out_;
  std::unique_ptr<Image> image_;  // (declared before file_: outlives the HDF5 file that uses it)
  Handle file_;
};

}  // namespace soret::h5
