// Fuzz target: the file readers. Byte 0 picks one: an HDF5 file for --init file: (read, then
// validated against a 1-D run on [0, 1)), a walk checkpoint for --restart (header, checksum,
// shapes and values), or a Fashion-MNIST IDX pair (images and labels, gzip
// compressed by the target or, for odd bytes, written raw to exercise the gzip checks).
// Bad files must be InputErrors naming the file; anything else is a finding. (A crash inside
// libhdf5 on a corrupt file is a finding against HDF5; see fuzz/run.sh.)
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "soret/common/error.hpp"
#include "soret/io/walk_output.hpp"
#include "soret/io/walk_state.hpp"
#include "soret/net/dataset.hpp"
#include "soret/walk/init.hpp"
#include "soret/walk/model.hpp"

using namespace soret;
namespace fs = std::filesystem;

namespace {

void write_raw(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f) return;
  if (!bytes.empty()) gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const fs::path dir = fs::temp_directory_path() / ("soret-fuzz-readers-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    if (data[0] % 4 == 2) {
      const std::string path = (dir / "ck.h5").string();
      write_raw(path, body);
      (void)io::read_walk_state(path, nullptr);
    } else if (data[0] % 2 == 0) {
      const std::string path = (dir / "in.h5").string();
      write_raw(path, body);
      const auto s = read_stored_ensemble(path);
      validate_stored_ensemble(s, walk_1d("1", 0.01, Boundary::periodic, 0.0, 1.0));
    } else {
      const auto half = body.size() / 2;
      const std::string images = body.substr(0, half), labels = body.substr(half);
      const std::string ip = (dir / "t10k-images-idx3-ubyte.gz").string(), lp = (dir / "t10k-labels-idx1-ubyte.gz").string();
      if (data[0] % 4 == 1) {
        write_gz(ip, images);
        write_gz(lp, labels);
      } else {
        write_raw(ip, images);
        write_raw(lp, labels);
      }
      (void)net::read_fashion_mnist(dir.string(), "test", 10);
    }
  } catch (const InputError&) {
  }
  return 0;
}
